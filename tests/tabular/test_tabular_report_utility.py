"""Utility: the fixed model learns a label from real rows, and fails from rows whose label was scrambled."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import DataError
from ganforge.privacy.distances import nearest
from ganforge.privacy.membership import black_box
from ganforge.tabular.report import Measures, build, summary
from ganforge.tabular.report.html import render
from ganforge.tabular.report.utility import check_target, default_target, utility

KINDS = {"x": "numeric", "colour": "categorical", "label": "categorical"}


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "colour": rng.choice(["red", "blue"], n), "label": np.where(x > 0, "yes", "no")})


def test_tstr_follows_what_the_synthetic_rows_teach():
    real, holdout = _table(400, 0), _table(200, 1)
    good = utility(real, _table(400, 2), KINDS, "label", holdout=holdout)
    scrambled = _table(400, 3).assign(label=lambda t: np.random.default_rng(4).permutation(t.label.to_numpy()))
    bad = utility(real, scrambled, KINDS, "label", holdout=holdout)
    assert good["trtr"]["accuracy"] > 0.95 and good["tstr"]["accuracy"] > 0.95
    assert bad["tstr"]["accuracy"] < 0.7
    assert good["test_rows"] == 200 and "holdout" in good["protocol"]


def test_without_holdout_a_split_of_real_never_overlaps_training():
    real = _table(100, 0)
    u = utility(real, _table(100, 2), KINDS, "label")
    assert u["test_rows"] == 30 and u["trtr"]["train_rows"] == 70 and "optimistic" in u["protocol"]


def test_one_class_synthetic_predicts_it_and_says_so():
    real, syn = _table(200, 0), _table(200, 1).assign(label="yes")
    u = utility(real, syn, KINDS, "label")
    assert "one class" in u["tstr"]["note"] and u["tstr"]["accuracy"] < 0.7


def test_integer_classes_read_as_floats_are_the_same_classes():
    real = _table(400, 0).assign(label=lambda t: np.where(t.x > 0, 1, 2))
    syn = _table(400, 2).assign(label=lambda t: np.where(t.x > 0, 1.0, 2.0))
    syn.loc[7, "label"] = np.nan  # one blank cell: pandas reads the codes as 1.0 and 2.0
    u = utility(real, syn, KINDS, "label", holdout=_table(200, 1).assign(label=lambda t: np.where(t.x > 0, 1, 2)))
    assert u["tstr"]["accuracy"] > 0.95  # "1.0" is class "1", not a class the test rows never hold


def _many_classes(n: int, seed: int) -> pd.DataFrame:
    return _table(n, seed).assign(label=[f"c{i % 150}" for i in range(n)])


def test_many_classes_are_one_note_not_a_scikit_learn_warning():
    real, syn = _many_classes(300, 0), _many_classes(300, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = build(real, syn, KINDS, Measures(nearest=nearest, black_box=black_box), target="label")
    assert not [w for w in caught if "unique classes" in str(w.message)]
    u = report["utility"]
    assert "135 classes over 210 real training rows" in u["note"] and "unreliable" in u["note"]
    assert "note" not in u["trtr"] and "note" not in u["tstr"]  # said once, for the section
    assert [line for line in summary(report).splitlines() if "unreliable" in line] == [f"  note: {u['note']}"]
    assert "unreliable" in render(report, None, None)
    assert "note" not in utility(_table(300, 0), _table(300, 1), KINDS, "label")  # two classes: no note


def test_target_choice_and_refusals(one_line):
    assert default_target(KINDS) == "label"
    assert default_target({"a": "numeric", "b": "boolean"}) == "b"
    assert check_target(None, KINDS) == "label"
    with pytest.raises(DataError, match="numeric column") as e:
        check_target("x", KINDS)
    one_line(e)
    with pytest.raises(DataError, match="not a column"):
        check_target("nope", KINDS)
    with pytest.raises(DataError, match="--target"):
        check_target(None, {"a": "numeric"})
