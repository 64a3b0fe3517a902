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

What may be replaced is decided here too (:func:`check_dest`): a folder is a store by its dataset.json's
``format``, not by the name dataset.json, which other tools' files have; an empty folder can become one.

A store-backed :class:`~ganforge.data.base.Dataset` holds ``x`` as a tensor over the memory map (no
bytes read until indexed) tagged with :class:`StoreFiles`; :func:`ganforge.training.batches.real_batches`
sees the tag and streams batches through a DataLoader instead of moving the tensor to the device.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import Dataset, LoadRequest
from ganforge.data.folder import IMAGE_SUFFIXES
from ganforge.errors import DataError, warn
from ganforge.outputs import check_dir_writable, named

FORMAT = "ganforge-store"
VERSION = 1
IMAGES, LABELS, MEAN, MANIFEST = "images.u8", "labels.i64", "mean.npy", "dataset.json"
TAG = "_ganforge_store"  # the attribute a store-backed x carries
PARTIAL = ".partial-"  # DEST.partial-<pid>: a build in progress (or an interrupted one)
STORE_FILES = frozenset({IMAGES, LABELS, MEAN, MANIFEST})  # everything a build writes, and all --force may replace
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


def _load(manifest: Path) -> tuple[dict | None, str]:
    """``manifest`` as a mapping, or None and why it cannot be read as one."""
    try:
        meta = json.loads(manifest.read_text())
    except (OSError, ValueError) as exc:
        return None, str(exc)
    return (meta, "") if isinstance(meta, dict) else (None, "not a JSON object")


def _is_store(path: Path, meta: dict | None) -> bool:
    """Whether ``path`` (whose dataset.json reads as ``meta``) is a store, finished or damaged: the name
    dataset.json alone proves nothing (stylegan2-ada's labels file has it), so its ``format`` must be ours; one
    that cannot be read at all is a damaged store's only beside ``images.u8``, which only a build writes."""
    return meta.get("format") == FORMAT if meta is not None else (path / IMAGES).is_file()


def is_store(path: Path) -> bool:
    """Whether the folder ``path`` is a ganforge store (of any version, damaged or not), which ``ganforge dataset
    --force`` may replace; a folder holding someone else's dataset.json is not."""
    manifest = path / MANIFEST
    return manifest.is_file() and _is_store(path, _load(manifest)[0])


def is_empty(folder: Path) -> bool:
    """Whether ``folder`` holds nothing at all, not even a hidden file (one that cannot be listed is not empty):
    the one kind of existing folder a build may be written to, since nothing in it can be lost."""
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def _not_a_store(path: Path, why: str) -> DataError:
    """The refusal of a folder that is no store (``why``: what it lacks), with a build command that works: a
    folder of images is trained on or built from, an empty folder can be the --out, any other needs a new one."""
    if _holds_images(path):
        return DataError(f"{path} is a folder of images, not a ganforge store ({why}); train on it with "
                         f"--set data.name=folder:{path}, or build a store from it with "
                         f"ganforge dataset {path} --out {path}-store")
    if is_empty(path):
        return DataError(f"{path} is not a finished ganforge store (it is empty); build one with "
                         f"ganforge dataset SRC --out {shlex.quote(str(path))}")
    return DataError(f"{path} is not a finished ganforge store ({why}); build one in a new folder with "
                     f"ganforge dataset SRC --out {shlex.quote(f'{path}-store')}")


def read_manifest(path: Path) -> dict:
    """The dataset.json of the store ``path`` (resolved), checked; anything else at ``path`` is one line naming
    what it is and the command that fits it (config/auto.py reads a store's size with this alone)."""
    if path.is_file() and path.suffix.lower() == ".npz":
        raise DataError(f"{path} is an .npz file, not a store; train on it with --set data.name=npz:{path}, "
                        f"or build a store from it with ganforge dataset {path} --out {path.with_suffix('')}-store")
    if not path.exists():
        raise DataError(f"{path} does not exist; build a store there with "
                        f"ganforge dataset SRC --out {shlex.quote(str(path))}")
    if not path.is_dir():
        raise DataError(f"{path} is not a folder; give the --out folder of ganforge dataset")
    manifest = path / MANIFEST
    if not manifest.is_file():
        if PARTIAL in path.name:  # the store it was meant to become is named without the suffix
            meant = path.with_name(path.name.split(PARTIAL)[0])
            raise DataError(f"{path} is not a finished ganforge store (no {MANIFEST}; it is an interrupted build, "
                            f"which can be deleted); build the store again with ganforge dataset SRC --out {meant}")
        raise _not_a_store(path, f"no {MANIFEST}")
    meta, why = _load(manifest)
    if not _is_store(path, meta):
        raise _not_a_store(path, f"its {MANIFEST} is another tool's file, not a store's")
    if meta is None:
        raise DataError(f"cannot read {manifest} ({why}); the store is damaged, {_fix_unknown(path)}")
    if meta.get("version") != VERSION:
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
    meta = read_manifest(path)
    shape = tuple(int(s) for s in meta["shape"])
    fix = damaged_fix(path, meta, rebuild)
    sizes = {IMAGES: int(np.prod(shape)), MEAN: None}
    if meta["labels"]:
        sizes[LABELS] = shape[0] * np.dtype(np.int64).itemsize
    for file, expected in sizes.items():  # a missing or cut-off file is a damaged store, not a crash in training
        f = path / file
        if not f.is_file():
            raise DataError(f"{path} has no {file}; the store is damaged, {fix}")
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


def foreign_file(folder: Path) -> str | None:
    """The first entry of ``folder`` (sorted) that a build does not write, e.g. ``notes.txt`` or ``originals/``;
    None when the folder holds store files only (what may be deleted without losing anything of the user's)."""
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name not in STORE_FILES or entry.is_symlink() or not entry.is_file():
            return entry.name + ("/" if entry.is_dir() and not entry.is_symlink() else "")
    return None


def clean_stale(dest: Path) -> None:
    """Remove ``DEST.partial-<pid>`` folders whose process is gone (an interrupted build's leftovers), but only
    those holding nothing but store files: the name alone does not prove a folder is ours (``photos.partial-2019``)."""
    for p in sorted(dest.parent.glob(dest.name + PARTIAL + "*")):
        pid = p.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or pid_alive(int(pid)):
            continue
        other = foreign_file(p) if p.is_dir() and not p.is_symlink() else "no folder"
        if other is None:
            shutil.rmtree(p, ignore_errors=True)
        else:
            warn(f"left {p} in place: it is named like an interrupted build's leftovers, but holds {other}, "
                 "which a build does not write; delete it yourself if it is not needed")


def check_dest(dest: str | Path, force: bool) -> Path:
    """DEST resolved, or one line: an existing file or folder that is not a store (a folder holding a
    dataset.json of another tool's, such as stylegan2-ada's labels file, included), a store holding files of
    the user's (even with ``force``), a store without ``force``, or a place that cannot be written. An empty
    folder is taken as if DEST did not exist: nothing in it can be lost (and ``store:`` on one says to build
    there). Reads nothing of the source, so a bad ``--out`` is refused at once."""
    dest = named(dest, flag="--out").expanduser().resolve()
    if dest.exists() or dest.is_symlink():
        if dest.is_dir() and is_empty(dest):
            check_dir_writable(dest.parent, flag="--out")
            return dest
        if not dest.is_dir() or not is_store(dest):
            kind = "a folder" if dest.is_dir() else "a file"
            if dest.is_dir() and (dest / MANIFEST).is_file():  # stylegan2-ada's labels file has the name too
                kind += f" whose {MANIFEST} is another tool's file"
            raise DataError(f"{dest} already exists and is {kind}, not a ganforge store, which ganforge dataset "
                            "never replaces; choose another --out")
        if not force:
            raise DataError(f"{dest} already exists; choose another --out or pass --force to replace it")
        other = foreign_file(dest)
        if other is not None:
            raise DataError(f"--force will not replace {dest}: it holds {other}, which ganforge dataset did not "
                            "write; move that out of the store or choose another --out")
        check_dir_writable(dest.parent, flag="--out")
    else:
        check_dir_writable(dest, flag="--out")
    return dest


def put_in_place(partial: Path, dest: Path) -> None:
    """Rename the finished ``partial`` to ``dest``: a store there (which check_dest let ``--force`` replace) is
    moved aside first and deleted after, so DEST is never missing a store; the empty folder check_dest took is
    removed with ``rmdir``, which refuses if anything was put in it since (that is then the one line)."""
    if dest.is_dir() and is_store(dest):  # not "not empty": a folder empty at the start, filled since, is not ours
        aside = dest.parent / f"{dest.name}{PARTIAL}old-{os.getpid()}"
        dest.rename(aside)
        partial.rename(dest)
        shutil.rmtree(aside, ignore_errors=True)
        return
    if dest.is_dir():
        try:
            dest.rmdir()
        except OSError:
            raise DataError(f"{dest} was empty when the build began and is not now; the store was not written, "
                            "nothing in it was touched; choose another --out") from None
    partial.rename(dest)
