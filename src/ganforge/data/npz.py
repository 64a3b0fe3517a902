"""Arrays a user already has, in a .npz: images (any common layout), points, or two image domains (a, b).

Layout is inferred rather than configured because the common cases are
unambiguous (a channel axis of 1 or 3 at position 1 or last); anything that
would need a guess, or lose information, is refused with the reason.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import Dataset, LoadRequest
from ganforge.data.images import BILINEAR, fit_array
from ganforge.data.pairs import from_arrays
from ganforge.data.registry import register
from ganforge.download import sha256_file
from ganforge.errors import DataError

X_KEYS = ("x", "images", "data")
Y_KEYS = ("y", "labels")
MAX_POINT_DIM = 64  # wider 2-D float arrays are almost surely flattened images
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an .npz is a zip archive (the second: an empty one)
NPY_MAGIC = b"\x93NUMPY"
# What a damaged or truncated archive raises from numpy/zipfile while it is being read.
DAMAGED = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def _check_magic(path: Path, where: str) -> None:
    """Refuse a file that is not a zip before numpy guesses (it reports any unknown file as pickled data)."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as exc:
        raise DataError(f"cannot read {where}: {exc.strerror}; check the file's permissions") from None
    if head.startswith(NPY_MAGIC):
        raise DataError(f"{where} holds a single array, not an .npz archive; save it with numpy.savez(path, x=array)")
    if not head.startswith(ZIP_MAGIC):
        raise DataError(f"{where} is not an .npz file (not a zip archive{', it is empty' if not head else ''}); "
                        "save the arrays with numpy.savez(path, x=images)")


def _images_nchw(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim == 3:
        return x[:, None]
    if x.shape[1] in (1, 3):  # NCHW wins a tie such as (N, 3, 5, 3)
        return x
    if x.shape[-1] in (1, 3):
        return x.transpose(0, 3, 1, 2)
    raise DataError(
        f"{where} has shape {x.shape}: no channel axis of size 1 or 3 at position 1 or last; "
        "save images as (N, H, W), (N, C, H, W) or (N, H, W, C) with C = 1 or 3"
    )


def _to_uint8(x: np.ndarray, where: str) -> np.ndarray:
    if x.dtype == np.uint8:
        return x
    if np.issubdtype(x.dtype, np.integer):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise DataError(f"{where} holds integers outside 0..255; save images as uint8 or floats in [0, 1]")
        return x.astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise DataError(f"{where} contains NaN or infinite values; fix the array")
        if x.min() < 0 or x.max() > 1:
            raise DataError(
                f"{where} is float in [{x.min():.3g}, {x.max():.3g}]; float images must be in [0, 1] "
                "(rescale, e.g. (x + 1) / 2 for [-1, 1]) or be saved as uint8"
            )
        return np.round(x.astype(np.float64) * 255.0).astype(np.uint8)
    raise DataError(f"{where} has dtype {x.dtype}; images must be uint8, integer 0..255 or float in [0, 1]")


def _labels(z, n: int, where: str) -> tuple[np.ndarray | None, str | None]:
    key = next((k for k in Y_KEYS if k in z.files), None)
    if key is None:
        return None, None
    y = z[key]
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{where}: labels '{key}' have shape {y.shape}, expected ({n},) to match the samples")
    if not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)))):
        raise DataError(f"{where}: labels '{key}' must be whole numbers, got dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise DataError(f"{where}: labels '{key}' must be >= 0 (class indices)")
    return y.astype(np.int64), key


def _two_domains(req: LoadRequest, z, path: Path, where: str) -> Dataset:
    """Arrays ``a`` and ``b`` (images), optional ``y`` (labels of a) and ``paired`` (default: equal lengths)."""
    try:
        a, b = z["a"], z["b"]
        y, y_key = _labels(z, len(a), where)
        paired = bool(z["paired"]) if "paired" in z.files else None
    except ValueError as exc:
        raise DataError(f"{where}: {exc}; save plain numeric arrays (no dtype=object)") from None
    except DAMAGED as exc:
        raise DataError(f"{where} is damaged ({type(exc).__name__}); save it again with numpy.savez") from None
    arrays = []
    for key, arr in (("a", a), ("b", b)):
        at = f"{where}['{key}']"
        if arr.ndim not in (3, 4) or len(arr) == 0:
            raise DataError(f"{at} has shape {arr.shape}; a and b must be non-empty images (N, H, W[, C])")
        arrays.append(fit_array(_images_nchw(_to_uint8(arr, at), at), req.resolution, req.channels, BILINEAR))
    meta = {"source": str(path.resolve()), "sha256": sha256_file(path), "split": req.split, "key": "a,b",
            "label_key": y_key}
    return from_arrays(req.name, arrays[0], arrays[1], y, paired, meta)


@register("npz:PATH", splits=("train", "all"))
def load_npz(req: LoadRequest) -> Dataset:
    """Images are resized with Pillow (bilinear, short side + centre crop) when resolution/channels differ."""
    req.reject("size", why="it holds every sample in the file")
    path = Path(req.path).expanduser()
    if not path.is_file():
        raise DataError(f"{path.resolve()} is not a file; give the path of an existing .npz ({req.name})")
    where = str(path)
    _check_magic(path, where)
    try:
        z = np.load(path, allow_pickle=False)
    except DAMAGED as exc:
        raise DataError(f"{where} is not a readable .npz ({exc}); save it with numpy.savez") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataError(f"{where} holds a single array, not an .npz archive; save it with numpy.savez(path, x=array)")
    with z:
        if "a" in z.files and "b" in z.files:
            return _two_domains(req, z, path, where)
        key = next((k for k in X_KEYS if k in z.files), None)
        if key is None:
            raise DataError(
                f"{where} has no array named {', '.join(X_KEYS)} (found: {', '.join(z.files) or 'none'}); "
                "save the samples as x=..."
            )
        try:
            x = z[key]
            y, y_key = _labels(z, len(z[key]), where)
        except ValueError as exc:  # object arrays need pickle, which is refused
            if "pickle" not in str(exc):
                raise DataError(f"{where} is damaged ({exc}); save it again with numpy.savez") from None
            raise DataError(f"{where}: {exc}; save plain numeric arrays (no dtype=object)") from None
        except DAMAGED as exc:
            raise DataError(f"{where} is damaged ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                            "save it again with numpy.savez") from None
    where = f"{where}['{key}']"
    if x.ndim == 0 or len(x) == 0:
        raise DataError(f"{where} is empty; it must hold at least one sample")

    meta = {"source": str(path.resolve()), "sha256": sha256_file(path), "split": req.split, "key": key, "label_key": y_key}
    num_classes = int(y.max()) + 1 if y is not None else None
    y_t = torch.from_numpy(y) if y is not None else None
    if x.ndim == 2:
        if not np.issubdtype(x.dtype, np.floating):
            raise DataError(f"{where} is a 2-D {x.dtype} array; points must be float (N, D), images (N, H, W)")
        if x.shape[1] > MAX_POINT_DIM:
            raise DataError(f"{where} is {x.shape}: too wide for points; reshape flattened images to (N, H, W) before saving")
        if not np.isfinite(x).all():
            raise DataError(f"{where} contains NaN or infinite values; fix the array")
        req.reject("resolution", "channels", why="it holds points, not images")
        pts = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return Dataset(name=req.name, kind="points", x=pts, y=y_t, num_classes=num_classes, meta=meta)
    if x.ndim not in (3, 4):
        raise DataError(f"{where} has shape {x.shape}; expected images (N, H, W[, C]) or points (N, D)")
    x = fit_array(_images_nchw(_to_uint8(x, where), where), req.resolution, req.channels, BILINEAR)
    return Dataset(
        name=req.name, kind="image", x=torch.from_numpy(np.ascontiguousarray(x)), y=y_t,
        num_classes=num_classes, meta=meta,
    )
