"""The conditional vector: it names the conditioned category, its rows have it, and rare categories are
asked for by log frequency (measured against their raw share)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import ConfigError
from ganforge.tabular.columns import infer_columns
from ganforge.tabular.conditional import ConditionalSampler
from ganforge.tabular.transform import TableTransformer


def _sampler(df, **kw):
    t = TableTransformer().fit(df, infer_columns(df), seed=0)
    x = t.transform(df)
    return ConditionalSampler(x, t, **kw), x, t


def _skewed(n_common=900, n_mid=90, n_rare=10):
    rng = np.random.default_rng(0)
    n = n_common + n_mid + n_rare
    colour = np.array(["red"] * n_common + ["green"] * n_mid + ["blue"] * n_rare)
    return pd.DataFrame({"colour": colour, "size": rng.normal(0, 1, n)})


def test_the_rows_of_a_condition_have_its_category(table):
    cs, x, t = _sampler(table)
    cond, mask, rows = cs.sample_train(5000, np.random.default_rng(0))
    assert cond.shape == (5000, cs.cond_dim) and mask.shape == (5000, len(t.discrete_spans))
    assert (cond.sum(1) == 1).all() and (mask.sum(1) == 1).all()
    for j, span in enumerate(cs.spans):
        picked = mask[:, j] == 1
        asked = cond[picked, cs.offsets[j]:cs.offsets[j] + span.width].argmax(1)
        had = x[rows[picked], span.start:span.start + span.width].argmax(1)
        assert picked.any() and (asked == had).all(), span.column  # the real row has the asked-for category
        other = np.delete(np.arange(cs.cond_dim), np.arange(cs.offsets[j], cs.offsets[j] + span.width))
        assert (cond[np.ix_(picked, other)] == 0).all()  # and nothing else is switched on


def test_condition_picks_the_named_category(table):
    cs, x, t = _sampler(table)
    cond = cs.condition("city", "Hull", 7)
    j = [s.column for s in cs.spans].index("city")
    slot = t.cats["city"].keys.index("Hull")
    assert cond.shape == (7, cs.cond_dim) and (cond.sum(1) == 1).all()
    assert (cond[:, cs.offsets[j] + slot] == 1).all()
    decoded = t.cats["city"].values[slot]
    assert decoded == "Hull"


def test_bad_conditions_are_one_line_naming_the_valid_values(table):
    cs, _, _ = _sampler(table)
    with pytest.raises(ConfigError) as err:
        cs.condition("city", "Atlantis", 1)
    assert "Leeds" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="'age' is not a categorical column"):
        cs.condition("age", "30", 1)


def test_log_frequency_favours_rare_categories():
    df = _skewed()
    n = 40_000
    cs, _, _ = _sampler(df)
    cond, _, _ = cs.sample_train(n, np.random.default_rng(0))
    rare_slot = cs.transformer.cats["colour"].keys.index("blue")
    share = cond[:, rare_slot].mean()
    expected = np.log1p(10) / (np.log1p(900) + np.log1p(90) + np.log1p(10))  # ~0.175, against a raw 0.01
    assert abs(share - expected) < 0.01
    raw, _, _ = _sampler(df, log_frequency=False)
    cond_raw, _, _ = raw.sample_train(n, np.random.default_rng(0))
    assert abs(cond_raw[:, rare_slot].mean() - 0.01) < 0.003
    original = cs.sample_original(n, np.random.default_rng(1))
    assert abs(original[:, rare_slot].mean() - 0.01) < 0.003  # unconditional sampling: the real frequency


def test_no_discrete_column_means_no_condition():
    df = pd.DataFrame({"a": np.linspace(0, 1, 50), "b": np.linspace(1, 3, 50) ** 2})
    cs, _, _ = _sampler(df)
    cond, mask, rows = cs.sample_train(10, np.random.default_rng(0))
    assert cs.cond_dim == 0 and cond.shape == (10, 0) and mask.shape == (10, 0)
    assert ((rows >= 0) & (rows < 50)).all()
