"""Does a synthetic table copy its training rows? Exact copies, distances to closest records, membership.

All distances are L2 on one normalised encoding fitted on the real (training) table, so every column
weighs about the same: a continuous column scaled to [0, 1] by the real minimum and maximum (plus a
0/1 null indicator when the column has nulls), a categorical or boolean column one-hot over its real
categories (the most frequent :data:`MAX_ONE_HOT`, the rest sharing one "other" slot), ID columns left
out (they are regenerated, never learned).

* **exact-copy rate**: the share of synthetic rows equal, in every scored column, to some real row.
  A model that makes new rows keeps it near what an independent sample from the same population would
  have (0 for continuous data).
* **DCR against a uniform baseline** (SDMetrics' DCRBaselineProtection): the median distance from a
  synthetic row to its closest real row, divided by the same median for rows drawn uniformly at random
  over the encoding's ranges (each column on its own), capped at 1. Near 0: synthetic rows sit on the
  real ones; 1: no nearer than random rows.
* **closer to train than to holdout** (with ``--holdout``): the share of synthetic rows whose closest
  training row is nearer than their closest held-out row, the training table first subsampled to the
  holdout's size so that both reference sets are the same size (ties count half). 0.5 is what rows
  independent of the training set give; 1 means every row leans to the training rows.
* **membership-inference AUROC** (with ``--holdout``): ganforge's black-box distance attack
  (:func:`ganforge.privacy.membership.black_box`), training rows against as many held-out rows.

The nearest-neighbour search and the attack are ``ganforge.privacy``'s, handed in by the caller
(:class:`Measures`): ``privacy`` opens runs, runs hold table recipes, and table recipes import this
package, so importing ``privacy`` from here would close a loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ganforge.tabular.report.quality import CONTINUOUS, DISCRETE, category_text, numeric_values

MAX_ONE_HOT = 100  # one-hot slots per categorical column; rarer categories share one slot (distances stay cheap)
DCR_ROWS = 5_000  # synthetic (and uniform) rows whose DCR is measured: the median is stable well before that
MIA_ROWS = 5_000  # members and non-members each, at most, for the attack
OTHER = "\x00other"  # the slot of categories beyond MAX_ONE_HOT (a name no CSV value has)


@dataclass(frozen=True)
class Measures:
    """The distance and attack functions of ``ganforge.privacy`` (see the module notes)."""

    nearest: Callable  # (queries, refs) -> (distance, index), torch tensors in, numpy out
    black_box: Callable  # (members, nonmembers, synthetic, seed=) -> {"auroc", "ci_low", "ci_high", ...}


class Encoding:
    """The normalised numeric form of a table's rows, fitted on the real table."""

    def __init__(self, reference: pd.DataFrame, kinds: Mapping[str, str]):
        self.kinds = {c: k for c, k in kinds.items() if k in CONTINUOUS + DISCRETE}
        self.ranges: dict[str, tuple[float, float]] = {}
        self.nulls: dict[str, bool] = {}
        self.categories: dict[str, list[str]] = {}
        for name, kind in self.kinds.items():
            if kind in CONTINUOUS:
                v = numeric_values(reference[name], kind)
                lo, hi = (float(v.min()), float(v.max())) if v.notna().any() else (0.0, 1.0)
                self.ranges[name] = (lo, hi if hi > lo else lo + 1.0)
                self.nulls[name] = bool(v.isna().any())
            else:
                counts = _text(reference[name]).value_counts(dropna=False)
                cats = list(counts.index[:MAX_ONE_HOT])
                self.categories[name] = cats + ([OTHER] if len(counts) > MAX_ONE_HOT else [])

    @property
    def width(self) -> int:
        return sum(2 if self.nulls.get(c) else 1 for c in self.ranges) + sum(len(v) for v in self.categories.values())

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        """float32 (len(df), width)."""
        blocks = []
        for name, kind in self.kinds.items():
            if kind in CONTINUOUS:
                lo, hi = self.ranges[name]
                v = ((numeric_values(df[name], kind) - lo) / (hi - lo)).to_numpy(np.float64)
                missing = np.isnan(v)
                blocks.append(np.where(missing, 0.0, v)[:, None])
                if self.nulls[name]:
                    blocks.append(missing[:, None].astype(np.float64))
            else:
                cats = self.categories[name]
                text = _text(df[name])
                if cats[-1] == OTHER:
                    text = text.where(text.isin(cats[:-1]), OTHER)
                codes = pd.Index(cats, dtype=object).get_indexer(text)  # -1: a category the real table lacks
                one_hot = np.zeros((len(df), len(cats)))
                seen = codes >= 0
                one_hot[np.flatnonzero(seen), codes[seen]] = 1.0
                blocks.append(one_hot)
        return np.concatenate(blocks, axis=1).astype(np.float32) if blocks else np.zeros((len(df), 0), np.float32)

    def uniform(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` rows drawn uniformly, column by column, over the encoding's real ranges and categories."""
        blocks = []
        for name, kind in self.kinds.items():
            if kind in CONTINUOUS:
                blocks.append(rng.uniform(0.0, 1.0, (n, 1)))
                if self.nulls[name]:
                    blocks.append(np.zeros((n, 1)))
            else:
                k = len(self.categories[name])
                blocks.append(np.eye(k)[rng.integers(0, k, n)])
        return np.concatenate(blocks, axis=1).astype(np.float32)


def _text(column: pd.Series) -> pd.Series:
    """A discrete column as its category text (:func:`~ganforge.tabular.report.quality.category_text`), nulls as
    None (one category of their own)."""
    return category_text(column).reset_index(drop=True)


def row_keys(df: pd.DataFrame, kinds: Mapping[str, str]) -> pd.Series:
    """A hashable key per row over the scored columns, equal exactly when the rows are: continuous values
    as float64 (so 3 and 3.0 agree; datetimes as nanoseconds), discrete values as their category text (so a
    category 3 read as 3.0, from a column with a blank cell, is still 3)."""
    parts = {}
    for name, kind in kinds.items():
        if kind in CONTINUOUS:
            parts[name] = numeric_values(df[name], kind).reset_index(drop=True)
        elif kind in DISCRETE:
            parts[name] = _text(df[name])
    return pd.util.hash_pandas_object(pd.DataFrame(parts), index=False)


def exact_copy_rate(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str]) -> float:
    """The share of synthetic rows that equal some real row in every scored column."""
    return float(row_keys(synthetic, kinds).isin(set(row_keys(real, kinds))).mean()) if len(synthetic) else 0.0


def _rows(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= n else x[np.sort(rng.choice(len(x), n, replace=False))]


def privacy(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str], measures: Measures, *,
            holdout: pd.DataFrame | None = None, seed: int = 0) -> dict:
    """The privacy section of the report (``real`` is what the generator was trained on)."""
    rng = np.random.default_rng(seed)
    enc = Encoding(real, kinds)
    train = torch.from_numpy(enc.encode(real))
    syn_x = _rows(enc.encode(synthetic), DCR_ROWS, rng)
    d_syn, _ = measures.nearest(torch.from_numpy(syn_x), train)
    d_uni, _ = measures.nearest(torch.from_numpy(enc.uniform(len(syn_x), rng)), train)
    med_syn, med_uni = float(np.median(d_syn)), float(np.median(d_uni))
    out: dict = {
        "encoding": f"continuous scaled to [0,1] by the real range (+ null indicator), categories one-hot "
                    f"(top {MAX_ONE_HOT}), L2; {enc.width} dimensions",
        "exact_copy_rate": exact_copy_rate(real, synthetic, kinds),
        "dcr_median_synthetic": med_syn, "dcr_median_uniform": med_uni,
        "dcr_baseline_protection": min(1.0, med_syn / med_uni) if med_uni > 0 else float("nan"),
        "dcr_rows": int(len(syn_x)),
    }
    if holdout is None:
        out["closer_to_train_share"] = None
        out["membership"] = None
        out["without_holdout"] = ("closer-to-train share and membership AUROC need --holdout (real rows never "
                                  "trained on)")
        return out
    hold = enc.encode(holdout)
    k = min(len(train), len(hold))  # the same number of rows on both sides
    d_train, _ = measures.nearest(torch.from_numpy(syn_x), torch.from_numpy(_rows(train.numpy(), k, rng)))
    d_hold, _ = measures.nearest(torch.from_numpy(syn_x), torch.from_numpy(_rows(hold, k, rng)))
    out["closer_to_train_share"] = float(np.mean((d_train < d_hold) + 0.5 * (d_train == d_hold)))
    out["dcr_median_holdout_to_train"] = float(np.median(measures.nearest(torch.from_numpy(hold), train)[0]))
    m = min(len(train), len(hold), MIA_ROWS)
    members = torch.from_numpy(_rows(train.numpy(), m, rng))
    nonmembers = torch.from_numpy(_rows(hold, m, rng))
    out["membership"] = measures.black_box(members, nonmembers, torch.from_numpy(syn_x), seed=seed)
    return out


__all__ = ["DCR_ROWS", "MAX_ONE_HOT", "MIA_ROWS", "Encoding", "Measures", "exact_copy_rate", "privacy", "row_keys"]
