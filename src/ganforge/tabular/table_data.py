"""``csv:PATH`` and ``parquet:PATH``: a table as a Dataset of transformed rows, streamed from disk.

Loading reads the file twice, a chunk of rows at a time, so no step holds the whole table:

1. every chunk is profiled (``columns.profile``; the profiles are merged) and a uniform subsample of
   :data:`GMM_ROWS` rows is kept (each row gets a random key from the seed and the smallest keys
   win), then the column kinds are decided (with ``data.discrete``, ``data.target``, ``data.ids``),
   printed, and the modes of each continuous column are fitted on the subsample;
2. every chunk is transformed (its modes drawn from a stream of the seed and the chunk's number) and
   appended to a float32 file in the data directory, ``tables/<key>/rows.f32``; the Dataset's ``x``
   is a tensor over that file mapped into memory (``numpy.memmap``, as image stores are: see
   data/store.py), so a table larger than memory trains from disk. ``table.json`` (written last)
   records what the file holds; a second load of the same file, options and seed reuses it.

The key is the sha256 of the file with the options and the seed, so an edited table or another
``data.discrete`` never reuses stale rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganforge.data.base import Dataset, LoadRequest, limited
from ganforge.data.fingerprint import fingerprint
from ganforge.data.paths import resolve_data_dir
from ganforge.data.registry import register
from ganforge.download import sha256_file
from ganforge.errors import DataError
from ganforge.tabular.columns import ColumnSpec, decide_all, describe, merge_profiles, profile
from ganforge.tabular.table_io import CHUNK_ROWS, ENCODING, MIN_ROWS, iter_table
from ganforge.tabular.transform import GMM_ROWS, TableTransformer

# VERSION is part of every cache key: bump it whenever the transform or the file layout changes, so a cache
# written by older code is never read as if this code had written it (2: the pooled-category transform).
FORMAT, VERSION = "ganforge-table", 3  # 3: ColumnSpec.significant (round 18)
ROWS, MANIFEST = "rows.f32", "table.json"


def text_dtypes(path: str | os.PathLike, chunk_rows: int | None = None) -> dict[str, type] | None:
    """The ``dtype`` a table is read with (``iter_table(path, dtype=...)``): a CSV's :func:`_text_columns`, read
    as text; None for Parquet, whose columns carry their types. ``ganforge table-report`` reads its tables by this
    rule too, so it scores each column as training learns it (a code column 007, 012 as categories, not numbers)."""
    path = Path(path)
    return _text_columns(path, chunk_rows or CHUNK_ROWS) if path.suffix.lower() == ".csv" else None


def _text_columns(path: Path, chunk_rows: int) -> dict[str, type]:
    """Columns read as text in every chunk: those read as text in the first chunk, so that a later chunk of
    digits ("0042") is not turned into numbers (42) and keys stay the same across chunks, and those whose
    text pandas would not write back as it was (:func:`kept_as_text`)."""
    first = next(iter_table(path, chunk_rows=chunk_rows))
    raw = pd.read_csv(path, nrows=chunk_rows, dtype=str, encoding=ENCODING)
    return {c: str for c in first.columns
            if not (pd.api.types.is_numeric_dtype(first[c]) or pd.api.types.is_bool_dtype(first[c])
                    or pd.api.types.is_datetime64_any_dtype(first[c])) or kept_as_text(first[c], raw[c])}


def kept_as_text(parsed: pd.Series, raw: pd.Series) -> bool:
    """Whether a column pandas read as numbers or booleans is text to keep as it is written: codes with leading
    zeros (000, 0042: read as 0 and 42, they would come back as such, so the column is learned as text, a
    categorical or an ID) and booleans spelled true/false or TRUE/FALSE (pandas writes True/False)."""
    text = raw.dropna().str.strip()
    if pd.api.types.is_bool_dtype(parsed):
        return not set(text) <= {"True", "False"}
    return bool(text.str.fullmatch(r"[+-]?0\d+").any())


def scan(path: str | os.PathLike, *, seed: int, discrete=(), ids=(), target=None, chunk_rows: int | None = None,
         gmm_rows: int = GMM_ROWS) -> tuple[list[ColumnSpec], pd.DataFrame, int, dict]:
    """Pass 1: (specs, a uniform subsample of at most ``gmm_rows`` rows, the number of rows, text dtypes)."""
    path, chunk_rows = Path(path), chunk_rows or CHUNK_ROWS
    dtype = text_dtypes(path, chunk_rows)
    rng = np.random.default_rng(seed)
    profiles, kept, keys, n = None, None, None, 0
    for chunk in iter_table(path, chunk_rows=chunk_rows, dtype=dtype):
        chunk_profiles = [profile(chunk[c]) for c in chunk.columns]
        profiles = chunk_profiles if profiles is None else [merge_profiles(a, b) for a, b in zip(profiles, chunk_profiles)]
        k = rng.random(len(chunk))
        pool = chunk if kept is None else pd.concat([kept, chunk], ignore_index=True)
        pool_keys = k if keys is None else np.concatenate([keys, k])
        best = np.sort(np.argsort(pool_keys, kind="stable")[:gmm_rows])
        kept, keys = pool.iloc[best].reset_index(drop=True), pool_keys[best]
        n += len(chunk)
    if n < MIN_ROWS:
        raise DataError(f"table {path} has {n} row{'s' * (n != 1)}; a table to learn needs at least {MIN_ROWS} rows")
    specs = decide_all(profiles, discrete=discrete, ids=ids, target=target)
    return specs, kept, n, dtype or {}


def _key(sha: str, req: LoadRequest) -> str:
    text = json.dumps({"sha256": sha, "discrete": list(req.discrete), "ids": list(req.ids), "target": req.target,
                       "seed": req.seed, "version": VERSION, "gmm_rows": GMM_ROWS})
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def build_rows(path: str | os.PathLike, out: Path, transformer: TableTransformer, *, seed: int, n: int,
               dtype: dict, chunk_rows: int | None = None) -> None:
    """Pass 2: every chunk transformed and appended to ``out`` (float32, no header)."""
    written, chunk_rows = 0, chunk_rows or CHUNK_ROWS
    with open(out, "wb") as f:
        for i, chunk in enumerate(iter_table(path, chunk_rows=chunk_rows, dtype=dtype or None)):
            rows = transformer.transform(chunk, rng=np.random.default_rng([seed, i]))
            f.write(rows.tobytes())
            written += len(rows)
    if written != n:
        raise DataError(f"table {path} changed while it was read ({n} rows, then {written}); load it again")


def open_rows(folder: Path) -> tuple[np.memmap, dict]:
    meta = json.loads((folder / MANIFEST).read_text())
    rows = np.memmap(folder / ROWS, np.float32, "c", shape=(meta["rows"], meta["width"]))  # "c": see data/store.py
    return rows, meta


def load_table(req: LoadRequest) -> Dataset:
    """The loader of csv:PATH and parquet:PATH (see the module docstring)."""
    return _load(req)


def fingerprint_table(req: LoadRequest, limit: int | None = None) -> str:
    """The fingerprint (:func:`ganforge.data.fingerprint.fingerprint`, as ``options.json`` records it) of the
    rows ``load_dataset`` gives for ``req`` and ``limit``: read from the data directory's cache when training's
    is there, else built in a temporary folder and removed, so checking a run leaves nothing behind."""
    with tempfile.TemporaryDirectory(prefix="ganforge-table-") as scratch:
        return fingerprint(limited(_load(req, scratch=Path(scratch)), limit))


def _load(req: LoadRequest, scratch: Path | None = None) -> Dataset:
    """:func:`load_table`; with ``scratch``, rows not in the cache are built there instead of in the cache."""
    req.reject("resolution", "channels", "size", "digit", why="a table has rows and columns, not images")
    path = Path(req.path).expanduser()
    kind = req.name.partition(":")[0]
    if path.suffix.lower() not in ((".csv",) if kind == "csv" else (".parquet", ".pq")) and path.exists():
        raise DataError(f"{req.name}: a {kind} table should end in {'.csv' if kind == 'csv' else '.parquet'}; "
                        f"write data.name={'parquet' if kind == 'csv' else 'csv'}:{path} if it is one")
    specs, sub, n, dtype = scan(path, seed=req.seed, discrete=req.discrete, ids=req.ids, target=req.target)
    sha = sha256_file(path)
    folder = resolve_data_dir(req.data_dir) / "tables" / _key(sha, req)
    if scratch is not None and not (folder / MANIFEST).exists():
        folder = scratch / folder.name
    print(f"table {path}: {n} rows, {len(specs)} columns\n{describe(specs)}", flush=True)
    if not (folder / MANIFEST).exists():
        transformer = TableTransformer().fit(sub, specs, seed=req.seed)
        if transformer.output_dim == 0:
            why = ("learn, or drop them from data.ids" if req.ids else  # the user's data.ids, or inference's
                   "learn as categories with data.discrete (every column holds a value unique to each row)")
            raise DataError(f"table {path} has no column to learn (every column is an ID); name the columns to {why}")
        partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
        partial.mkdir(parents=True, exist_ok=True)
        build_rows(path, partial / ROWS, transformer, seed=req.seed, n=n, dtype=dtype)
        manifest = {"format": FORMAT, "version": VERSION, "source": str(path.resolve()), "sha256": sha, "rows": n,
                    "width": transformer.output_dim, "transformer": transformer.state_dict()}
        (partial / MANIFEST).write_text(json.dumps(manifest))
        try:
            partial.rename(folder)
        except OSError:  # another process built the same rows meanwhile: theirs are as good
            for p in partial.iterdir():
                p.unlink()
            partial.rmdir()
    rows, meta = open_rows(folder)
    return Dataset(name=req.name, kind="table", x=torch.from_numpy(rows),
                   meta={"columns": [s.to_dict() for s in specs], "transformer": meta["transformer"],
                         "source": meta["source"], "sha256": sha, "rows": n, "cache": str(folder)})


register("csv:PATH")(load_table)
register("parquet:PATH")(load_table)

__all__ = ["fingerprint_table", "load_table", "open_rows", "scan", "text_dtypes"]
