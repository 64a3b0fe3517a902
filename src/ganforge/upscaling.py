"""Upscaling images of any size with bounded memory: tiles with overlap, and the image files around them.

**Tiling.** The LR image is cut into ``tile`` x ``tile`` cores that partition it; each core is run
with ``overlap`` extra LR pixels of context on every side (clipped at the image's edges) and only
the core's output is kept. An SR network's output pixel depends on its LR neighbourhood up to the
network's receptive radius only (:attr:`ganforge.nets.srresnet.SRResNet.receptive_radius`), so
with ``overlap`` at least that radius every kept pixel is computed from exactly the context it has
in the untiled image: tiled equals untiled up to float summation order (tested). A smaller overlap
trades exactness at the seams for speed. Memory holds one tile's activations plus the uint8
output, whatever the image size.

**Files.** 8-bit images of the suffixes every ganforge folder reader takes
(:data:`ganforge.data.folder.IMAGE_SUFFIXES`: PNG, JPEG, WebP, BMP, GIF, TIFF), folders of them, and
``.npy`` arrays of uint8 (N, C, H, W) (ganforge's own image form). An image is turned by its EXIF
orientation first (:func:`ganforge.data.folder.upright`, as every ganforge reader does: a phone photo
comes out the way up it is shown, not as its sensor stored it). What upscale cannot take
faithfully is refused with one line: a 16-bit image (it would lose its low byte silently), a grey
image for an RGB model (or the reverse), anything that is not uint8, an empty array. Transparency is
kept: an RGBA (or grey+alpha, or a palette image with a transparent colour) is split into its
colours, which the model upscales, and its alpha channel, which is upscaled apart by bicubic (a model
trained on photos knows no alpha), and written back as RGBA (LA).

**Limits.** Both are checked from the file headers before any work: an image over Pillow's
decompression-bomb limit is one line naming its pixel count and the limit, and an output that would
not fit in memory (:func:`check_output_memory`: ``--scale 1000000`` asks for terabytes) is one line
naming the size it needs, instead of an allocation that fails (or swaps the machine) halfway.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ganforge.data.folder import IMAGE_SUFFIXES, upright, upright_size
from ganforge.data.folder import find_images as folder_images
from ganforge.data.images import save_png, to_array
from ganforge.errors import DataError, GanforgeError
from ganforge.memory import MEMORY_SHARE, available_memory, human_bytes

Upscaler = Callable[[torch.Tensor], torch.Tensor]  # LR float (N, C, h, w) in [0, 1] -> SR float in [0, 1]
# Copies of the uint8 output held at once at the end: the tiled tensor, its numpy view made contiguous
# (HWC) for Pillow, and Pillow's own image while it encodes the PNG.
OUTPUT_COPIES = 3
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
WITH_ALPHA = ("RGBA", "RGBa", "LA", "La", "PA")


class Stopped(Exception):
    """``tiled``'s ``stop`` said to stop between two tiles (the HTTP client that asked has gone)."""


def tiled(fn: Upscaler, lr: torch.Tensor, scale: int, tile: int | None, overlap: int,
          stop: Callable[[], bool] | None = None) -> torch.Tensor:
    """``fn`` over ``lr`` (N, C, h, w) tile by tile; uint8 (N, C, h*scale, w*scale) on the CPU. ``stop`` is
    asked before each tile and raises :class:`Stopped` when true."""
    n, c, h, w = lr.shape
    out = torch.empty((n, c, h * scale, w * scale), dtype=torch.uint8)
    tile = tile or max(h, w)
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            if stop is not None and stop():
                raise Stopped
            bottom, right = min(top + tile, h), min(left + tile, w)
            t0, l0 = max(top - overlap, 0), max(left - overlap, 0)
            t1, l1 = min(bottom + overlap, h), min(right + overlap, w)
            with torch.no_grad():
                sr = fn(lr[:, :, t0:t1, l0:l1])
            core = sr[:, :, (top - t0) * scale:(bottom - t0) * scale, (left - l0) * scale:(right - l0) * scale]
            out[:, :, top * scale:bottom * scale, left * scale:right * scale] = (
                core.clamp(0, 1).mul(255).round().to(torch.uint8).cpu())
    return out


def _png_bit_depth(path: Path) -> int | None:
    """The bit depth in a PNG's header (byte 24), which Pillow hides for 16-bit RGB (it opens it as 8-bit)."""
    with open(path, "rb") as f:
        head = f.read(25)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) == 25:
        return head[24]
    return None


def has_alpha(mode: str, info: dict) -> bool:
    """Whether an image of Pillow ``mode`` (with its ``info``) is transparent somewhere: an alpha channel, or a
    palette with a transparent colour (what upscale keeps, and translate composites on white and says)."""
    return mode in WITH_ALPHA or (mode == "P" and "transparency" in info)


def check_8_bit(path: Path, mode: str, verb: str) -> None:
    """One line for a 16-bit image (grey ``I;16``, or a 48-bit RGB PNG, which Pillow opens as 8-bit without a
    word; ``mode`` is Pillow's): ``verb`` (upscale, translate) reads 8-bit images and does not drop the low
    byte silently."""
    if mode in SIXTEEN_BIT or _png_bit_depth(path) == 16:
        raise DataError(f"{path} is a 16-bit image; {verb} reads 8-bit images and will not drop the low "
                        f"byte silently: convert it to 8 bits first (e.g. ImageMagick: convert {path.name} "
                        f"-depth 8 out.png)")


def too_many_pixels(path: Path, exc: Exception) -> DataError:
    """Pillow's decompression-bomb refusal as one line: the file, its pixel count and the limit (Pillow's own
    words carry both), and the fix. Its message alone names neither the file nor what to do."""
    said = str(exc).split(", could be")[0].rstrip(".")
    return DataError(f"{path} is too large to decode safely ({said}); give a smaller image, e.g. cut it into "
                     f"parts first")


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the header alone (after EXIF orientation), so sizes (and bombs) are known before
    any work."""
    try:
        with Image.open(path) as img:
            return upright_size(img)
    except Image.DecompressionBombError as e:
        raise too_many_pixels(path, e) from None
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path} cannot be read as an image ({str(e).splitlines()[0]}); give a PNG/JPEG/WebP/BMP/"
                        f"GIF/TIFF file") from None


def output_bytes(channels: int, h: int, w: int, scale: int, tile: int, overlap: int) -> int:
    """Memory one image's upscaling holds at its peak (channels counting alpha): :data:`OUTPUT_COPIES` of the
    uint8 output, the float LR input and one tile's float SR output (twice: clamped and scaled). A model's
    own activations come on top; the default tile keeps those small."""
    side_h, side_w = (h, w) if not tile else (min(tile + 2 * overlap, h), min(tile + 2 * overlap, w))
    return (OUTPUT_COPIES * channels * h * w * scale * scale + 4 * channels * h * w
            + 2 * 4 * channels * side_h * side_w * scale * scale)


def check_output_memory(what: str, channels: int, h: int, w: int, scale: int, tile: int, overlap: int, *,
                        fix: str, available: int | None = None) -> None:
    """Refuse an upscaling whose output would not fit in :data:`ganforge.memory.MEMORY_SHARE` of the memory
    available now, before anything is allocated (``available`` overrides the measured figure, for tests)."""
    available = available_memory() if available is None else available
    need = output_bytes(channels, h, w, scale, tile, overlap)
    if available is not None and need > available * MEMORY_SHARE:
        raise GanforgeError(f"{what} ({w}x{h}) upscaled x{scale} is {w * scale}x{h * scale} pixels and needs about "
                            f"{human_bytes(need)} of memory, and {human_bytes(available)} is available; {fix}")


def read_image(path: Path, channels: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 (C, H, W) of an 8-bit image file and its alpha channel (1, H, W), or None when it has none;
    ``channels`` is what the model takes (None: keep the file's)."""
    try:
        with Image.open(path) as img:
            check_8_bit(path, img.mode, "upscale")
            img.load()
            img = upright(img)
            mode = img.mode
            grey = mode in ("1", "L", "LA", "La")
            alpha = None
            if has_alpha(mode, img.info):
                alpha = to_array(img.convert("RGBA").getchannel("A"))
            if channels == 3 and grey:
                raise DataError(f"{path} is a greyscale image and the run's model takes RGB; convert it to RGB first "
                                f"(e.g. PIL: Image.open(p).convert('RGB').save(q)) or use a model trained on grey "
                                f"images")
            if channels == 1 and not grey:
                raise DataError(f"{path} is a colour image and the run's model takes greyscale; convert it to grey "
                                f"first (e.g. PIL: Image.open(p).convert('L').save(q))")
            img = img.convert("L" if grey else "RGB")
    except Image.DecompressionBombError as e:
        raise too_many_pixels(path, e) from None
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path} cannot be read as an image ({str(e).splitlines()[0]}); give a PNG/JPEG/WebP/BMP/"
                        f"GIF/TIFF file") from None
    return to_array(img), alpha


def save_with_alpha(x: np.ndarray, path: Path) -> None:
    """uint8 (C, H, W) as a PNG: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA."""
    if x.shape[0] in (2, 4):
        Image.fromarray(np.ascontiguousarray(x.transpose(1, 2, 0)), "LA" if x.shape[0] == 2 else "RGBA").save(
            path, format="PNG")
    else:
        save_png(x, path)


def read_npy(path: Path, channels: int | None) -> np.ndarray:
    """uint8 (N, C, H, W) from an .npy file, memory-mapped (read a slice at a time)."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as e:
        raise DataError(f"cannot read --input {path}: {e.strerror}; check its permissions") from None
    if head != b"\x93NUMPY":  # numpy calls any other file "pickled data" and hints at allow_pickle: never that
        raise DataError(f"--input {path} is not a .npy file (no numpy header); save the array with numpy.save")
    try:
        x = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DataError(f"{path} cannot be read as an .npy array ({str(e).splitlines()[0]})") from None
    if x.size == 0:
        raise DataError(f"{path} holds no images (shape {tuple(x.shape)}); give uint8 images (N, C, H, W), as "
                        f"ganforge sample writes them")
    if x.dtype != np.uint8 or x.ndim != 4:
        raise DataError(f"{path} holds {x.dtype} {tuple(x.shape)}; upscale takes uint8 images (N, C, H, W), "
                        f"as ganforge sample writes them")
    if channels is not None and x.shape[1] != channels:
        raise DataError(f"{path} holds {x.shape[1]}-channel images and the run's model takes {channels}; convert "
                        f"them first")
    return x


def find_images(folder: Path) -> list[Path]:
    found = folder_images(folder, IMAGE_SUFFIXES)
    if not found:
        raise DataError(f"no {'/'.join(IMAGE_SUFFIXES)} images found under {folder}; give an image, a folder of "
                        f"images or an .npy file as --input")
    return found


__all__ = ["IMAGE_SUFFIXES", "check_8_bit", "has_alpha", "check_output_memory", "find_images", "image_size", "output_bytes",
           "read_image", "read_npy", "save_with_alpha", "tiled", "too_many_pixels"]
