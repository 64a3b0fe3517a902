"""A Gaussian-copula synthesizer: the simple model people pick instead of a GAN, as a baseline.

Each column is mapped to a standard-normal score through its own empirical CDF; the scores' correlation
matrix is the whole model of how columns relate; sampling draws correlated normals and maps each back
through the inverse of its column's CDF. So every column's distribution is kept (up to the resolution
of its observed values) and every pairwise *Gaussian* dependence, but nothing beyond that: no
multi-modal interactions, no conditional structure a correlation cannot express. That is what makes it
a fair yardstick for a GAN.

How each kind of column becomes a number in (0, 1), following the idea of SDV's Gaussian copula (the
code is ours):

* **numeric, datetime**: the rank of each value among the non-null values, ``u = (rank - 0.5) / n``
  (ties share their average rank); the inverse is the empirical quantile function, linear between
  the observed values, so samples stay within the real minimum and maximum.
* **categorical, boolean**: the categories in frequency order, most frequent first, each owns an
  interval of [0, 1) as wide as its share; a value becomes a uniformly random point of its interval
  (so the normal scores are continuous and the correlation is estimated on them), and the inverse
  finds the interval a point falls in. Only seen categories are ever sampled.
* **nulls**: a column with nulls keeps them as the lowest interval ``[0, p_null)``, its values
  filling ``[p_null, 1)``: the null share is kept, and how nullness goes with other columns too.
* **id**: not modelled; regenerated unique in the same form (integers counting up from the real
  minimum, text as the longest common prefix of the real IDs plus a zero-padded counter).

Integer columns are rounded, datetimes written back in the real column's text form (ISO dates when
every real value is a date at midnight).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata

from ganforge.tabular.report.quality import numeric_values

EIGEN_FLOOR = 1e-6  # smallest eigenvalue kept when the correlation matrix is repaired to positive definite
NULL = "\x00null"  # the key of a discrete column's nulls (a text no CSV value has)
U_EDGE = 1e-9  # u is kept inside (U_EDGE, 1 - U_EDGE) before the normal quantile, which is infinite at 0 and 1


class GaussianCopula:
    """Fit on a table, sample tables like it: ``GaussianCopula(kinds).fit(df, seed=0).sample(n, rng)``."""

    def __init__(self, kinds: Mapping[str, str]):
        self.kinds = dict(kinds)

    # ----- fitting -----------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, *, seed: int = 0) -> "GaussianCopula":
        rng = np.random.default_rng(seed)
        self.columns = list(df.columns)
        self.margins: dict[str, dict] = {}
        scores = []
        for name in self.columns:
            kind = self.kinds[name]
            col = df[name].reset_index(drop=True)
            if kind == "id":
                self.margins[name] = _id_form(col)
                continue
            margin, u = (_fit_continuous(col, kind, rng) if kind in ("numeric", "datetime")
                         else _fit_discrete(col, rng))
            self.margins[name] = margin
            scores.append(ndtri(np.clip(u, U_EDGE, 1 - U_EDGE)))
        self.modelled = [c for c in self.columns if self.kinds[c] != "id"]
        z = np.stack(scores, axis=1) if scores else np.zeros((len(df), 0))
        self.correlation = _correlation(z)
        return self

    # ----- sampling ----------------------------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """``n`` rows with the fitted table's columns, in its order and kinds."""
        d = len(self.modelled)
        z = rng.standard_normal((n, d)) @ np.linalg.cholesky(self.correlation).T if d else np.zeros((n, 0))
        u = ndtr(z)
        out = {}
        for j, name in enumerate(self.modelled):
            margin = self.margins[name]
            out[name] = (_inverse_continuous(margin, u[:, j]) if margin["type"] == "continuous"
                         else _inverse_discrete(margin, u[:, j]))
        for name in self.columns:
            if self.kinds[name] == "id":
                out[name] = _new_ids(self.margins[name], n)
        return pd.DataFrame({name: out[name] for name in self.columns})


def _fit_continuous(col: pd.Series, kind: str, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    values = numeric_values(col, kind).to_numpy(np.float64)
    present = ~np.isnan(values)
    p_null = 1.0 - present.mean()
    u = np.empty(len(values))
    u[~present] = rng.uniform(0, p_null, (~present).sum())  # the null interval, below every value
    u[present] = p_null + (1 - p_null) * (rankdata(values[present]) - 0.5) / max(present.sum(), 1)
    text = col.dropna().astype(str)
    margin = {"type": "continuous", "kind": kind, "p_null": p_null, "sorted": np.sort(values[present]),
              "integer": kind == "numeric" and bool(present.any()) and bool(np.all(values[present] == np.round(
                  values[present]))),
              "decimals": _decimals(text) if kind == "numeric" else None,
              "date_only": kind == "datetime" and bool(text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()),
              "dtype": str(col.dtype)}
    return margin, u


def _decimals(text: pd.Series) -> int:
    """The most decimals any real value was written with (so 58.8 is not written back as 58.8137)."""
    parts = text.str.partition(".")[2].str.rstrip("0")
    return int(parts.str.len().max()) if len(parts) else 0


def _inverse_continuous(margin: dict, u: np.ndarray):
    values = margin["sorted"]
    p = margin["p_null"]
    out = np.full(len(u), np.nan)
    live = u >= p
    if len(values) and live.any():
        q = (u[live] - p) / max(1 - p, U_EDGE)  # position among the values, in [0, 1)
        grid = (np.arange(len(values)) + 0.5) / len(values)
        out[live] = np.interp(q, grid, values)  # linear between observed values, flat beyond the ends
    if margin["kind"] == "datetime":
        stamps = pd.to_datetime(pd.Series(out), unit="ns")
        return stamps.dt.strftime("%Y-%m-%d" if margin["date_only"] else "%Y-%m-%d %H:%M:%S").where(stamps.notna(),
                                                                                                       None)
    if margin["integer"]:
        rounded = np.round(out)
        return pd.array(rounded, dtype="Int64") if np.isnan(out).any() or "Int" in margin["dtype"] else \
            rounded.astype(np.int64)
    return np.round(out, margin["decimals"]) if margin["decimals"] is not None else out


def _fit_discrete(col: pd.Series, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    keys = col.astype(str).where(col.notna(), NULL).astype(object)
    counts = keys.value_counts()  # most frequent first: wide intervals near 0
    order = sorted(range(len(counts)), key=lambda i: (counts.index[i] != NULL, i))  # nulls first, as numerics
    cats = [counts.index[i] for i in order]
    shares = np.array([counts.iloc[i] for i in order], np.float64) / len(col)
    upper = np.cumsum(shares)
    upper[-1] = 1.0
    lower = upper - shares
    position = {c: i for i, c in enumerate(cats)}
    codes = np.array([position[k] for k in keys])
    u = lower[codes] + shares[codes] * rng.uniform(0, 1, len(col))
    originals = {k: v for k, v in zip(keys, col) if k != NULL}  # the real values (bool stays bool)
    return {"type": "discrete", "categories": cats, "upper": upper, "originals": originals}, u


def _inverse_discrete(margin: dict, u: np.ndarray) -> pd.Series:
    index = np.minimum(np.searchsorted(margin["upper"], u, side="right"), len(margin["upper"]) - 1)
    values = [margin["originals"].get(margin["categories"][i]) for i in index]  # NULL has no original: None
    return pd.Series(values, dtype=object)


def _correlation(z: np.ndarray) -> np.ndarray:
    """The normal scores' correlation, repaired to a positive-definite matrix with a unit diagonal
    (a constant column has no correlation: it gets 0 off the diagonal)."""
    d = z.shape[1]
    if d == 0:
        return np.zeros((0, 0))
    std = z.std(axis=0)
    live = std > 0
    corr = np.eye(d)
    if live.sum() > 1:
        corr[np.ix_(live, live)] = np.corrcoef(z[:, live], rowvar=False)
    corr = np.nan_to_num((corr + corr.T) / 2)
    w, v = np.linalg.eigh(corr)
    corr = (v * np.maximum(w, EIGEN_FLOOR)) @ v.T
    scale = np.sqrt(np.diag(corr))
    return corr / scale[:, None] / scale[None, :]


def _id_form(col: pd.Series) -> dict:
    present = col.dropna()
    if pd.api.types.is_integer_dtype(col) or (pd.api.types.is_numeric_dtype(col) and len(present)
                                              and bool(np.all(present == np.round(present)))):
        return {"type": "id", "integer": True, "start": int(present.min()) if len(present) else 0}
    text = present.astype(str).tolist()
    prefix = os.path.commonprefix(text) if text else ""
    width = max((len(t) - len(prefix) for t in text), default=6)
    return {"type": "id", "integer": False, "prefix": prefix, "width": width}


def _new_ids(form: dict, n: int):
    if form["integer"]:
        return np.arange(form["start"], form["start"] + n, dtype=np.int64)
    width = max(form["width"], len(str(n - 1)))
    return [f"{form['prefix']}{i:0{width}d}" for i in range(n)]


__all__ = ["GaussianCopula"]
