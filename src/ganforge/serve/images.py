"""Images in and out of the HTTP API: uploads checked before they are decoded, grids and .npy answers.

An upload is only ever bytes in memory: it is never written to disk, and never unpickled (a
``.npy`` upload is not accepted at all, since ``np.load`` of an object array would unpickle).
Pillow reads the header first; the format must be PNG or JPEG and the pixel count within the
server's limit *before* the pixels are decoded, so a small file that would decode to gigabytes
(a decompression bomb) is refused from its header. Pillow's own bomb check stays on as a second
guard and is answered the same way.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganforge.data.folder import decode_image
from ganforge.errors import DataError

FORMATS = ("PNG", "JPEG")
GRID_PAD = 2  # pixels between the images of a grid, in the grid's background grey


class UploadError(DataError):
    """An upload the API refuses; ``status`` is the HTTP code it is answered with."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def decode_upload(data: bytes, channels: int | None, max_pixels: int) -> np.ndarray:
    """uint8 (C, H, W) from PNG or JPEG bytes, or :class:`UploadError` (415 format, 413 too many pixels)."""
    if not data:
        raise UploadError("the request body is empty; send a PNG or JPEG image as the body")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt, (w, h) = img.format, img.size
                if fmt not in FORMATS:
                    raise UploadError(f"the upload is a {fmt} image; send PNG or JPEG", 415)
                if w * h > max_pixels:
                    raise UploadError(f"the upload is {w}x{h} = {w * h} pixels, over this server's limit of "
                                      f"{max_pixels}; send a smaller image", 413)
            return np.array(decode_image(data, channels, None)[0])  # writable: torch.from_numpy wants that
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UploadError(f"the upload would decode to too many pixels ({e}); send a smaller image", 413) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise UploadError(f"the upload is not a readable PNG or JPEG image ({type(e).__name__}); send one",
                          415) from None


def grid(images: np.ndarray, background: int = 128) -> np.ndarray:
    """uint8 (N, C, H, W) -> one (H', W', C) picture, images row by row in a near-square grid."""
    n, c, h, w = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + GRID_PAD) + GRID_PAD, cols * (w + GRID_PAD) + GRID_PAD, c), background, np.uint8)
    for i, img in enumerate(images):
        top, left = GRID_PAD + (i // cols) * (h + GRID_PAD), GRID_PAD + (i % cols) * (w + GRID_PAD)
        out[top:top + h, left:left + w] = img.transpose(1, 2, 0)
    return out


def png(picture: np.ndarray) -> bytes:
    """A (H, W, C) or (C, H, W)-as-one-image uint8 array as PNG bytes (fast compression: it is sent once)."""
    if picture.ndim == 3 and picture.shape[-1] == 1:
        picture = picture[..., 0]
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def chw_png(image: np.ndarray) -> bytes:
    """One uint8 (C, H, W) image as PNG bytes."""
    return png(image.transpose(1, 2, 0))


def npy(array: np.ndarray) -> bytes:
    """The array as .npy bytes (no pickle: plain dtypes only)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()
