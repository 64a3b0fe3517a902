"""A store: images decoded once, read by training without decoding (``store:PATH``; ``folder:PATH`` caches one).

Layout of a store folder::

    images.u8     uint8 (N, C, H, W), C order, no header   (read through numpy.memmap)
    labels.i64    int64 (N,), when labelled
    mean.npy      float32 (C, H, W), the mean image (so nothing has to read every image to get it)
    dataset.json  format, shape, source, options, counts, classes, content hash; written last

Why a raw uint8 array (a numpy memmap for whole-array use, ``pread`` for the loader's rows) rather than
zarr, litdata or webdataset: no new dependency; a batch is one read per image into its buffer and
nothing is decoded; the pages live in the OS page cache, shared by every DataLoader worker and every
DDP rank on a machine instead of copied into each; random access per image (a GAN samples uniformly)
is one seek. A multi-machine layout is the same files split by rows (one store per shard); not built yet.

A store-backed :class:`~ganforge.data.base.Dataset` holds ``x`` as a tensor over the memory map (no
bytes read until indexed) tagged with :class:`StoreFiles`; :func:`ganforge.training.batches.real_batches`
sees the tag and streams batches through a DataLoader instead of moving the tensor to the device.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import Dataset, LoadRequest
from ganforge.data.folder import IMAGE_SUFFIXES
from ganforge.errors import DataError

FORMAT = "ganforge-store"
VERSION = 1
IMAGES, LABELS, MEAN, MANIFEST = "images.u8", "labels.i64", "mean.npy", "dataset.json"
TAG = "_ganforge_store"  # the attribute a store-backed x carries
PARTIAL = ".partial-"  # DEST.partial-<pid>: a build in progress (or an interrupted one)
REBUILD = "rebuild it with ganforge dataset"  # a damaged store's fix when nothing more is known (see damaged_fix)


class StoreFiles:
    """A store's arrays, opened lazily in whichever process reads them (a DataLoader worker maps the
    file itself rather than receiving a pickled copy of it)."""

    def __init__(self, path: str | Path, shape: tuple[int, int, int, int], labelled: bool,
                 fix: str = REBUILD):
        self.path, self.shape, self.labelled, self.fix = str(path), tuple(shape), labelled, fix
        self._x = self._y = None
        self._fd: int | None = None

    def arrays(self) -> tuple[np.memmap, np.memmap | None]:
        if self._x is None:
            # "c" (copy-on-write): torch wants a writable array; writes would stay private, never reach the file.
            self._x = np.memmap(Path(self.path) / IMAGES, np.uint8, "c", shape=self.shape)
            if self.labelled:
                self._y = np.memmap(Path(self.path) / LABELS, np.int64, "r", shape=(self.shape[0],))
        return self._x, self._y

    def rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Images (and labels) ``idx`` in that order, read in ascending file order.

        The images are read with ``pread`` into the batch's own buffer, not gathered from the memory map:
        a fault on a mapped file maps the kernel's whole page-cache folio (up to megabytes on a file
        written in large blocks), so a worker gathering 64 random rows through the map came to hold
        gigabytes of a big store as resident memory (benchmarks/data.py measured 3.3 GB summed RSS on a
        200k-image store against 1.0 GB on a 10k one, with the same anonymous memory). Read this way,
        the pages stay in the shared page cache and a process holds only its batches.
        """
        _, y = self.arrays()
        if self._fd is None:
            self._fd = os.open(Path(self.path) / IMAGES, os.O_RDONLY)
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        row = int(np.prod(self.shape[1:]))
        xs = np.empty((len(idx), *self.shape[1:]), np.uint8)
        flat = xs.reshape(len(idx), row)
        for slot, i in zip(order, sorted_idx):
            if os.preadv(self._fd, [flat[slot]], int(i) * row) != row:
                raise DataError(f"{Path(self.path) / IMAGES} ended before row {int(i)}; the store is damaged, "
                                f"{self.fix}")
        return xs, (np.asarray(y[sorted_idx][np.argsort(order)]) if y is not None else None)

    def __getstate__(self) -> dict:
        return {"path": self.path, "shape": self.shape, "labelled": self.labelled, "fix": self.fix}

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["shape"], state["labelled"], state.get("fix", REBUILD))


def stored(x: torch.Tensor) -> StoreFiles | None:
    """The store behind ``x``, when ``x`` is a store's memory-mapped images."""
    return getattr(x, TAG, None)


def _holds_images(folder: Path) -> bool:
    """Whether any image file lies under ``folder`` (stops at the first: only a hint depends on it)."""
    for _, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if any(Path(f).suffix.lower() in IMAGE_SUFFIXES and not f.startswith(".") for f in files):
            return True
    return False


def _fix_unknown(path: Path) -> str:
    """How to rebuild a store whose dataset.json cannot be read: what it was built from is not known here."""
    return f"{REBUILD} SRC --out {shlex.quote(str(path))} --force, giving the source and options it was built with"


def damaged_fix(path: Path, meta: dict, rebuild: Callable[[Path, dict], str] | None = None) -> str:
    """What to do about a damaged store: folder:'s cache is deleted (the next run builds it again with folder:'s
    own options); a store of ``ganforge dataset`` is rebuilt with the command ``rebuild(path, meta)`` gives
    (:func:`ganforge.data.store_build.rebuild_command`: the one that built it, from its dataset.json)."""
    if meta.get("source_key"):  # folder:'s cache: built with folder:'s own options, so deleted, not rebuilt by hand
        return f"delete {path} (folder:'s cache) and the next run builds it again"
    if rebuild is None:
        return (f"{REBUILD} {shlex.quote(str(meta.get('source') or 'SRC'))} --out {shlex.quote(str(path))} --force, "
                "giving the options it was built with")
    return f"rebuild it with {rebuild(path, meta)}"


def read_manifest(path: Path) -> dict:
    manifest = path / MANIFEST
    if not manifest.is_file():
        if PARTIAL in path.name:  # the store it was meant to become is named without the suffix
            meant = path.with_name(path.name.split(PARTIAL)[0])
            raise DataError(f"{path} is not a finished ganforge store (no {MANIFEST}; it is an interrupted build, "
                            f"which can be deleted); build the store again with ganforge dataset SRC --out {meant}")
        if _holds_images(path):
            raise DataError(f"{path} is a folder of images, not a ganforge store (no {MANIFEST}); train on it with "
                            f"--set data.name=folder:{path}, or build a store from it with "
                            f"ganforge dataset {path} --out {path}-store")
        raise DataError(f"{path} is not a finished ganforge store (no {MANIFEST}); build one with "
                        f"ganforge dataset SRC --out {path}")
    try:
        meta = json.loads(manifest.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {manifest} ({exc}); the store is damaged, {_fix_unknown(path)}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise DataError(f"{path} is not a version-{VERSION} ganforge store; {_fix_unknown(path)}")
    shape = meta.get("shape")
    if not (isinstance(shape, list) and len(shape) == 4 and all(type(n) is int and n > 0 for n in shape)
            and isinstance(meta.get("labels"), bool)):
        raise DataError(f"{manifest} gives no image shape (N, C, H, W) or labels flag; the store is damaged, "
                        f"{_fix_unknown(path)}")
    return meta


def open_store(path: str | Path, name: str, split: str = "train",
               rebuild: Callable[[Path, dict], str] | None = None) -> Dataset:
    """A store as a Dataset whose images stay on disk until indexed; a damaged one is refused with the command
    ``rebuild(path, meta)`` gives (see :func:`damaged_fix`)."""
    path = Path(path).expanduser().resolve()
    if path.is_file() and path.suffix.lower() == ".npz":
        raise DataError(f"{path} is an .npz file, not a store; train on it with --set data.name=npz:{path}, "
                        f"or build a store from it with ganforge dataset {path} --out {path.with_suffix('')}-store")
    if not path.is_dir():
        raise DataError(f"{path} is not a folder; give the --out folder of ganforge dataset")
    meta = read_manifest(path)
    shape = tuple(int(s) for s in meta["shape"])
    fix = damaged_fix(path, meta, rebuild)
    sizes = {IMAGES: int(np.prod(shape)), MEAN: None}
    if meta["labels"]:
        sizes[LABELS] = shape[0] * np.dtype(np.int64).itemsize
    for name, expected in sizes.items():  # a missing or cut-off file is a damaged store, not a crash in training
        f = path / name
        if not f.is_file():
            raise DataError(f"{path} has no {name}; the store is damaged, {fix}")
        if expected is not None and f.stat().st_size != expected:
            raise DataError(f"{f} has {f.stat().st_size} bytes, expected {expected}; the store is damaged, "
                            f"{fix}")
    files = StoreFiles(path, shape, bool(meta["labels"]), fix)
    xs, ys = files.arrays()
    x = torch.from_numpy(xs)
    setattr(x, TAG, files)
    y = torch.from_numpy(np.array(ys)) if ys is not None else None  # small: read, not mapped
    classes = meta.get("classes")
    info = {"source": meta.get("source"), "store": str(path), "content_sha256": meta["content_sha256"],
            "split": split, "options": meta.get("options"), "mean_image_file": str(path / MEAN)}
    if classes is not None:
        info["classes"] = classes
    return Dataset(name=name, kind="image", x=x, y=y, num_classes=len(classes) if classes else None, meta=info)


def check_request(req: LoadRequest, shape: tuple[int, ...], where: str, source: str | None = None) -> None:
    """A store has one size and channel count: a different data.resolution/channels is an error, not a resize.
    The fix names a second store built from the first one's ``source`` at the size asked for."""
    for opt, have in (("resolution", shape[-1]), ("channels", shape[1])):
        want = getattr(req, opt)
        if want is not None and want != have:
            build = shlex.join(["ganforge", "dataset", source or "SRC", "--out", f"{Path(where).name}-{opt}{want}",
                                f"--{opt}", str(want)])
            raise DataError(f"data.{opt}={want} but the store {where} has {opt} {have}; remove data.{opt}, "
                            f"or build a store at that {opt} with {build} (and the other options it was built with)")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
