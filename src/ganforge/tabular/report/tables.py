"""The report's tables and their column kinds, read as ``ganforge train`` reads ``csv:PATH``.

REAL goes through :func:`ganforge.tabular.table_io.read_table` with all its checks (a column of only
nulls is refused: there is nothing to compare it with). The synthetic table and the holdout are read
by the same reader but keep an all-null column, which is a finding about them (a synthesizer that
lost a column), not a broken file. Column kinds come from REAL by
:func:`ganforge.tabular.columns.infer_columns`, the inference training uses, so a report scores each
column as the model learned it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ganforge.errors import DataError, did_you_mean
from ganforge.tabular.columns import describe, infer_columns
from ganforge.tabular.table_io import iter_table, read_table


def read(path: str, flag: str, *, strict: bool) -> pd.DataFrame:
    """A table, or one line naming ``flag`` and what is wrong. ``strict``: REAL's checks (rows, all-null
    columns); else only that there is at least one row."""
    if not Path(path).is_file():
        raise DataError(f"{flag} {path} does not exist (or is not a file); check the path")
    if strict:
        return read_table(path)
    chunks = list(iter_table(path))
    df = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    if len(df) == 0:
        raise DataError(f"{flag} {path} has a header but no rows; give a table with data rows")
    return df


def kinds_of(df: pd.DataFrame, *, discrete=(), ids=()) -> tuple[dict[str, str], str]:
    """(column -> kind, the printout of the inferred columns). The utility target is not forced to a
    category here (training does that): a numeric target is refused by the report, not turned into
    hundreds of classes."""
    columns = [str(c) for c in df.columns]
    for flag, names in (("--discrete", discrete), ("--ids", ids)):
        for name in names:
            if name not in columns:
                raise DataError(f"{flag} {name} is not a column of REAL{did_you_mean(name, columns)}; its columns: "
                                f"{', '.join(columns)}")
    specs = infer_columns(df, discrete=discrete, ids=ids)
    return {s.name: s.kind for s in specs}, "columns of REAL (as training infers them):\n" + describe(specs)


__all__ = ["kinds_of", "read"]
