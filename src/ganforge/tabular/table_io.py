"""Reading a table from CSV or Parquet, and writing one for the user.

Every way a table can be unreadable is found here and said in one line naming the file and the
fix (a :class:`~ganforge.errors.DataError`): a missing file, an empty one, a row with more or fewer
fields than the header, a file that is not UTF-8, a column of only nulls, a table of one row, a
Parquet file without pyarrow, a file separated by ';', tabs or '|' (read as one column), an inf in
a numeric column. pandas would read a short row silently (filling nulls), so the number of fields
per row is checked by the csv module while the file is read in chunks.

A large CSV is read in chunks of rows (:func:`iter_table`), so nothing here needs the whole file
in memory; :func:`read_table` is the same reading, concatenated.
"""

from __future__ import annotations

import csv
import importlib.util
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ganforge import outputs
from ganforge.errors import DataError

MIN_ROWS = 2  # a table of one row has no distribution to learn (no spread, no frequencies)
CHUNK_ROWS = 100_000  # rows per chunk when a table is streamed (a few tens of MB of pandas per chunk)
SUFFIXES = (".csv", ".parquet", ".pq")
# Separators other than a comma that a spreadsheet export uses. A CSV read with ',' whose header is one field
# holding one of these is such a file read as one column: refused with the fix (save it comma-separated) rather
# than sniffed, so every command (train, sample's written rows, table-report) reads a table the same one way.
OTHER_SEPARATORS = {";": "';'", "\t": "tab", "|": "'|'"}
# A CSV is read as UTF-8 with an optional byte-order mark (Excel's "CSV UTF-8" starts with one): the csv module's
# header checks and pandas must see the same first name, or a BOM hides a nameless first column ('\ufeff' is not
# '') or a duplicate first name ('\ufeffa' is not 'a') that pandas, which drops the BOM, renames.
ENCODING = "utf-8-sig"


def _check_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError(f"table {p} does not exist; check the path given to data.name (csv:PATH or parquet:PATH)")
    if p.is_dir():
        raise DataError(f"table {p} is a folder; name a .csv or .parquet file")
    if p.stat().st_size == 0:
        raise DataError(f"table {p} is empty; it needs a header row and at least {MIN_ROWS} rows")
    return p


def _has_pyarrow() -> bool:
    """Whether the optional pyarrow (pandas' Parquet engine) is installed; looked up, never imported here."""
    return importlib.util.find_spec("pyarrow") is not None


def _parquet(p: Path) -> pd.DataFrame:
    if not _has_pyarrow():
        raise DataError(f"reading {p} needs pyarrow; install it with pip install 'ganforge[parquet]' "
                        f"or save the table as CSV")
    try:
        return pd.read_parquet(p)
    except Exception as exc:  # noqa: BLE001  (pyarrow raises its own kinds for a damaged file)
        raise DataError(f"table {p} is not a readable Parquet file ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:120]}); check the file") from None


def _check_fields(p: Path) -> None:
    """Every row has the header's number of fields, and the file is UTF-8 (one pass of the csv module)."""
    try:
        with open(p, newline="", encoding=ENCODING) as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise DataError(f"table {p} is empty; it needs a header row and at least {MIN_ROWS} rows")
            _check_separator(p, header)
            check_header(p, header)
            for row in reader:
                if row and len(row) != len(header):
                    raise DataError(f"table {p}: line {reader.line_num} has {len(row)} fields but the header has "
                                    f"{len(header)}; fix that row (a missing or extra comma, or an unquoted comma "
                                    f"inside a value)")
    except UnicodeDecodeError as exc:
        raise DataError(f"table {p} is not UTF-8 text (byte {exc.object[exc.start:exc.start + 1]!r} at offset "
                        f"{exc.start}); save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None
    except csv.Error as exc:
        raise DataError(f"table {p} is not valid CSV ({exc}); fix the file") from None


def check_header(p: Path, header: list) -> None:
    """Every column has a name of its own: pandas would rename a second 'a' to 'a.1' and call a nameless column
    'Unnamed: 0', and both would be learned and written back under names the file does not have."""
    names = [str(h) for h in header]
    empty = [i + 1 for i, h in enumerate(names) if h == ""]
    if empty:
        index = (" (a nameless first column is usually the row index pandas writes: re-save the table with "
                 "DataFrame.to_csv(path, index=False), or drop that column)" if empty[0] == 1 else
                 "; name it, or drop the column")
        raise DataError(f"table {p}: column {empty[0]} of the header has no name{index}")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise DataError(f"table {p}: columns {seen[name] + 1} and {i + 1} are both named {name!r}; give every "
                            f"column its own name (rename one, or drop it if it is a copy)")
        seen[name] = i


def _check_separator(p: Path, header: list[str]) -> None:
    """A header of one field that splits on ';', a tab or '|' is another separator's file read with ','."""
    if len(header) != 1:
        return
    for sep, name in OTHER_SEPARATORS.items():
        if len([part for part in header[0].split(sep) if part.strip()]) > 1:
            raise DataError(f"table {p} has one column named {header[0]!r}; it looks {name}-separated: save it "
                            f"comma-separated (e.g. pandas.read_csv(path, sep={sep!r}).to_csv(new_path, "
                            f"index=False))")


def _check_finite(df: pd.DataFrame, p: Path, first_row: int) -> None:
    """No inf in a numeric column: pandas reads 'inf' as a float, and no transform, range or histogram has a
    place for it (it would crash training after the run folder is made). ``first_row``: the chunk's first row
    number (data rows counted from 1, the header not counted)."""
    for name in df.columns:
        column = df[name]
        if not pd.api.types.is_float_dtype(column):
            continue
        bad = np.flatnonzero(np.isinf(column.to_numpy(dtype=np.float64, na_value=np.nan)))
        if len(bad):
            value = column.iloc[bad[0]]
            more = f" (and at least {len(bad) - 1} more)" if len(bad) > 1 else ""  # counted in this chunk
            raise DataError(f"table {p}: column {str(name)!r} holds {value} at row {first_row + int(bad[0])}"
                            f"{more}; replace it with a finite number, or leave the cell empty (a null)")


def iter_table(path: str | os.PathLike, *, chunk_rows: int = CHUNK_ROWS,
               dtype: dict | None = None) -> Iterator[pd.DataFrame]:
    """The table in chunks of ``chunk_rows`` rows (a Parquet file: one chunk). Checks the file first."""
    p = _check_path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        df = _parquet(p)
        check_header(p, list(df.columns))
        _check_finite(df, p, 1)
        yield df
        return
    _check_fields(p)
    try:
        reader = pd.read_csv(p, chunksize=chunk_rows, encoding=ENCODING, dtype=dtype)
        first_row = 1
        for chunk in reader:
            _check_finite(chunk, p, first_row)
            first_row += len(chunk)
            yield chunk
    except pd.errors.EmptyDataError:
        raise DataError(f"table {p} is empty; it needs a header row and at least {MIN_ROWS} rows") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"table {p} cannot be read as CSV ({str(exc).splitlines()[0][:160]}); fix the file") from None


def check_table(df: pd.DataFrame, path: str | os.PathLike) -> pd.DataFrame:
    """The checks on a whole table: enough rows, no column of only nulls, no blank column name."""
    if len(df) < MIN_ROWS:
        raise DataError(f"table {path} has {len(df)} row{'s' * (len(df) != 1)}; a table to learn needs at least "
                        f"{MIN_ROWS} rows")
    empty = [str(c) for c in df.columns if df[c].isna().all()]
    if empty:
        raise DataError(f"table {path}: column(s) {', '.join(empty)} hold only nulls; drop them (there is "
                        f"nothing to learn from them)")
    return df


def read_table(path: str | os.PathLike, *, dtype: dict | None = None) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame, or a one-line DataError saying what is wrong with it (``dtype``:
    columns of a CSV read as given, e.g. text columns as str, as training read them)."""
    chunks = list(iter_table(path, dtype=dtype))
    df = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    return check_table(df, path)


def write_table(df: pd.DataFrame, path: str | os.PathLike, *, force: bool = False, flag: str = "--out") -> Path:
    """Write ``df`` as CSV or Parquet (by the suffix) through :mod:`ganforge.outputs`: checked first,
    written whole or not at all, an existing file refused unless ``force``."""
    target = outputs.check_file(path, flag=flag, force=force, suffixes=SUFFIXES)
    if target.suffix.lower() != ".csv":
        if not _has_pyarrow():
            raise DataError(f"writing {target} needs pyarrow; install it with pip install 'ganforge[parquet]' "
                            f"or write a .csv")
    with outputs.atomic(target, flag=flag, force=force) as (temp,):
        if target.suffix.lower() == ".csv":
            df.to_csv(temp, index=False, encoding="utf-8")
        else:
            df.to_parquet(temp, index=False)
    return target


def write_table_chunks(chunks: Iterable[pd.DataFrame], path: str | os.PathLike, *, force: bool = False,
                       flag: str = "--out") -> Path:
    """:func:`write_table` for a table that arrives in chunks: a CSV is written chunk by chunk (one header),
    so memory holds one chunk; Parquet is gathered and written whole (pyarrow writes one file at once)."""
    target = outputs.check_file(path, flag=flag, force=force, suffixes=SUFFIXES)
    if target.suffix.lower() != ".csv":
        return write_table(pd.concat(list(chunks), ignore_index=True), target, force=force, flag=flag)
    with outputs.atomic(target, flag=flag, force=force) as (temp,):
        with open(temp, "w", encoding="utf-8", newline="") as f:
            for i, df in enumerate(chunks):
                df.to_csv(f, index=False, header=i == 0)
    return target


__all__ = ["CHUNK_ROWS", "MIN_ROWS", "check_table", "iter_table", "read_table", "write_table", "write_table_chunks"]
