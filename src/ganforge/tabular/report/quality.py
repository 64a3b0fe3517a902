"""How faithful a synthetic table is, column by column and pair by pair: SDMetrics' quality score.

The definitions are those of SDMetrics 0.32's single-table ``QualityReport`` (MIT licensed; read to
learn them, the code here is ours), so that our figure can be set beside the one SDV users know. The
cross-check on SDMetrics' own demo pair is a test (``tests/tabular/test_tabular_report_quality.py``):
77.67% overall, 85.11% column shapes, 70.23% column-pair trends.

* **Column shapes**: numeric and datetime columns by the KS complement, 1 - the two-sample
  Kolmogorov-Smirnov statistic; categorical and boolean columns by the TV complement, 1 - half the
  L1 distance between the category frequencies. Nulls are left out of both (as SDMetrics does).
* **Column-pair trends**: two continuous columns by the correlation similarity
  ``1 - |r_real - r_syn| / 2`` (Pearson, rows with a null in either column left out); any other pair
  by the contingency similarity ``1 - TV`` of the two columns' joint frequencies, a continuous column
  binned first and nulls kept as a value of their own.
* **Which pairs count**: SDMetrics 0.32 averages only the pairs that are related in the real table:
  |r_real| > 0.5 for two continuous columns, Cramér's V of the real contingency table > 0.3 otherwise.
  Every pair is still scored and reported, with ``counted`` saying whether it is in the average, and
  the mean over all pairs is reported too (``column_pair_trends_all_pairs``).
* **Binning, as SDMetrics does it**: each table's continuous column is cut into 10 equal-width bins
  over *that table's own* range (``np.histogram_bin_edges``), and ``np.digitize`` puts a null and the
  column's maximum in the same overflow bin. That looks like an accident, but it moves the demo pair's
  pair score by 2.7 points (nulls in a bin of their own give 67.6% instead of 70.2%, because Cramér's V
  then lets other pairs in), so to agree with SDMetrics we keep it and say so here.
* **Overall** = the mean of the two property scores.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd

CONTINUOUS = ("numeric", "datetime")  # scored by KS and Pearson; binned in mixed pairs
DISCRETE = ("categorical", "boolean")  # scored by TV and contingency tables
# SDMetrics' QualityReport thresholds (0.32): a pair counts only when the real table relates its columns.
REAL_CORRELATION_THRESHOLD = 0.5
REAL_ASSOCIATION_THRESHOLD = 0.3
BINS = 10  # np.histogram_bin_edges' default, which SDMetrics uses for continuous columns in mixed pairs
# KS on values read from text: rounding to 14 significant decimals (as SDMetrics does) keeps float noise
# such as 0.1 + 0.2 from splitting equal values.
KS_DECIMALS = 14
PROTOCOL = ("sdmetrics-0.32 QualityReport: KS/TV complement per column; correlation/contingency similarity "
            "per pair, counted when |r_real|>0.5 or Cramer's V_real>0.3; 10 equal-width bins per table")


def _parsed(column: pd.Series) -> pd.Series:
    """Datetime text parsed value by value; text with UTC offsets (2020-01-01 00:00:00+01:00), in one offset or
    several, in UTC (pandas refuses mixed offsets unless asked for UTC)."""
    try:
        return pd.to_datetime(column, errors="coerce", format="mixed")
    except ValueError:  # mixed offsets
        return pd.to_datetime(column, errors="coerce", format="mixed", utc=True)


def numeric_values(column: pd.Series, kind: str) -> pd.Series:
    """A continuous column as float64 (datetimes as nanoseconds since 1970), nulls as NaN."""
    if kind == "datetime":
        stamps = column if pd.api.types.is_datetime64_any_dtype(column) else _parsed(column)
        if getattr(stamps.dtype, "tz", None) is not None:  # zone-aware: compared in UTC
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        values = stamps.astype("datetime64[ns]").astype("int64").astype(np.float64)
        values[stamps.isna().to_numpy()] = np.nan
        return pd.Series(values, index=column.index)
    return pd.to_numeric(column, errors="coerce").astype(np.float64)


def _value_text(value) -> str:
    """One category's text: a float that is a whole number as its integer (1.0 -> "1"), any other value as str."""
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def category_text(column: pd.Series) -> pd.Series:
    """A discrete column as the text of its categories, nulls as None, index kept: the one form every measure of
    the report (TV, contingency tables, exact copies, one-hot, utility labels, overlap) compares categories in.
    pandas reads an integer column with a blank cell as floats, so grade 1 is 1 in one table and 1.0 in another;
    a whole-number float is therefore written as its integer, so both read "1" and stay the same category."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    texts = np.array([_value_text(u) for u in uniques] + [None], dtype=object)  # code -1 (a null) -> None
    return pd.Series(texts[codes], index=column.index, dtype=object)


def ks_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """1 - the KS statistic between two numeric samples, nulls left out; NaN when either is all null."""
    # imported here, on first use: every ganforge command imports this module (plotting.py)
    from scipy.stats import ks_2samp

    a, b = real.dropna().round(KS_DECIMALS), synthetic.dropna().round(KS_DECIMALS)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(1.0 - ks_2samp(a.to_numpy(), b.to_numpy()).statistic)


def _frequencies(values: pd.Series | pd.DataFrame) -> pd.Series:
    if isinstance(values, pd.DataFrame):
        counts = values.groupby(list(values.columns), dropna=False).size()
    else:
        counts = values.value_counts(dropna=False)
    return counts / counts.sum()


def total_variation(real, synthetic) -> float:
    """Half the L1 distance between two frequency tables (values absent from one count as 0 there)."""
    p, q = _frequencies(real), _frequencies(synthetic)
    index = p.index.union(q.index)
    return float(0.5 * (p.reindex(index, fill_value=0) - q.reindex(index, fill_value=0)).abs().sum())


def tv_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """1 - TV between the category frequencies of two columns, nulls left out."""
    a, b = category_text(real).dropna(), category_text(synthetic).dropna()
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return 1.0 - total_variation(a, b)


def correlation_similarity(real: pd.DataFrame, synthetic: pd.DataFrame) -> tuple[float, float, float]:
    """(1 - |r_real - r_syn| / 2, r_real, r_syn) for two numeric columns, Pearson on rows without nulls."""
    r = _pearson(real.dropna())
    s = _pearson(synthetic.dropna())
    score = 1.0 - abs(r - s) / 2.0 if np.isfinite(r) and np.isfinite(s) else float("nan")
    return score, r, s


def _pearson(pair: pd.DataFrame) -> float:
    x, y = pair.iloc[:, 0].to_numpy(np.float64), pair.iloc[:, 1].to_numpy(np.float64)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")  # a constant column has no correlation (SDMetrics: no score)
    return float(np.corrcoef(x, y)[0, 1])


def contingency_similarity(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """1 - TV between the joint frequencies of two discrete columns (nulls are a value of their own)."""
    return 1.0 - total_variation(real, synthetic)


def cramers_v(pair: pd.DataFrame) -> float:
    """Cramér's V (no bias correction) of two discrete columns' contingency table; NaN when one is constant."""
    # imported here, on first use: every ganforge command imports this module (plotting.py); scipy.stats ~0.8 s
    from scipy.stats.contingency import association

    table = pair.groupby(list(pair.columns), dropna=False).size().unstack(fill_value=0)
    if table.to_numpy().sum() == 0 or min(table.shape) < 2:
        return float("nan")
    return float(association(table.to_numpy(), method="cramer"))


def binned(values: pd.Series) -> pd.Series:
    """SDMetrics' binning of a continuous column: 10 equal-width bins over its own non-null range, by
    ``np.digitize`` (so the maximum and the nulls both land in the overflow bin, see the module notes)."""
    v = values.to_numpy(np.float64)
    present = v[~np.isnan(v)]
    if len(present) == 0:
        return pd.Series(np.zeros(len(v), np.int64), index=values.index)
    return pd.Series(np.digitize(v, np.histogram_bin_edges(present, bins=BINS)), index=values.index)


def _prepared(df: pd.DataFrame, kinds: Mapping[str, str]) -> tuple[dict, dict]:
    """Each scored column in the form its metrics read: continuous as float, discrete as text, and the
    binned form of each continuous column for mixed pairs."""
    values, bins = {}, {}
    for name, kind in kinds.items():
        if kind in CONTINUOUS:
            values[name] = numeric_values(df[name], kind).reset_index(drop=True)
            bins[name] = binned(values[name])
        elif kind in DISCRETE:
            values[name] = category_text(df[name]).reset_index(drop=True)
    return values, bins


def column_shapes(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str]) -> list[dict]:
    """One entry per scored column: its metric and score."""
    rv, _ = _prepared(real, kinds)
    sv, _ = _prepared(synthetic, kinds)
    out = []
    for name in rv:
        if kinds[name] in CONTINUOUS:
            out.append({"column": name, "kind": kinds[name], "metric": "KSComplement",
                        "score": ks_complement(rv[name], sv[name])})
        else:
            out.append({"column": name, "kind": kinds[name], "metric": "TVComplement",
                        "score": tv_complement(rv[name], sv[name])})
    return out


def column_pair_trends(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str]) -> list[dict]:
    """One entry per pair of scored columns: metric, score, the real relation and whether it counts."""
    rv, rb = _prepared(real, kinds)
    sv, sb = _prepared(synthetic, kinds)
    out = []
    for a, b in itertools.combinations(list(rv), 2):
        ca, cb = kinds[a] in CONTINUOUS, kinds[b] in CONTINUOUS
        entry: dict = {"columns": [a, b]}
        if ca and cb:
            score, r, s = correlation_similarity(pd.concat([rv[a], rv[b]], axis=1),
                                                 pd.concat([sv[a], sv[b]], axis=1))
            entry.update(metric="CorrelationSimilarity", score=score, real_correlation=r, synthetic_correlation=s,
                         counted=bool(np.isfinite(r) and abs(r) > REAL_CORRELATION_THRESHOLD))
        else:
            real_pair = pd.concat([rb[a] if ca else rv[a], rb[b] if cb else rv[b]], axis=1, keys=[a, b])
            syn_pair = pd.concat([sb[a] if ca else sv[a], sb[b] if cb else sv[b]], axis=1, keys=[a, b])
            v = cramers_v(real_pair)
            entry.update(metric="ContingencySimilarity", score=contingency_similarity(real_pair, syn_pair),
                         real_cramers_v=v, counted=bool(np.isfinite(v) and v > REAL_ASSOCIATION_THRESHOLD))
        out.append(entry)
    return out


def _mean(scores: list[float]) -> float:
    finite = [s for s in scores if np.isfinite(s)]
    return float(np.mean(finite)) if finite else float("nan")


def quality(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str]) -> dict:
    """The quality section of the report: overall, both properties, every column and pair.

    ``kinds`` maps each column to numeric | categorical | boolean | datetime | id; ID columns (and any
    other kind) are not scored.
    """
    kinds = {c: kinds[c] for c in real.columns if c in kinds}  # pairs in the table's column order
    shapes = column_shapes(real, synthetic, kinds)
    pairs = column_pair_trends(real, synthetic, kinds)
    shape_score = _mean([c["score"] for c in shapes])
    counted = [p["score"] for p in pairs if p["counted"]]
    pair_score = _mean(counted)
    return {"protocol": PROTOCOL,
            "overall": _mean([shape_score, pair_score]),
            "column_shapes": shape_score,
            "column_pair_trends": pair_score,
            "column_pair_trends_all_pairs": _mean([p["score"] for p in pairs]),
            "pairs_counted": len([s for s in counted if np.isfinite(s)]), "pairs_scored": len(pairs),
            "columns": shapes, "pairs": pairs}


__all__ = ["BINS", "CONTINUOUS", "DISCRETE", "PROTOCOL", "REAL_ASSOCIATION_THRESHOLD", "REAL_CORRELATION_THRESHOLD",
           "binned", "category_text", "column_pair_trends", "column_shapes", "contingency_similarity", "correlation_similarity",
           "cramers_v", "ks_complement", "numeric_values", "quality", "total_variation", "tv_complement"]
