"""What each column of a table is, inferred from its values, printed, and overridable.

A column is one of five kinds: ``numeric`` (integers or decimals, learned through its modes),
``categorical`` and ``boolean`` (learned as a choice among the values seen), ``datetime`` (learned
as a number of its own unit, written back in its own format) and ``id`` (a value unique to each
row: there is nothing to learn from it, so it is left out of training and regenerated at sampling
as unique values of the same form, which keeps the output's columns those of the input).

Everything the inverse transform needs to give a column back in its own form is recorded here
(integer or not, decimals, range, nulls, categories with their counts, datetime format and unit,
the pattern of an ID), so a spec is the whole contract, saved as JSON in every checkpoint.

Inference is a profile per chunk of rows, merged, then decided (:func:`profile`,
:func:`merge_profiles`, :func:`decide`): the same code reads a DataFrame in memory and a table on
disk streamed in chunks.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from ganforge.errors import ConfigError, DataError, did_you_mean

KINDS = ("numeric", "categorical", "boolean", "datetime", "id")
MAX_DECIMALS = 6  # decimals a column is rounded to at most; a column written with more is rounded to ...
MAX_SIGNIFICANT = 7  # ... its significant digits when it has at most these (float32 holds about 7), else not at all
ID_NAME = re.compile(r"(^|[_\W])(id|key|uuid|guid)$|^id([_\W]|$)|Id$|ID$", re.IGNORECASE)
DISTINCT_CAP = 50_000  # distinct values counted for a numeric column at most (an ID-named one: all)
MIN_ID_ROWS = 10  # below this a column of distinct strings may just be a small categorical, not an ID
DATETIME_UNITS = {"D": 86_400_000_000_000, "s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
EXACT_INTEGERS = 2.0 ** 53  # a float column is integral only below this: beyond it every float64 is a whole number
BOOLEAN_TEXTS = ({"True", "False"}, {"true", "false"}, {"TRUE", "FALSE"})  # text of a boolean column, spelled one way
# The zone text a datetime ends with: Z, +01:00, -0500, or a name (UTC, GMT).
ZONE_TEXT = re.compile(r"(Z|[+-]\d\d:?\d\d|[A-Z]{3,5})$")


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its kind and what inverting the transform needs to give it back in its own form."""

    name: str
    kind: str
    dtype: str = "float64"  # the pandas dtype it was read with (restored at sampling)
    is_integer: bool = False  # whole numbers: rounded at sampling
    decimals: int | None = None  # decimal places seen (numeric); values are rounded to them (None: not rounded)
    significant: int | None = None  # decimals None: the significant digits seen (1e-9s: 1), rounded to (None: not)
    min: float | None = None  # range seen (numeric, datetime in its unit): samples are clipped to it
    max: float | None = None
    has_nulls: bool = False  # nulls seen: a mode (numeric) or a category (categorical) of their own
    null_count: int = 0
    categories: tuple = ()  # categorical/boolean: values seen, most frequent first (null is not one)
    counts: tuple = ()  # their counts, same order
    datetime_format: str | None = None  # strftime format of datetime text; None: stored as datetime64
    datetime_unit: str = "s"  # the finest unit seen (D, s, ms, us, ns): what a datetime is learned in
    datetime_tz: str | None = None  # a zone-aware datetime, learned in UTC: the zone of a datetime64 column
    # (Europe/London), or the offset text every value of a text column ends with (+00:00, Z), written back with it
    id_prefix: str = ""  # ID: the text before the number ("S" of S0001), or "" for plain integers
    id_width: int = 0  # ID: digits of the number, zero-padded (0: not padded)
    id_numeric: bool = True  # ID: prefix + number; False: a fixed-length template of character classes
    id_template: str = ""  # ID (not numeric): per position 9 digit, a lower, A upper, x hex, \\c the character c

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}  # not asdict: it deep-copies 20k categories
        d["categories"], d["counts"] = list(self.categories), list(self.counts)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnSpec:
        d = dict(d)
        d["categories"], d["counts"] = tuple(d.get("categories", ())), tuple(d.get("counts", ()))
        return cls(**d)


# ---- profiles: what one chunk of a column says, mergeable across chunks ----

@dataclass
class Profile:
    name: str
    dtype: str
    n: int = 0
    nulls: int = 0
    counts: dict = field(default_factory=dict)  # value -> count (not kept for decimal columns)
    lo: float = math.inf
    hi: float = -math.inf
    decimals: int = 0
    significant: int = 0  # significant digits of the non-integral values (MAX_SIGNIFICANT + 1: more)
    integral: bool = True
    dt_format: str | None = None
    dt_ok: bool = False  # every non-null value parsed with dt_format (text) or is datetime64
    dt_unit: str = "D"
    dt_tz: str | None = None  # the zone (datetime64) or the one offset text (text) of zone-aware datetimes
    many: bool = False  # more distinct values than are counted (a continuous column): counts dropped


def _python(v: Any) -> Any:
    """A JSON-able Python value for a category (numpy scalars become int/float/bool)."""
    return v.item() if isinstance(v, np.generic) else v


def _decimals(v: np.ndarray) -> int:
    """Decimal places the values are written with; MAX_DECIMALS + 1 when more (full precision: not rounded).
    A value that rounds to 0 at ``d`` decimals and is not 0 is not written with ``d`` decimals, however small
    the difference (a column of 1e-9s would otherwise be "0 decimals" and come back as zeros)."""
    for d in range(MAX_DECIMALS + 1):
        scaled = v * 10**d
        rounded = np.round(scaled)
        if (np.all(np.abs(scaled - rounded) <= 1e-6 * np.maximum(1.0, np.abs(scaled)))
                and not np.any((rounded == 0) & (v != 0))):
            return d
    return MAX_DECIMALS + 1


def _significant(v: np.ndarray) -> int:
    """Significant digits the values are written with (2e-09: 1, 0.000125: 3); MAX_SIGNIFICANT + 1 when more."""
    v = np.abs(v[np.isfinite(v) & (v != 0)])
    if not len(v):
        return 1
    e = np.floor(np.log10(v))
    e += (v / 10.0**e >= 10).astype(int) - (v / 10.0**e < 1).astype(int)  # log10 can miss by an ulp
    mantissa = v / 10.0**e  # in [1, 10)
    for d in range(1, MAX_SIGNIFICANT + 1):
        scaled = mantissa * 10.0 ** (d - 1)
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6):
            return d
    return MAX_SIGNIFICANT + 1


def round_significant(v: np.ndarray, digits: int) -> np.ndarray:
    """``v`` rounded to ``digits`` significant digits (2e-09 stays 2e-09, not 1.999999998802731e-09); the
    scale is an exact power of ten each way, so the result is the float nearest the rounded decimal."""
    out = np.asarray(v, np.float64).copy()
    ok = np.isfinite(out) & (out != 0)
    x = out[ok]
    k = (digits - 1 - np.floor(np.log10(np.abs(x)))).astype(np.int64)  # decimals to keep
    with np.errstate(over="ignore", invalid="ignore"):  # 10**k beyond float64 (1e-320): left as it is
        up, down = 10.0 ** np.maximum(k, 0), 10.0 ** np.maximum(-k, 0)
        r = np.where(k >= 0, np.round(x * up) / up, np.round(x / down) * down)
    out[ok] = np.where(np.isfinite(r), r, x)
    return out


def _finest_unit(ns: np.ndarray) -> str:
    for unit, size in DATETIME_UNITS.items():
        if np.all(ns % size == 0):
            return unit
    return "ns"


def utc_naive(stamps: pd.Series) -> pd.Series:
    """Datetimes as naive UTC (a zone-aware column converted to UTC, its zone dropped); naive ones as they are."""
    if getattr(stamps.dtype, "tz", None) is not None:
        return stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps


def zone_of_text(name: str, fmt: str, text: pd.Series) -> str:
    """The one zone text (+01:00, Z, UTC) every value of a zone-aware datetime text column ends with; one line
    when they differ, since one column is written back in one form."""
    zones = text.str.strip().str.extract(ZONE_TEXT, expand=False)
    seen = list(dict.fromkeys(zones.dropna()))
    if zones.isna().any() or len(seen) != 1:
        shown = ", ".join(seen[:3]) or "none"
        raise DataError(f"column '{name}' holds datetimes in more than one UTC offset ({shown}, format {fmt}); "
                        f"write them in one offset (e.g. all converted to UTC), or learn its text as categories "
                        f"(data.discrete, or table-report's --discrete)")
    return seen[0]


def profile(s: pd.Series) -> Profile:
    """What a chunk of column ``s`` says about it."""
    values = s.dropna()
    p = Profile(str(s.name), str(s.dtype), n=len(s), nulls=int(len(s) - len(values)))
    if pd.api.types.is_bool_dtype(s.dtype):
        p.counts = {bool(k): int(c) for k, c in values.value_counts().items()}
    elif pd.api.types.is_datetime64_any_dtype(s.dtype):
        tz = getattr(s.dtype, "tz", None)
        p.dt_tz = None if tz is None else str(tz)
        ns = utc_naive(values).astype("datetime64[ns]").astype("int64").to_numpy()
        p.dt_ok, p.dt_unit = True, _finest_unit(ns)
        p.lo, p.hi = (float(ns.min()), float(ns.max())) if len(ns) else (math.inf, -math.inf)
        p.counts = {int(k): int(c) for k, c in pd.Series(ns).value_counts().items()}
    elif pd.api.types.is_numeric_dtype(s.dtype):
        v = values.to_numpy(np.float64)
        if len(v):
            p.lo, p.hi = float(v.min()), float(v.max())
        # a float column beyond 2**53 is whole numbers only because float64 has no fractions there
        p.integral = bool(np.all(v == np.round(v))) and (pd.api.types.is_integer_dtype(s.dtype)
                                                         or not np.any(np.abs(v) >= EXACT_INTEGERS))
        p.decimals = 0 if p.integral else _decimals(v[:100_000])
        p.significant = 0 if p.integral else _significant(v[:100_000])
        vc = values.value_counts()
        if len(vc) <= DISTINCT_CAP or (p.integral and ID_NAME.search(p.name)):
            cast = int if p.integral else float
            p.counts = {cast(k): int(c) for k, c in vc.items()}
        else:
            p.many = True
    else:  # text
        text = values.astype(str)
        p.counts = {str(k): int(c) for k, c in text.value_counts().items()}
        first = next(iter(p.counts), None)
        # month first, then day first (01/02/2020 is ambiguous; 13/01/2020 settles it): the format that
        # parses every value wins
        with warnings.catch_warnings():  # pandas warns that an ISO date ignores dayfirst: it is only a second guess
            warnings.simplefilter("ignore", UserWarning)
            formats = [] if first is None else [guess_datetime_format(first, dayfirst=d) for d in (False, True)]
        for fmt in dict.fromkeys(f for f in formats if f):
            zoned = "%z" in fmt or "%Z" in fmt  # zone-aware text: learned in UTC, written back in its offset
            parsed = pd.to_datetime(text, format=fmt, errors="coerce", **({"utc": True} if zoned else {}))
            if parsed.notna().all():
                if zoned:
                    p.dt_tz = zone_of_text(p.name, fmt, text)
                ns = utc_naive(parsed).astype("datetime64[ns]").astype("int64").to_numpy()
                p.dt_format, p.dt_ok, p.dt_unit = fmt, True, _finest_unit(ns)
                p.lo, p.hi = float(ns.min()), float(ns.max())
                break
    return p


def _is_text(dtype: str) -> bool:
    return not (pd.api.types.is_numeric_dtype(dtype) or dtype.startswith(("bool", "datetime")))


def merge_profiles(a: Profile, b: Profile) -> Profile:
    """One profile for two chunks of the same column (streamed reading)."""
    if a.dtype != b.dtype and (_is_text(a.dtype) or _is_text(b.dtype)):  # text anywhere is text everywhere
        a.counts = {str(k): c for k, c in a.counts.items()}
        b.counts = {str(k): c for k, c in b.counts.items()}
        a.dtype = a.dtype if _is_text(a.dtype) else b.dtype
    elif a.dtype != b.dtype:  # int in one chunk, float (a null) in the other
        a.dtype = "float64"
    a.many = a.many or b.many
    if not a.many:
        for k, c in b.counts.items():
            a.counts[k] = a.counts.get(k, 0) + c
        a.many = len(a.counts) > DISTINCT_CAP and not _is_text(a.dtype) and not ID_NAME.search(a.name)
    if a.many:
        a.counts = {}
    a.n, a.nulls = a.n + b.n, a.nulls + b.nulls
    a.lo, a.hi = min(a.lo, b.lo), max(a.hi, b.hi)
    a.integral, a.decimals = a.integral and b.integral, max(a.decimals, b.decimals)
    a.significant = max(a.significant, b.significant)
    if a.dt_ok and b.dt_ok and a.dt_format == b.dt_format and a.dt_tz != b.dt_tz:
        raise DataError(f"column '{a.name}' holds datetimes in more than one UTC offset ({a.dt_tz}, {b.dt_tz}); "
                        f"write them in one offset (e.g. all converted to UTC), or learn its text as categories "
                        f"(data.discrete, or table-report's --discrete)")
    a.dt_ok = a.dt_ok and b.dt_ok and a.dt_format == b.dt_format
    a.dt_unit = min(a.dt_unit, b.dt_unit, key=lambda u: -DATETIME_UNITS[u])
    return a


def _id_form(values: Sequence[str]) -> dict[str, Any]:
    """The pattern an ID column's values follow: prefix + zero-padded number, else a character template."""
    m = [re.fullmatch(r"(.*?)(\d+)", v) for v in values[:1000]]
    if all(m) and len({x.group(1) for x in m}) == 1:
        widths = {len(x.group(2)) for x in m}
        padded = any(x.group(2).startswith("0") for x in m) and len(widths) == 1
        return {"id_prefix": m[0].group(1), "id_width": widths.pop() if padded else 0, "id_numeric": True}
    if len({len(v) for v in values[:1000]}) == 1:
        template = []
        for chars in zip(*values[:1000]):
            cs = set(chars)
            if len(cs) == 1:
                template.append("\\" + chars[0] if chars[0] in "9aAx\\" else chars[0])  # a constant, literal
            elif all(c.isdigit() for c in cs):
                template.append("9")
            elif all(c in "0123456789abcdef" for c in cs):
                template.append("x")
            elif all(c.islower() for c in cs):
                template.append("a")
            elif all(c.isupper() for c in cs):
                template.append("A")
            else:
                template.append("x")
        return {"id_numeric": False, "id_template": "".join(template)}
    return {"id_prefix": "id", "id_numeric": True}


def decide(p: Profile, *, discrete: bool = False, is_id: bool = False) -> ColumnSpec:
    """The spec of a column from its merged profile (and the user's overrides)."""
    if p.nulls == p.n:
        raise DataError(f"column '{p.name}' holds only nulls; drop it from the table (it has nothing to learn)")
    base = dict(name=p.name, dtype=p.dtype, has_nulls=p.nulls > 0, null_count=p.nulls)
    unique_rows = not p.many and len(p.counts) == p.n and p.nulls == 0
    is_text = _is_text(p.dtype)
    if discrete and p.many:
        raise DataError(f"column '{p.name}' has over {DISTINCT_CAP} distinct numbers, too many to learn as "
                        f"categories; remove it from data.discrete")
    if is_id or (not discrete and unique_rows and p.n >= MIN_ID_ROWS and not p.dt_ok
                 and (is_text or (p.integral and ID_NAME.search(p.name)))):
        keys = [str(k) for k in p.counts]
        form = _id_form(keys) if is_text else {"id_prefix": "", "id_numeric": True}
        return ColumnSpec(kind="id", min=p.lo if not is_text else None, max=p.hi if not is_text else None,
                          **base, **form)
    if p.dt_ok and not discrete:
        return ColumnSpec(kind="datetime", min=p.lo / DATETIME_UNITS[p.dt_unit], max=p.hi / DATETIME_UNITS[p.dt_unit],
                          datetime_format=p.dt_format, datetime_unit=p.dt_unit, datetime_tz=p.dt_tz, **base)
    boolean = p.dtype.startswith("bool") or (is_text and any(set(p.counts) <= b for b in BOOLEAN_TEXTS))
    if discrete or is_text or boolean:
        order = sorted(p.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        kind = "boolean" if boolean else "categorical"
        return ColumnSpec(kind=kind, categories=tuple(_python(k) for k, _ in order),
                          counts=tuple(int(c) for _, c in order), **base)
    decimals = 0 if p.integral else (p.decimals if p.decimals <= MAX_DECIMALS else None)
    significant = p.significant if decimals is None and 0 < p.significant <= MAX_SIGNIFICANT else None
    return ColumnSpec(kind="numeric", is_integer=p.integral, decimals=decimals, significant=significant,
                      min=p.lo, max=p.hi, **base)


def check_names(df_columns: Iterable[str], *, discrete: Iterable[str] = (), ids: Iterable[str] = (),
                target: str | None = None) -> None:
    """One line for a column override that names no column of the table."""
    cols = [str(c) for c in df_columns]
    for key, names in (("data.discrete", discrete), ("data.ids", ids), ("data.target", [target] if target else [])):
        for n in names:
            if n not in cols:
                raise ConfigError(f"{key}: '{n}' is not a column of the table{did_you_mean(n, cols)}; "
                                  f"its columns are: {', '.join(cols)}")


def infer_columns(df: pd.DataFrame, *, discrete: Iterable[str] = (), ids: Iterable[str] = (),
                  target: str | None = None) -> list[ColumnSpec]:
    """A spec per column of ``df``, in its order. ``discrete`` (and ``target``) are learned as categories
    whatever their values; ``ids`` are not learned but regenerated unique."""
    discrete, ids = list(discrete), list(ids)
    check_names(df.columns, discrete=discrete, ids=ids, target=target)
    return [decide(profile(df[c]), discrete=c in discrete or c == target, is_id=c in ids) for c in df.columns]


def decide_all(profiles: Sequence[Profile], *, discrete: Iterable[str] = (), ids: Iterable[str] = (),
               target: str | None = None) -> list[ColumnSpec]:
    """:func:`infer_columns` for merged profiles (a table read in chunks)."""
    discrete, ids = list(discrete), list(ids)
    check_names([p.name for p in profiles], discrete=discrete, ids=ids, target=target)
    return [decide(p, discrete=p.name in discrete or p.name == target, is_id=p.name in ids) for p in profiles]


def _example(spec: ColumnSpec) -> str:
    if spec.id_numeric:
        return f"{spec.id_prefix}{'0' * max(spec.id_width - 1, 0)}1"
    return re.sub(r"\\(.)", r"\1", spec.id_template)


def describe(specs: Sequence[ColumnSpec]) -> str:
    """The printout: one line per column, saying how it is learned (or that it is not)."""
    width = max([len(s.name) for s in specs] + [6])
    lines = []
    for s in specs:
        nulls = f", {s.null_count} nulls (learned as their own {'category' if s.kind in ('categorical', 'boolean') else 'mode'})" if s.has_nulls else ""
        if s.kind == "numeric":
            what = (f"integer {s.min:g}..{s.max:g}" if s.is_integer
                    else f"decimal {s.min:g}..{s.max:g}, "
                         + (f"{s.decimals} decimals" if s.decimals is not None else
                            f"{s.significant} significant digit{'s' * (s.significant > 1)}" if s.significant
                            else "full precision"))
        elif s.kind in ("categorical", "boolean"):
            shown = ", ".join(map(str, s.categories[:5])) + (", ..." if len(s.categories) > 5 else "")
            what = f"{len(s.categories)} categories ({shown})"
        elif s.kind == "datetime":
            what = f"{s.datetime_format or 'datetime64'}, unit {s.datetime_unit}"
            if s.datetime_tz:
                what += f", learned in UTC, written in {s.datetime_tz}"
        else:
            what = f"not learned, regenerated unique (form {_example(s)})"
        lines.append(f"  {s.name:<{width}}  {s.kind:<11}  {what}{nulls}")
    return "\n".join(lines)


__all__ = ["ColumnSpec", "KINDS", "decide", "decide_all", "describe", "infer_columns", "merge_profiles", "profile"]
