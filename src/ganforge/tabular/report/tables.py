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

from ganforge.errors import warn
from ganforge.errors import DataError, did_you_mean
from ganforge.tabular.columns import describe, infer_columns
from ganforge.tabular.table_io import MIN_ROWS, iter_table, read_table


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


def check_holdout(holdout: pd.DataFrame, real: pd.DataFrame, path: str, real_path: str) -> None:
    """A holdout is real rows the generator never saw: at least REAL's minimum of rows (one row gives a
    membership AUROC and a utility score of nothing), and a warning when it is REAL itself, whose rows the
    generator did see (every holdout score then reads as no leak)."""
    if len(holdout) < MIN_ROWS:
        raise DataError(f"--holdout {path} has {len(holdout)} row{'s' * (len(holdout) != 1)}; a holdout needs at "
                        f"least {MIN_ROWS} (as REAL does), and far more for a membership AUROC worth reading")
    same = Path(path).resolve() == Path(real_path).resolve() or holdout.equals(real)
    if same:
        warn(f"--holdout {path} is REAL itself, rows the generator was trained on; the closer-to-train share, the "
             f"membership AUROC and utility then measure nothing: give real rows left out of training")


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
    if all(s.kind == "id" for s in specs):  # nothing to score: every measure would get zero columns
        if set(ids) >= set(columns):
            raise DataError(f"--ids names every column of REAL ({', '.join(columns)}); an ID is not scored, so leave "
                            f"at least one column out of --ids")
        raise DataError(f"REAL has no column to score: every column ({', '.join(columns)}) was inferred as an ID (a "
                        f"value unique to each row); name the categorical ones with --discrete")
    return {s.name: s.kind for s in specs}, "columns of REAL (as training infers them):\n" + describe(specs)


__all__ = ["check_holdout", "kinds_of", "read"]
