"""Two image domains: paired (A[i] -> B[i], as pix2pix needs) or unpaired (as CycleGAN needs).

A two-domain dataset is an ordinary :class:`Dataset` for domain A whose ``b``
is the dataset of domain B, so everything that takes a dataset (run records,
the data fingerprint, resume checks) keeps working. Names:

- ``pairs:A_DIR,B_DIR``: files matched by their path relative to each folder,
  extension ignored (``A/cat/01.png`` pairs with ``B/cat/01.jpg``). Files
  without a partner are left out and *reported* (a count and the first names),
  never dropped silently; with no match at all the load fails.
- ``unpaired:A_DIR,B_DIR``: every image of each folder, no correspondence.
- ``npz:FILE`` holding arrays ``a`` and ``b`` (see :func:`from_arrays`).

Labels come from subfolders of A, as with ``folder:``. Each domain keeps its
own channel count (edges may be grey and photos colour) unless
``data.channels`` sets both.
"""

from __future__ import annotations

import dataclasses
from pathlib import PurePosixPath

import numpy as np
import torch

from ganforge.data.base import Dataset, LoadRequest
from ganforge.data.folder import FolderImages, read_folder
from ganforge.data.registry import register
from ganforge.errors import DataError, warn

MAX_NAMED = 5


def _two_dirs(req: LoadRequest) -> tuple[str, str]:
    prefix = req.name.split(":", 1)[0]
    parts = [p.strip() for p in str(req.path).split(",")]
    if len(parts) != 2 or not all(parts):
        raise DataError(f"'{req.name}' needs two folders separated by a comma: {prefix}:A_DIR,B_DIR")
    return parts[0], parts[1]


def _domain(name: str, found: FolderImages, keep: list[int] | None = None) -> Dataset:
    idx = torch.tensor(keep if keep is not None else range(len(found.names)), dtype=torch.int64)
    y = found.y[idx] if found.y is not None else None
    num_classes = len(found.classes) if found.classes is not None else None
    return Dataset(name=name, kind="image", x=found.x[idx].contiguous(), y=y, num_classes=num_classes,
                   meta=found.meta)


def _unmatched(side: str, names: list[str]) -> str:
    more = f", ... (+{len(names) - MAX_NAMED} more)" if len(names) > MAX_NAMED else ""
    return f"{len(names)} in {side} ({', '.join(names[:MAX_NAMED])}{more})"


@register("pairs:PATH", splits=("train", "all"))
def load_pairs(req: LoadRequest) -> Dataset:
    """Paired folders: A's file ``x/y.png`` is the input for B's ``x/y.*``."""
    req.reject("size", why="it holds every matched pair")
    dir_a, dir_b = _two_dirs(req)
    found_a, found_b = read_folder(dir_a, req), read_folder(dir_b, req)
    key = lambda n: str(PurePosixPath(n).with_suffix(""))  # noqa: E731 - the match rule, named once
    index_b = {key(n): i for i, n in enumerate(found_b.names)}
    keep_a, keep_b, only_a = [], [], []
    for i, n in enumerate(found_a.names):
        j = index_b.pop(key(n), None)
        if j is None:
            only_a.append(n)
        else:
            keep_a.append(i)
            keep_b.append(j)
    only_b = [found_b.names[j] for j in sorted(index_b.values())]
    if not keep_a:
        raise DataError(f"no file in {dir_a} has a partner of the same name in {dir_b} "
                        f"({len(found_a.names)} and {len(found_b.names)} files); pairs: matches files by their "
                        "path relative to each folder, extension ignored")
    unmatched = [_unmatched(side, names) for side, names in (("A", only_a), ("B", only_b)) if names]
    if unmatched:
        warn(f"{' and '.join(unmatched)} files have no partner of the same name and are left out; "
             f"{len(keep_a)} pairs are used")
    a = _domain(req.name, found_a, keep_a)
    meta = {**a.meta, "unmatched_a": len(only_a), "unmatched_b": len(only_b), "pairs": len(keep_a)}
    return dataclasses.replace(a, meta=meta, b=_domain(req.name, found_b, keep_b), paired=True)


@register("unpaired:PATH", splits=("train", "all"))
def load_unpaired(req: LoadRequest) -> Dataset:
    """Two folders with no correspondence between their images."""
    req.reject("size", why="it holds every image of both folders")
    dir_a, dir_b = _two_dirs(req)
    a = _domain(req.name, read_folder(dir_a, req))
    return dataclasses.replace(a, b=_domain(req.name, read_folder(dir_b, req)), paired=False)


def from_arrays(name: str, a: np.ndarray, b: np.ndarray, y: np.ndarray | None, paired: bool | None,
                meta: dict) -> Dataset:
    """Two uint8 (N, C, H, W) arrays as a two-domain dataset; paired by default when their lengths agree."""
    if paired is None:
        paired = len(a) == len(b)
    if paired and len(a) != len(b):
        raise DataError(f"{name}: 'paired' is set but a has {len(a)} images and b {len(b)}; give one b per a "
                        "or save paired=False")
    labels = torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)) if y is not None else None
    num_classes = int(y.max()) + 1 if y is not None and len(y) else None
    dom_b = Dataset(name=name, kind="image", x=torch.from_numpy(np.ascontiguousarray(b)), meta=meta)
    return Dataset(name=name, kind="image", x=torch.from_numpy(np.ascontiguousarray(a)), y=labels,
                   num_classes=num_classes, meta=meta, b=dom_b, paired=paired)


__all__ = ["from_arrays", "load_pairs", "load_unpaired"]
