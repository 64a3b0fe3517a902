"""Any folder of PNG/JPEG images, with classes taken from its subfolders.

The walk is sorted, so the same folder always gives the same tensor and the same
labels. Bad files are collected and reported together (one fix-up round, not one
per file), and skipping them is an explicit choice, never a silent one.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ganforge.data.base import LoadRequest
from ganforge.data.images import LANCZOS, crop_resize, grey_to_rgb, to_array
from ganforge.errors import DataError, warn

EXTENSIONS = {".png", ".jpg", ".jpeg"}  # what pairs:, unpaired: and translate read
# What folder: and ganforge dataset read as images: the one list of both (folder:'s emptiness check, its cache
# key and the store it builds), so a suffix cannot count in one place and not in another. Ordered as messages
# name them: the three common ones first.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
MAX_NAMED = 10
EXIF_ORIENTATION = 0x0112  # the EXIF tag a camera records the way up of its photo in
ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def find_images(root: Path, extensions: Iterable[str] = EXTENSIONS, *, leave_out: Collection[str] = (),
                broken: list[Path] | None = None) -> list[Path]:
    """Image files under ``root`` (by suffix, ``extensions``), sorted; hidden files and folders (.git,
    .ipynb_checkpoints) are skipped. The one walk for every folder ganforge reads (datasets, translate, upscale).

    Symbolically linked subfolders are followed (a class kept elsewhere and linked in is a
    class, not silently lost, as with ``Path.rglob``); a link back to a folder already
    being walked (a loop) is not entered again; two links to one folder are two classes.
    ``leave_out``: real paths of files and folders not to walk (a store being written inside the folder).
    ``broken``: when given, links to nothing (or loops) with a matching name are appended to it, so a caller
    that reports skipped files can name them instead of losing them.
    """
    found = []
    real: dict[str, str] = {}  # walked path -> its real path
    leave_names = {os.path.basename(p) for p in leave_out}  # a real path is looked up for these names only

    def left_out(path: str) -> bool:
        return os.path.basename(path) in leave_names and os.path.realpath(path) in leave_out

    for folder, dirs, files in os.walk(root, followlinks=True):
        real[folder] = os.path.realpath(folder)
        ancestors = Path(folder).relative_to(root).parents
        if any(real.get(str(root / a)) == real[folder] for a in ancestors if str(root / a) != folder):
            dirs[:] = []  # a link back to a folder on this very path: a loop, walked once already
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not left_out(os.path.join(folder, d)))
        for name in files:
            p = Path(folder) / name
            if p.suffix.lower() not in extensions or name.startswith("."):
                continue
            if left_out(str(p)):
                continue
            if p.is_file():
                found.append(p)
            elif broken is not None and p.is_symlink():
                broken.append(p)
    if broken is not None:
        broken.sort(key=lambda p: p.relative_to(root).as_posix())
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def upright(img: Image.Image) -> Image.Image:
    """A loaded image turned the way viewers show it: its EXIF orientation applied (a phone stores a portrait
    photo as landscape pixels plus a rotation tag). Every ganforge image reader goes through it (datasets,
    pairs:/unpaired:, translate, upscale, serve), so one photo is the same way up wherever it is read; a
    malformed EXIF block raises, as a damaged file does."""
    return ImageOps.exif_transpose(img)


def upright_size(img: Image.Image) -> tuple[int, int]:
    """(width, height) as :func:`upright` will turn the image, from the header alone (a malformed EXIF block:
    the stored size, and the decode decides)."""
    w, h = img.size
    try:
        return (h, w) if img.getexif().get(EXIF_ORIENTATION) in ROTATED else (w, h)
    except Exception:  # Pillow raises many types for a broken EXIF block
        return w, h


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Composite transparent images on white: dropping alpha would expose arbitrary hidden colours."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba)
        return img.convert("L" if rgba.mode == "LA" else "RGB")
    return img


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit / integer / float grey to "L" by scaling: Pillow's own conversion clips everything above 255.

    One fixed mapping per mode, never one chosen from an image's own values (an all-300 image must not come
    out darker than an all-200 one): "I;16*" and 32-bit "I" are both read as 16-bit, 0..65535 to 0..255,
    since "I" is how older Pillows (and some writers) hold 16-bit grey. "I" values outside 0..65535
    have no 16-bit meaning and are clipped to it (a 32-bit image scaled by its own range would again make
    the mapping depend on the image). "F" keeps its old rule (0..255 as is, up to 65535 as 16-bit).
    """
    if img.mode not in ("I", "F") and not img.mode.startswith("I;16"):
        return img
    a = np.asarray(img).astype(np.float64)
    if img.mode == "I":
        a = np.clip(a, 0, 65535) / 257.0
    elif img.mode.startswith("I;16") or (a.max() > 255 and a.max() <= 65535):
        a = a / 257.0
    if not np.isfinite(a).all() or a.min() < 0 or a.max() > 255:
        raise ValueError(f"cannot map {img.mode} pixel values to 0..255")
    return Image.fromarray(np.round(a).astype(np.uint8))


def decode_image(data: bytes, channels: int | None, resolution: int | None) -> tuple[np.ndarray, tuple[int, int]]:
    """uint8 (C, H, W) and the original (W, H), after its EXIF orientation (:func:`upright`). Grey stays 1
    channel unless ``channels`` is 3."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        img = upright(img)
        size = img.size
        grey = img.mode in GREY_MODES
        img = _to_8bit(_flatten_alpha(img))
        img = img.convert("L" if channels == 1 or (channels is None and grey) else "RGB")
    if resolution is not None:
        img = crop_resize(img, resolution, LANCZOS)
    return to_array(img), size


def _named(paths: list[str], total: int) -> str:
    more = f", ... (+{len(paths) - MAX_NAMED} more)" if len(paths) > MAX_NAMED else ""
    return f"{len(paths)} of {total} files could not be read: {', '.join(paths[:MAX_NAMED])}{more}"


@dataclass
class FolderImages:
    """A folder read into memory: the images, their paths relative to the folder, labels from subfolders."""

    x: torch.Tensor
    names: list[str]
    y: torch.Tensor | None
    classes: list[str] | None
    meta: dict


def read_folder(path: str, req: LoadRequest) -> FolderImages:
    """Every image under ``path`` (sorted), sized by ``req``; used by folder:, pairs: and unpaired:."""
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"image folder {root.resolve()} does not exist; check the path in '{req.name}'")
    if not root.is_dir():
        raise DataError(f"{root.resolve()} is not a folder; use npz:PATH for .npz files or give a folder of images")
    root = root.resolve()
    files = find_images(root)
    if not files:
        raise DataError(f"no .png/.jpg/.jpeg images found under {root}; point {req.name.split(':')[0]}: at a folder of images")

    rel = [f.relative_to(root).as_posix() for f in files]
    fingerprint = hashlib.sha256()
    arrays, sizes, kept, bad = [], {}, [], []
    for path, name in zip(files, rel):
        try:
            data = path.read_bytes()
            arr, size = decode_image(data, req.channels, req.resolution)
        except Exception:  # Pillow raises many types (OSError, SyntaxError, ValueError, ...) for broken files
            bad.append(name)
            continue
        fingerprint.update(f"{name}\0{hashlib.sha256(data).hexdigest()}\0".encode())
        arrays.append(arr)
        sizes.setdefault(size, name)
        kept.append(name)

    if bad:
        message = _named(bad, len(files))
        if not req.skip_unreadable:
            raise DataError(f"{message}. Fix or remove them, or set data.skip_unreadable=true to skip them")
        if not arrays:
            raise DataError(f"{message}, which leaves no images; fix the files")
        warn(f"{message}; skipping them (data.skip_unreadable=true)")
    if req.resolution is None and len(sizes) > 1:
        eg = ", ".join(f"{n} is {w}x{h}" for (w, h), n in list(sizes.items())[:3])
        raise DataError(
            f"images under {root} differ in size ({eg}); pass a resolution to resize them, e.g. --set data.resolution=64"
        )

    if req.channels is None and any(a.shape[0] == 3 for a in arrays):
        arrays = [grey_to_rgb(a[None])[0] if a.shape[0] == 1 else a for a in arrays]
    x = torch.from_numpy(np.stack(arrays))
    # Classes from the images kept (a folder whose every file was skipped is no class), and only when every
    # one is inside a subfolder: mixing loose and grouped images means "unlabelled".
    labelled = all("/" in n for n in kept)
    classes = sorted({n.split("/", 1)[0] for n in kept}) if labelled else None
    y = None
    if classes is not None:
        index = {c: i for i, c in enumerate(classes)}
        y = torch.tensor([index[n.split("/", 1)[0]] for n in kept], dtype=torch.int64)
    meta = {
        "source": str(root),
        "files_sha256": fingerprint.hexdigest(),
        "split": req.split,
        "num_files": len(kept),
        "skipped": bad,
    }
    if classes is not None:
        meta["classes"] = classes
    return FolderImages(x=x, names=kept, y=y, classes=classes, meta=meta)
