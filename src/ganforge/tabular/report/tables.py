"""Reading the report's tables and their column kinds.

A stand-in written on pandas while the tabular data layer (``table_io.read_table``,
``columns.infer_columns``) is being built; it is replaced by those when they land.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ganforge.errors import DataError

DATETIME_SHARE = 0.95  # a text column is a datetime when this share of its non-null values parses as one


def read(path: str, flag: str) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{flag} {path} does not exist (or is not a file); check the path")
    try:
        df = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise DataError(f"{flag} {path} is empty; give a CSV with a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, ImportError) as e:
        raise DataError(f"{flag} {path} cannot be read as a table ({str(e).splitlines()[0]}); fix the file") from None
    if len(df) == 0:
        raise DataError(f"{flag} {path} has a header but no rows; give a table with data rows")
    return df


def _kind(col: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(col):
        return "boolean"
    present = col.dropna()
    if pd.api.types.is_numeric_dtype(col):
        return "numeric"
    text = present.astype(str)
    if set(text.str.lower()) <= {"true", "false"} and len(text):
        return "boolean"
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    if len(text) and parsed.notna().mean() >= DATETIME_SHARE and text.str.contains(r"\d[-/:]\d").mean() >= DATETIME_SHARE:
        return "datetime"
    if present.is_unique and len(present) == len(col) and len(col) > 20:
        return "id"
    return "categorical"


def kinds_of(df: pd.DataFrame, *, discrete=(), ids=(), target=None) -> tuple[dict[str, str], str]:
    """(column -> kind, one printed line per column)."""
    for name in (*discrete, *ids, *([target] if target else [])):
        if name not in df.columns:
            raise DataError(f"column {name} is not in the table; columns: {', '.join(df.columns)}")
    kinds = {}
    for name in df.columns:
        kinds[name] = ("id" if name in ids else "categorical" if name in discrete or name == target
                       else _kind(df[name]))
    lines = [f"  {name}: {kind}" + (" (not scored, an ID)" if kind == "id" else "") for name, kind in kinds.items()]
    return kinds, "columns:\n" + "\n".join(lines)


__all__ = ["kinds_of", "read"]
