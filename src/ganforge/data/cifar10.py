"""CIFAR-10 (Krizhevsky 2009): the official release, and a JPEG copy for machines without internet.

Two datasets, named apart on purpose:

- ``cifar10`` is the official python release from the University of Toronto,
  checked against its pinned sha256 before its pickles are opened (with the
  array-only unpickler of ``safe_pickle``). Place ``cifar-10-python.tar.gz`` in
  ``<data dir>/cifar10/`` to skip the download.
- ``cifar10-jpeg`` is a public re-encoding of the same 60,000 images as JPEG
  files (``cifar10-jpeg/{train,test}/<class>/NNNN.jpg``). JPEG compression
  changes pixels slightly, so numbers measured on it are *not* CIFAR-10 numbers
  and ganforge never labels them so. It is read from the file named by
  ``$GANFORGE_CIFAR10_JPEG`` or from ``<data dir>/cifar10-jpeg.tar.gz``, and
  checked against its sha256.

Either is decoded once into a pickle-free ``.npz`` cache whose own hash is
checked on every load, like MNIST's. Splits: ``train`` (50,000) and ``test``
(10,000), labels 0..9 in the standard class order. The JPEG copy is ordered by
class, then file name, not in the official order: its first 10,000 training images are
airplanes and cars only, so a subset must be drawn at random, never sliced off the front.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.data.base import Dataset, LoadRequest, arrays_sha256
from ganforge.data.images import BILINEAR, fit_array
from ganforge.data.paths import resolve_data_dir
from ganforge.data.registry import register
from ganforge.data.safe_pickle import ArrayUnpickler
from ganforge.download import DownloadError, fetch_url, sha256_bytes, sha256_file
from ganforge.errors import DataError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPLITS = ("train", "test")
CACHE_KEYS = ("x_train", "y_train", "x_test", "y_test")

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_NAME = "cifar-10-python.tar.gz"
# sha256 of the official archive (its published md5 is c58f30108f718f92721af3b95e74349a).
OFFICIAL_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
OFFICIAL_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}

JPEG_NAME = "cifar10-jpeg.tar.gz"
JPEG_SHA256 = "efac85c8ed52f4ead1e1f1b670d8dcf435d551fccebdd8b6365e0a01a504f3a4"
JPEG_ENV = "GANFORGE_CIFAR10_JPEG"

Arrays = dict[str, np.ndarray]


# --- the two sources ---------------------------------------------------------------------


def _official_arrays(archive: Path) -> Arrays:
    """The five training batches and the test batch: rows of 3072 bytes (R, G, B planes of 32x32)."""
    out: Arrays = {}
    with tarfile.open(archive, "r:gz") as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        for split, names in OFFICIAL_BATCHES.items():
            xs, ys = [], []
            for name in names:
                if name not in members:
                    raise DataError(f"{archive} has no {name}; it is not the CIFAR-10 python release: delete it")
                raw = tar.extractfile(members[name]).read()
                try:
                    batch = ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
                    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"], dtype=np.int64)
                except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
                    raise DataError(f"{archive}: {name} is not a CIFAR-10 batch ({exc}); delete the archive") from None
                if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
                    raise DataError(f"{archive}: {name} has an unexpected layout {data.shape}; delete the archive")
                xs.append(data.reshape(-1, 3, 32, 32))
                ys.append(labels)
            out[f"x_{split}"], out[f"y_{split}"] = np.concatenate(xs), np.concatenate(ys)
    return out


def _jpeg_arrays(archive: Path) -> Arrays:
    """Every ``<root>/<split>/<class>/<file>.jpg``, decoded to RGB, sorted by class then name."""
    found: dict[str, list[tuple[int, str, bytes]]] = {s: [] for s in SPLITS}
    with tarfile.open(archive, "r:gz") as tar:
        for m in tar.getmembers():
            parts = Path(m.name).parts
            if not m.isfile() or len(parts) < 3 or not parts[-1].lower().endswith((".jpg", ".jpeg")):
                continue
            split, cls = parts[-3], parts[-2]
            if split not in found or cls not in CLASSES:
                raise DataError(f"{archive} holds {m.name}, outside <split>/<class>/ with the 10 CIFAR-10 classes; "
                                "it is not the cifar10-jpeg archive")
            found[split].append((CLASSES.index(cls), parts[-1], tar.extractfile(m).read()))
    out: Arrays = {}
    for split, items in found.items():
        if not items:
            raise DataError(f"{archive} has no {split} images; it is not the cifar10-jpeg archive")
        items.sort(key=lambda t: (t[0], t[1]))
        images = []
        for _, name, data in items:
            with Image.open(io.BytesIO(data)) as img:
                images.append(np.asarray(img.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1))
        if any(a.shape != (3, 32, 32) for a in images):
            raise DataError(f"{archive} holds images that are not 32x32; it is not the cifar10-jpeg archive")
        out[f"x_{split}"] = np.stack(images)
        out[f"y_{split}"] = np.array([c for c, _, _ in items], dtype=np.int64)
    return out


def _official_archive(root: Path) -> Path:
    archive = root / OFFICIAL_NAME
    if archive.is_file():
        return archive
    try:
        return fetch_url(OFFICIAL_URL, archive, sha256=OFFICIAL_SHA256, timeout=60, what="the CIFAR-10 python release")
    except DownloadError as exc:
        raise DataError(f"cannot get CIFAR-10 ({exc}); place {OFFICIAL_NAME} in {root}/, or use the offline "
                        f"copy 'cifar10-jpeg' (not the same pixels)") from None


def _jpeg_archive(root: Path) -> Path:
    candidates = [Path(os.environ[JPEG_ENV]).expanduser()] if os.environ.get(JPEG_ENV) else []
    candidates += [root.parent / JPEG_NAME, root / JPEG_NAME]
    for path in candidates:
        if path.is_file():
            return path
    if os.environ.get(JPEG_ENV):
        raise DataError(f"${JPEG_ENV} points at {candidates[0]}, which is not a file; point it at {JPEG_NAME}")
    raise DataError(f"the cifar10-jpeg archive was not found; set {JPEG_ENV}=/path/to/{JPEG_NAME} or place it in "
                    f"{root.parent}/")


SOURCES: dict[str, tuple[Callable[[Path], Path], str, Callable[[Path], Arrays]]] = {
    # dataset name -> (find or fetch the archive, its pinned sha256, decode it)
    "cifar10": (_official_archive, OFFICIAL_SHA256, _official_arrays),
    "cifar10-jpeg": (_jpeg_archive, JPEG_SHA256, _jpeg_arrays),
}


# --- the verified cache -------------------------------------------------------------------


def _build_cache(name: str, root: Path) -> None:
    find, expected, decode = SOURCES[name]
    archive = find(root)
    if sha256_file(archive) != expected:
        raise DataError(f"{archive} does not match the pinned sha256 of {name} ({expected[:12]}...); it is corrupt "
                        "or a different file: replace it")
    arrays = decode(archive)
    cache, sidecar = root / f"{name}-uint8.npz", root / f"{name}-uint8.json"
    tmp = root / f".{cache.name}.{os.getpid()}.part"
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        record = {"format": 1, "sha256": sha256_file(tmp), "data_sha256": arrays_sha256(arrays, CACHE_KEYS),
                  "source": str(archive), "source_sha256": expected}
        os.replace(tmp, cache)
        tmp_json = root / f".{sidecar.name}.{os.getpid()}.part"
        tmp_json.write_text(json.dumps(record, indent=1))
        os.replace(tmp_json, sidecar)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"cannot write the {name} cache in {root} ({exc.strerror or exc}); free some space or "
                        "point --data-dir or GANFORGE_DATA at a writable directory") from None


def _load_cache(name: str, root: Path) -> tuple[Arrays, dict]:
    cache, sidecar = root / f"{name}-uint8.npz", root / f"{name}-uint8.json"
    fix = f"delete {cache} and {sidecar} to rebuild it"
    try:
        record = json.loads(sidecar.read_text())
        data = cache.read_bytes()
    except (OSError, ValueError):
        raise DataError(f"the {name} cache in {root} is unreadable; {fix}") from None
    if not isinstance(record, dict) or sha256_bytes(data) != record.get("sha256"):
        raise DataError(f"the {name} cache {cache} does not match its recorded sha256 (corrupt or edited); {fix}")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in CACHE_KEYS}, record


def _load(req: LoadRequest, name: str) -> Dataset:
    req.reject("size", why="its size is fixed; pick a split (train or test) instead")
    root = resolve_data_dir(req.data_dir) / name
    root.mkdir(parents=True, exist_ok=True)
    if not ((root / f"{name}-uint8.npz").is_file() and (root / f"{name}-uint8.json").is_file()):
        _build_cache(name, root)
    arrays, record = _load_cache(name, root)
    x, y = arrays[f"x_{req.split}"], arrays[f"y_{req.split}"]
    x = fit_array(x, req.resolution, req.channels, BILINEAR)
    meta = {"source": record.get("source"), "sha256": record["sha256"], "data_sha256": record.get("data_sha256"),
            "source_sha256": record.get("source_sha256"), "split": req.split, "classes": list(CLASSES)}
    if name == "cifar10-jpeg":
        meta["note"] = "a JPEG re-encoding of CIFAR-10: pixels differ from the official release"
    return Dataset(name=req.name, kind="image", x=torch.from_numpy(np.ascontiguousarray(x)),
                   y=torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)), num_classes=10, meta=meta)


@register("cifar10", splits=SPLITS, resolution=32)
def load_cifar10(req: LoadRequest) -> Dataset:
    """The official CIFAR-10 (downloaded once, sha256-checked)."""
    return _load(req, "cifar10")


@register("cifar10-jpeg", splits=SPLITS, resolution=32)
def load_cifar10_jpeg(req: LoadRequest) -> Dataset:
    """The JPEG copy of CIFAR-10, for machines without internet; never reported as CIFAR-10."""
    return _load(req, "cifar10-jpeg")


__all__ = ["CLASSES", "JPEG_ENV", "load_cifar10", "load_cifar10_jpeg"]
