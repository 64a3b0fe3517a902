"""The report's tables and their column kinds, read as ``ganforge train`` reads ``csv:PATH``.

Every table is read with training's dtype rule (:func:`ganforge.tabular.table_data.text_dtypes`): a CSV
column read as text in its first chunk, or written with leading zeros (codes 007, 012), is read as text,
so such codes stay categories and are not parsed as the numbers 7 and 12. REAL goes through
:func:`ganforge.tabular.table_io.read_table` with all its checks (a column of only nulls is refused:
there is nothing to compare it with). The synthetic table and the holdout are read by the same reader
but keep an all-null column, which is a finding about them (a synthesizer that lost a column), not a
broken file. Column kinds come from REAL by :func:`ganforge.tabular.columns.infer_columns`, the
inference training uses, so a report scores each column as the model learned it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ganforge.errors import DataError, did_you_mean
from ganforge.tabular.columns import describe, infer_columns
from ganforge.tabular.report.privacy import row_keys
from ganforge.tabular.table_data import text_dtypes
from ganforge.tabular.table_io import MIN_ROWS, iter_table, read_table

# A holdout may share with the training table the share of rows the training table repeats itself (real
# tables hold duplicate rows), plus this much; more is refused as training rows given as a holdout.
OVERLAP_MARGIN = 0.05


def read(path: str, flag: str, *, strict: bool) -> pd.DataFrame:
    """A table read with training's text columns (see the module notes), or one line naming ``flag`` and what
    is wrong. ``strict``: REAL's checks (rows, all-null columns); else only that there is at least one row."""
    if not Path(path).is_file():
        raise DataError(f"{flag} {path} does not exist (or is not a file); check the path")
    dtype = text_dtypes(path)
    if strict:
        return read_table(path, dtype=dtype)
    chunks = list(iter_table(path, dtype=dtype))
    df = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    if len(df) == 0:
        raise DataError(f"{flag} {path} has a header but no rows; give a table with data rows")
    return df


def overlap(holdout: pd.DataFrame, real: pd.DataFrame, kinds: Mapping[str, str]) -> tuple[int, float, float]:
    """(holdout rows equal to a training row, their share, the share of training rows that equal another
    training row). Rows are compared on every column of ``kinds`` (IDs as text too: a row with another ID is
    another record) by :func:`~ganforge.tabular.report.privacy.row_keys`."""
    keyed = {c: "categorical" if k == "id" else k for c, k in kinds.items()}
    train_keys = row_keys(real, keyed)
    shared = int(row_keys(holdout, keyed).isin(set(train_keys)).sum())
    own = float(train_keys.duplicated(keep=False).mean()) if len(train_keys) else 0.0
    return shared, shared / max(len(holdout), 1), own


def check_overlap(holdout: pd.DataFrame, real: pd.DataFrame, kinds: Mapping[str, str], *, flag: str,
                  real_name: str) -> None:
    """One line when the holdout is (largely) training rows: more than :data:`OVERLAP_MARGIN` of its rows
    beyond the training table's own share of duplicated rows equal a training row. Real tables repeat rows (a
    few categorical columns, people with the same answers), so a true holdout shares about that share with
    the training table; a copy, or a holdout cut with the training rows in it, shares far more, and every
    holdout measure (closer-to-train share, membership AUROC, utility's test set) then reads as no leak."""
    shared, share, own = overlap(holdout, real, kinds)
    if shared and share > own + OVERLAP_MARGIN:
        raise DataError(f"{flag}: {shared} of its {len(holdout)} rows ({share:.0%}) are rows of the training table "
                        f"{real_name} (which repeats {own:.0%} of its own rows); a holdout must be real rows left "
                        f"out of training: give rows the generator never saw")


def check_holdout(holdout: pd.DataFrame, real: pd.DataFrame, path: str, real_path: str,
                  kinds: Mapping[str, str] | None = None) -> None:
    """A holdout is real rows the generator never saw: at least REAL's minimum of rows (one row gives a
    membership AUROC and a utility score of nothing), and not REAL itself nor largely REAL's rows
    (:func:`check_overlap`; ``kinds``: REAL's column kinds, else every column compared as text)."""
    if len(holdout) < MIN_ROWS:
        raise DataError(f"--holdout {path} has {len(holdout)} row{'s' * (len(holdout) != 1)}; a holdout needs at "
                        f"least {MIN_ROWS} (as REAL does), and far more for a membership AUROC worth reading")
    if Path(path).resolve() == Path(real_path).resolve():
        raise DataError(f"--holdout {path} is REAL itself, rows the generator was trained on; give real rows left "
                        f"out of training")
    if set(real.columns) <= set(holdout.columns):  # other columns are refused by the report (same_columns)
        kinds = kinds if kinds is not None else {str(c): "categorical" for c in real.columns}
        check_overlap(holdout, real, kinds, flag=f"--holdout {path}", real_name=f"REAL {real_path}")


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


__all__ = ["OVERLAP_MARGIN", "check_holdout", "check_overlap", "kinds_of", "overlap", "read"]
