"""Bringing images to the one size and channel count a network expects.

All resampling goes through Pillow so that folders, arrays and built-in datasets
are resized by the same well-tested code, and grey conversion uses Pillow's
ITU-R 601-2 luma everywhere. Grey -> RGB is an exact channel copy.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

BILINEAR = Image.Resampling.BILINEAR
LANCZOS = Image.Resampling.LANCZOS


def crop_resize(img: Image.Image, resolution: int, resample: int = LANCZOS) -> Image.Image:
    """Resize so the short side is ``resolution``, then centre-crop to a square.

    Done as one resample of the centred square (Pillow's ``box``), which equals
    resize-then-crop without the off-by-one rounding of an intermediate size.
    """
    w, h = img.size
    if (w, h) == (resolution, resolution):
        return img
    side = min(w, h)
    left, top = (w - side) / 2, (h - side) / 2
    return img.resize((resolution, resolution), resample, box=(left, top, left + side, top + side))


def to_array(img: Image.Image) -> np.ndarray:
    """A Pillow "L" or "RGB" image as uint8 (C, H, W)."""
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def from_array(x: np.ndarray) -> Image.Image:
    """uint8 (C, H, W) as a Pillow "L" (one channel) or "RGB" image: the inverse of :func:`to_array`."""
    return Image.fromarray(np.ascontiguousarray(x[0] if x.shape[0] == 1 else x.transpose(1, 2, 0)))


def save_png(x: np.ndarray, path) -> None:
    """One uint8 (C, H, W) image as a PNG file (grey for one channel)."""
    from_array(x).save(path, format="PNG")


def grey_to_rgb(x: np.ndarray) -> np.ndarray:
    """uint8 (N, 1, H, W) -> (N, 3, H, W), exactly as Pillow's L -> RGB."""
    return np.repeat(x, 3, axis=1)


def fit_array(
    x: np.ndarray, resolution: int | None, channels: int | None, resample: int = BILINEAR
) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, channels, resolution, resolution); untouched when already so."""
    n, c, h, w = x.shape
    res_ok = resolution is None or (h, w) == (resolution, resolution)
    if channels is None:
        channels = c
    if not res_ok or (c == 3 and channels == 1):
        mode = "L" if channels == 1 or c == 1 else "RGB"
        out = []
        for i in range(n):
            img = Image.fromarray(x[i, 0] if c == 1 else np.ascontiguousarray(x[i].transpose(1, 2, 0)))
            if img.mode != mode:
                img = img.convert(mode)
            if not res_ok:
                img = crop_resize(img, resolution, resample)
            out.append(to_array(img))
        x = np.stack(out)  # loaders never produce empty datasets
    if x.shape[1] == 1 and channels == 3:
        x = grey_to_rgb(x)
    return x
