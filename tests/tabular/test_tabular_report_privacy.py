"""Privacy measures of the table report: copies are caught, fresh rows are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganforge.privacy.distances import nearest
from ganforge.privacy.membership import black_box
from ganforge.tabular.report.privacy import Encoding, Measures, exact_copy_rate, privacy

MEASURES = Measures(nearest=nearest, black_box=black_box)
KINDS = {"id": "id", "x": "numeric", "y": "numeric", "c": "categorical", "b": "boolean"}


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": np.arange(n) + 1000 * seed, "x": rng.normal(size=n), "y": rng.uniform(0, 5, n),
                         "c": rng.choice(list("abcd"), n), "b": rng.random(n) < 0.3})


def test_identical_pair_is_all_copies():
    real = _table(300, 0)
    p = privacy(real, real, KINDS, MEASURES)
    assert p["exact_copy_rate"] == 1.0
    assert p["dcr_median_synthetic"] == 0.0 and p["dcr_baseline_protection"] == 0.0
    assert p["membership"] is None and "--holdout" in p["without_holdout"]


def test_exact_copies_ignore_ids_and_number_spelling():
    real = _table(50, 0)
    syn = real.copy()
    syn["id"] = syn["id"] + 10_000  # regenerated IDs do not hide a copied row
    syn.loc[:24, "x"] += 1.0
    assert exact_copy_rate(real, syn, KINDS) == pytest.approx(0.5)
    as_int = pd.DataFrame({"v": [1, 2]})
    as_float = pd.DataFrame({"v": [1.0, 2.5]})
    assert exact_copy_rate(as_int, as_float, {"v": "numeric"}) == pytest.approx(0.5)


def test_integer_codes_read_as_floats_are_copies_of_their_rows():
    real = _table(300, 0).assign(g=lambda t: np.arange(len(t)) % 3 + 1)
    syn = real.astype({"g": float})
    syn.loc[5, "g"] = np.nan  # one blank cell: pandas reads the column as floats (1.0, 2.0, ...)
    kinds = {**KINDS, "g": "categorical"}
    assert exact_copy_rate(real, syn, kinds) == pytest.approx(299 / 300)
    enc = Encoding(real, kinds)
    np.testing.assert_array_equal(enc.encode(syn.drop(index=5)), enc.encode(real.drop(index=5)))
    assert privacy(real, syn, kinds, MEASURES)["dcr_baseline_protection"] == 0.0


def test_encoding_scales_by_the_real_range_and_one_hots_categories():
    real = pd.DataFrame({"x": [0.0, 10.0, np.nan], "c": ["a", "b", "a"]})
    enc = Encoding(real, {"x": "numeric", "c": "categorical"})
    x = enc.encode(pd.DataFrame({"x": [5.0, np.nan], "c": ["b", "z"]}))
    # x scaled (0.5), its null indicator, then one-hot over a (most frequent) and b; unseen z is all zeros
    np.testing.assert_allclose(x, [[0.5, 0, 0, 1], [0, 1, 0, 0]])


def test_fresh_rows_against_copied_rows():
    train, holdout, fresh = _table(400, 0), _table(400, 1), _table(400, 2)
    independent = privacy(train, fresh, KINDS, MEASURES, holdout=holdout)
    copied = privacy(train, train.sample(400, replace=True, random_state=0), KINDS, MEASURES, holdout=holdout)
    assert independent["exact_copy_rate"] == 0.0 and copied["exact_copy_rate"] == 1.0
    assert 0.4 < independent["closer_to_train_share"] < 0.6  # 0.5 is what independent rows give
    assert copied["closer_to_train_share"] > 0.95
    assert abs(independent["membership"]["auroc"] - 0.5) < 0.07
    assert copied["membership"]["auroc"] > 0.75  # the copied members sit at distance 0 from a sample
    assert independent["dcr_baseline_protection"] > copied["dcr_baseline_protection"]
