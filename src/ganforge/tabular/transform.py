"""The reversible transform between a table and the float rows a GAN learns.

Per column, in the table's order (CTGAN, Xu et al. 2019, section 4.2, plus what users need):

- numeric and datetime: mode-specific normalisation. The modes of the column (``modes.py``) give
  a one-hot of a mode k drawn from the value's posterior and alpha = (c - mu_k) / (4 sigma_k)
  clipped to [-0.99, 0.99]: spans ``tanh`` (1 wide) then ``softmax`` (K wide, plus one more slot
  meaning "null" when the column has nulls, so missing values are learned as a mode of their own);
- categorical and boolean: a ``softmax`` one-hot over the categories seen (a null is a category);
  up to :data:`MAX_ONEHOT` slots. A column with more categories keeps its :data:`HEAD` most
  frequent ones as slots of their own and pools the rest, by frequency rank, into :data:`BANDS`
  shared slots; the inverse draws a category of a band by its real frequency. Why pooling by rank
  and not hashing or an embedding index: the frequent categories, which carry the correlations
  G can learn, keep exact slots (a hash would collide them with rare ones), the width is fixed
  (a 20k-category column is 50 floats a row, not 20k), every category with a row can come back
  (rare ones are not lost), and no category is invented (an embedding decoded by nearest
  neighbour can land on any code of an integer-coded column, a band only on codes seen);
- id: nothing (not learned); regenerated at sampling as unique values of the same form (``ids.py``).

The inverse gives the input's columns in the input's order with their dtypes, nulls where the null
slot wins, values clipped to the range seen, rounded to the decimals seen (integers to integers;
values too small for decimals, such as 1e-9s, to the significant digits seen).
The state is JSON (specs and modes), saved in checkpoints without pickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from ganforge.errors import ConfigError, DataError
from ganforge.tabular.columns import DATETIME_UNITS, ColumnSpec, round_significant, utc_naive
from ganforge.tabular.ids import ID_BLOCK, NewIds, new_ids
from ganforge.tabular.modes import MAX_MODES, Modes, fit_modes, sample_modes

MAX_ONEHOT = 50  # categories (null included) a column may have and still be one-hot: the threshold
HEAD = 40  # above it, the most frequent categories that keep a slot of their own ...
BANDS = 10  # ... and the shared slots the others are pooled into by frequency rank (HEAD + BANDS = MAX_ONEHOT)
GMM_ROWS = 50_000  # values a column's modes are fitted on (a random subsample; measured in docs/tabular.md)
ALPHA_CLIP = 0.99  # the paper's clip of alpha, inside tanh's open range
STATE_VERSION = 1


@dataclass(frozen=True)
class Span:
    """Columns start..start+width of a transformed row: one value (tanh) or a one-hot block (softmax)."""

    column: str
    start: int
    width: int
    activation: str  # "tanh" or "softmax"


def _keys(s: pd.Series, categories: tuple) -> pd.Series:
    """The text key of each value (NaN for null), computed the same way for a chunk and the categories."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(str).astype(object)
    if categories and all(isinstance(c, str) for c in categories) and isinstance(s.dtype, pd.StringDtype):
        return s.astype(object)  # text already: no per-value Python call (a 1M-row column is one pass in C)
    if categories and all(isinstance(c, bool) for c in categories):
        return s.map(lambda v: v if pd.isna(v) else str(bool(v) if not isinstance(v, str) else v))
    if categories and all(isinstance(c, int) and not isinstance(c, bool) for c in categories):
        num = pd.to_numeric(s, errors="coerce")
        if num[s.notna()].notna().all():
            return num.astype("Int64").astype("string").astype(object)
    if categories and all(isinstance(c, float) for c in categories):
        num = pd.to_numeric(s, errors="coerce")
        return num.map(lambda v: v if pd.isna(v) else str(float(v)))
    return s.map(lambda v: v if pd.isna(v) else str(v))


class _Categories:
    """One categorical/boolean column: its values (null included) by frequency and their slots."""

    def __init__(self, spec: ColumnSpec):
        values = list(spec.categories) + ([None] if spec.has_nulls else [])
        counts = list(spec.counts) + ([spec.null_count] if spec.has_nulls else [])
        order = sorted(range(len(values)), key=lambda i: -counts[i])  # stable: ties keep the spec's order
        self.values = [values[i] for i in order]
        self.counts = np.asarray([counts[i] for i in order], np.float64)
        self.keys = [None if v is None else str(v) for v in self.values]
        k = len(self.values)
        if k <= MAX_ONEHOT:
            self.slot = np.arange(k)
        else:
            rank = np.arange(k)
            self.slot = np.where(rank < HEAD, rank, HEAD + (rank - HEAD) * BANDS // max(k - HEAD, 1))
        self.width = int(self.slot.max()) + 1
        self.index = {key: i for i, key in enumerate(self.keys)}
        self.members = [np.flatnonzero(self.slot == j) for j in range(self.width)]

    def encode(self, s: pd.Series, categories: tuple) -> np.ndarray:
        keys = _keys(s, categories)
        cats = [k for k in self.keys if k is not None]
        codes = pd.Index(cats, dtype=object).get_indexer(keys.astype(object)).astype(np.int64)  # -1: null or unseen
        known = np.asarray([self.index[k] for k in cats], np.int64)
        out = np.where(codes >= 0, known[np.maximum(codes, 0)], self.index.get(None, -1))
        bad = (codes < 0) & keys.notna().to_numpy()
        if bad.any() or (out < 0).any():
            what = keys[bad].iloc[0] if bad.any() else "a null"
            raise DataError(f"column '{s.name}' has {what!r}, not seen when the transform was fitted; "
                            f"fit the transform on the whole table")
        return self.slot[out]

    def decode(self, slots: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        idx = np.empty(len(slots), np.int64)
        for j in np.unique(slots):
            rows = np.flatnonzero(slots == j)
            m = self.members[j]
            idx[rows] = m[0] if len(m) == 1 else rng.choice(m, size=len(rows), p=self.counts[m] / self.counts[m].sum())
        return idx


class TableTransformer:
    """Fit on a table and its column specs; ``transform`` rows to floats, ``inverse`` floats to rows."""

    def __init__(self) -> None:
        self.specs: list[ColumnSpec] = []
        self.modes: dict[str, Modes] = {}
        self.seed = 0
        self._layout()

    # ---- layout ----
    def _layout(self) -> None:
        self.spans: list[Span] = []
        self.discrete_spans: list[Span] = []
        self.cats: dict[str, _Categories] = {}
        pos = 0
        for spec in self.specs:
            if spec.kind in ("numeric", "datetime"):
                k = self.modes[spec.name].k + int(spec.has_nulls)
                self.spans += [Span(spec.name, pos, 1, "tanh"), Span(spec.name, pos + 1, k, "softmax")]
                pos += 1 + k
            elif spec.kind in ("categorical", "boolean"):
                cats = self.cats[spec.name] = _Categories(spec)
                span = Span(spec.name, pos, cats.width, "softmax")
                self.spans.append(span)
                self.discrete_spans.append(span)
                pos += cats.width
        self.output_dim = pos

    def fit(self, df: pd.DataFrame | None, specs: list[ColumnSpec], *, seed: int, max_modes: int = MAX_MODES,
            gmm_rows: int = GMM_ROWS, samples: dict[str, np.ndarray] | None = None) -> TableTransformer:
        """Fit the modes of every numeric/datetime column on at most ``gmm_rows`` of its values, drawn from
        ``seed``. ``samples`` (column -> values already subsampled, for a table streamed from disk) replaces
        reading them from ``df``."""
        self.specs, self.seed, self.modes = list(specs), int(seed), {}
        rng = np.random.default_rng(seed)
        for spec in self.specs:
            if spec.kind not in ("numeric", "datetime"):
                continue
            v = samples[spec.name] if samples is not None else self._numbers(df[spec.name], spec)
            v = v[~np.isnan(v)]
            if len(v) > gmm_rows:
                v = v[rng.choice(len(v), gmm_rows, replace=False)]
            self.modes[spec.name] = fit_modes(v, max_modes=max_modes)
        self._layout()
        return self

    @staticmethod
    def _numbers(s: pd.Series, spec: ColumnSpec) -> np.ndarray:
        """A numeric/datetime column as float64 in its learned unit (NaN for null)."""
        if spec.kind == "datetime":
            utc = {"utc": True} if spec.datetime_tz else {}  # zone-aware: learned in UTC
            dt = (pd.to_datetime(s, format=spec.datetime_format, errors="coerce", **utc) if spec.datetime_format
                  else pd.to_datetime(s, errors="coerce", **utc))
            dt = utc_naive(dt)
            ns = dt.astype("datetime64[ns]").astype("int64").to_numpy().astype(np.float64)
            ns[dt.isna().to_numpy()] = np.nan
            return ns / DATETIME_UNITS[spec.datetime_unit]
        return pd.to_numeric(s, errors="coerce").to_numpy(np.float64, na_value=np.nan)

    # ---- forward ----
    def transform(self, df: pd.DataFrame, *, rng: np.random.Generator | None = None) -> np.ndarray:
        """float32 (N, output_dim). Modes are drawn from ``rng`` (default: one seeded by the fit's seed)."""
        rng = np.random.default_rng(self.seed) if rng is None else rng
        missing = [s.name for s in self.specs if s.name not in df.columns]
        if missing:
            raise DataError(f"the table lacks column(s) {', '.join(missing)} that the transform was fitted on")
        out = np.zeros((len(df), self.output_dim), np.float32)
        rows = np.arange(len(df))
        spans = iter(self.spans)
        for spec in self.specs:
            if spec.kind in ("numeric", "datetime"):
                tanh, block = next(spans), next(spans)
                v = self._numbers(df[spec.name], spec)
                null = np.isnan(v)
                modes = self.modes[spec.name]
                k = np.full(len(v), modes.k, np.int64)  # the null slot
                ok = np.flatnonzero(~null)
                k[ok] = sample_modes(modes, v[ok], rng)
                mu, sd = np.asarray(modes.means), np.asarray(modes.stds)
                alpha = np.zeros(len(v))
                alpha[ok] = np.clip((v[ok] - mu[k[ok]]) / (4 * sd[k[ok]]), -ALPHA_CLIP, ALPHA_CLIP)
                out[:, tanh.start] = alpha
                out[rows, block.start + k] = 1.0
            elif spec.kind in ("categorical", "boolean"):
                block = next(spans)
                out[rows, block.start + self.cats[spec.name].encode(df[spec.name], spec.categories)] = 1.0
        return out

    # ---- inverse ----
    def new_ids(self, n: int, seed: int) -> NewIds:
        """The ID columns of an output of ``n`` rows that is inverted in chunks: unique over all ``n`` rows,
        drawn a block at a time (:class:`NewIds`), so memory holds one block, not ``n`` IDs."""
        return NewIds(self.specs, n, seed)

    def inverse(self, x: np.ndarray, *, rng: np.random.Generator,
                ids: dict[str, pd.Series] | None = None) -> pd.DataFrame:
        """Rows of floats -> the table's columns, in its order and dtypes (see the module docstring).
        ``ids``: the ID columns' values for these rows (from :meth:`new_ids`'s ``rows``), else drawn here."""
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.output_dim:
            raise DataError(f"rows to invert must be (N, {self.output_dim}), got {x.shape}")
        n = len(x)
        cols: dict[str, pd.Series] = {}
        spans = iter(self.spans)
        for spec in self.specs:
            if spec.kind in ("numeric", "datetime"):
                tanh, block = next(spans), next(spans)
                cols[spec.name] = self._inverse_number(spec, x[:, tanh.start], x[:, block.start:block.start + block.width])
            elif spec.kind in ("categorical", "boolean"):
                block = next(spans)
                cats = self.cats[spec.name]
                idx = cats.decode(x[:, block.start:block.start + block.width].argmax(1), rng)
                values = pd.Series([cats.values[i] for i in idx], dtype=object)
                cols[spec.name] = _restore_dtype(values, spec)
            else:
                cols[spec.name] = (ids[spec.name].reset_index(drop=True) if ids is not None
                                   else new_ids(spec, n, rng))
        return pd.DataFrame(cols, columns=[s.name for s in self.specs])

    def _inverse_number(self, spec: ColumnSpec, alpha: np.ndarray, onehot: np.ndarray) -> pd.Series:
        modes = self.modes[spec.name]
        k = onehot.argmax(1)
        null = k >= modes.k
        k = np.minimum(k, modes.k - 1)
        v = np.clip(alpha.astype(np.float64), -1, 1) * 4 * np.asarray(modes.stds)[k] + np.asarray(modes.means)[k]
        v = np.clip(v, spec.min, spec.max)
        if spec.kind == "datetime":
            size = DATETIME_UNITS[spec.datetime_unit]
            ns = np.round(v).astype(np.int64) * size
            dt = pd.Series(pd.to_datetime(ns, unit="ns")).mask(null)
            if spec.datetime_tz:
                return _zoned(dt, spec)
            if spec.datetime_format:
                return dt.dt.strftime(spec.datetime_format).astype(spec.dtype)
            return dt.astype(spec.dtype) if spec.dtype.startswith("datetime64") else dt
        if spec.is_integer:
            v = np.round(v)
        elif spec.decimals is not None:
            v = np.round(v, spec.decimals)
        elif spec.significant:  # values too small for decimals (1e-9s): their significant digits
            v = round_significant(v, spec.significant)
        v[null] = np.nan
        if spec.is_integer and (spec.has_nulls or not spec.dtype.startswith(("int", "uint"))):
            return pd.Series(v).astype("Int64")  # whole numbers with gaps: written as 3, not 3.0
        return pd.Series(v).astype(spec.dtype)

    # ---- state ----
    def state_dict(self) -> dict:
        return {"version": STATE_VERSION, "seed": self.seed, "specs": [s.to_dict() for s in self.specs],
                "modes": {k: m.to_dict() for k, m in self.modes.items()}}

    @classmethod
    def from_state_dict(cls, d: dict) -> TableTransformer:
        if d.get("version") != STATE_VERSION:
            raise DataError(f"table transform state version {d.get('version')!r} is not {STATE_VERSION}; "
                            f"retrain with this ganforge")
        t = cls()
        t.specs = [ColumnSpec.from_dict(s) for s in d["specs"]]
        t.modes = {k: Modes.from_dict(m) for k, m in d["modes"].items()}
        t.seed = int(d["seed"])
        t._layout()
        return t

    def category_slot(self, column: str, value: object) -> int:
        """The slot of ``value`` in ``column``'s one-hot block (text or the value itself); a one-line
        ConfigError naming the valid values when it is not a category of its own slot."""
        if column not in self.cats:
            raise ConfigError(f"'{column}' is not a categorical column of this table; conditions can name "
                              f"{', '.join(self.cats) or 'none (the table has no categorical column)'}")
        cats = self.cats[column]
        key = None if value is None or (isinstance(value, str) and value == "") else str(value)
        own = [k for i, k in enumerate(cats.keys) if len(cats.members[cats.slot[i]]) == 1]
        if key not in cats.index or key not in own:
            shown = ", ".join("''" if k is None else k for k in own[:20]) + (f" ... ({len(own)} in all)" if len(own) > 20 else "")
            pooled = " (it is one of the rare categories pooled into a shared slot)" if key in cats.index else ""
            raise ConfigError(f"'{value}' is not a value of column '{column}' that can be asked for{pooled}; "
                              f"valid values: {shown}")
        return int(cats.slot[cats.index[key]])


def _zoned(dt: pd.Series, spec: ColumnSpec) -> pd.Series:
    """Naive UTC datetimes back in the column's zone: a datetime64 column in its zone (Europe/London), text in
    its format with the offset text every input value ended with (+00:00 stays +00:00, Z stays Z)."""
    aware = dt.dt.tz_localize("UTC")
    if not spec.datetime_format:
        return aware.dt.tz_convert(spec.datetime_tz).astype(spec.dtype)
    try:  # an offset (+01:00, -0500, Z): the values shifted into it
        zone = datetime.strptime(spec.datetime_tz, "%z").tzinfo
    except ValueError:  # a name (UTC, GMT)
        zone = spec.datetime_tz
    local = aware.dt.tz_convert(zone).dt.tz_localize(None)
    text = local.dt.strftime(spec.datetime_format.replace("%z", "{zone}").replace("%Z", "{zone}"))
    return text.str.replace("{zone}", spec.datetime_tz, regex=False).astype(spec.dtype)


def _restore_dtype(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    if spec.dtype.startswith("bool"):
        return values.astype("boolean" if spec.has_nulls else "bool")
    whole = spec.categories and all(isinstance(c, int) and not isinstance(c, bool) for c in spec.categories)
    try:
        if whole and (spec.has_nulls or not spec.dtype.startswith(("int", "uint"))):
            # integer codes read by pandas as floats (a CSV column with gaps): written as 3, not 3.0, as numbers are
            return values.astype("Int64")
        return values.astype(spec.dtype)
    except (TypeError, ValueError, OverflowError):
        return values


__all__ = ["BANDS", "GMM_ROWS", "HEAD", "ID_BLOCK", "MAX_ONEHOT", "NewIds", "Span", "TableTransformer"]
