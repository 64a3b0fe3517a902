"""Super-resolution data: one degradation (antialiased bicubic), the held-out photo test set.

**One downsampling function for everything.** Training pairs, the metrics' LR images, the
LR-consistency check and ``upscale --bicubic`` all use :func:`downsample` and :func:`bicubic_up`,
so a model is never trained on one degradation and scored on another (a common, silent source of
inflated SR numbers). Both are :func:`torch.nn.functional.interpolate` in ``bicubic`` mode with
``antialias=True`` rather than Pillow's ``resize``:

- the antialiased path widens the kernel by the scale when shrinking, as MATLAB's ``imresize`` and
  Pillow do, and uses their cubic constant a = -0.5 (torch's plain bicubic uses OpenCV's -0.75), so
  LR images are alias-free like the published SRGAN/BasicSR data: shrinking matches Pillow's
  ``BICUBIC`` within one grey level almost everywhere, not everywhere. Pillow rounds and clips to
  0..255 between its horizontal and vertical passes, so where the cubic kernel overshoots (a sharp
  edge next to black or white) its second pass starts from a clipped value. Measured on the seven
  ``skimage-photos`` at x2, x3 and x4: 0.00-0.09% of the values differ by more than one level, by at
  most 6 (on uniform noise, which never overshoots that far, by at most 1);
- it runs batched on the training device (Pillow would move every crop to the host and back);
- Pillow resizes 8-bit images one at a time and rounds internally, which would make the training
  LR differ from the evaluation LR by rounding.

LR images are close to, not bit-identical with, MATLAB-made benchmark sets (MATLAB rounds
differently at the borders): numbers here are comparable with each other, and the protocol names
say ``bicubic``-made LR from this function. LR images are rounded to uint8, as stored LR files
are: a model never sees sub-quantum detail it could not get from a real file.

**Held-out test set.** ``skimage-photos``: the RGB photos bundled with scikit-image (no download),
never used for training (the registry offers only a ``test`` split).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.base import Dataset, LoadRequest
from ganforge.data.registry import register
from ganforge.errors import DataError

# The bundled RGB photos (scikit-image 0.19+ ships them inside the wheel). Left out on purpose:
# ``horse`` is a binary silhouette, not a photo; ``retina`` is 1411x1411 and mostly black (slow on a
# CPU and dominated by flat background); the grey ones (camera, moon, ...) do not fit RGB models.
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle", "hubble_deep_field",
          "immunohistochemistry")
PHOTOS_CROP = 256  # the registry dataset's centre crops (the metrics use the whole photos)


def downsample(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """Antialiased bicubic shrink by ``scale`` of float images in [0, 1] (N, C, H, W), H and W divisible
    by ``scale``; the result is quantised to uint8 levels (still float in [0, 1])."""
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise DataError(f"an image of {w}x{h} cannot be shrunk by {scale} exactly; crop it to a multiple of {scale}")
    lr = F.interpolate(hr.float(), size=(h // scale, w // scale), mode="bicubic", align_corners=False,
                       antialias=True)
    return lr.clamp(0, 1).mul(255).round().div(255)


def bicubic_up(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The bicubic baseline: float [0, 1] (N, C, h, w) -> (N, C, h*scale, w*scale), clamped to [0, 1]."""
    h, w = lr.shape[-2:]
    return F.interpolate(lr.float(), size=(h * scale, w * scale), mode="bicubic", align_corners=False,
                         antialias=True).clamp(0, 1)


def to_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div(255)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0, 1).mul(255).round().to(torch.uint8)


def crop_to_multiple(img: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, ...) cropped at the bottom/right to multiples of ``scale`` (the BasicSR ``mod_crop``)."""
    h, w = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
    return img[:h, :w]


def photos() -> list[tuple[str, np.ndarray]]:
    """The held-out photos as (name, uint8 (H, W, 3)), whole; a one-line DataError without scikit-image."""
    try:
        import skimage.data as sk_data
    except ImportError:
        raise DataError("skimage-photos needs scikit-image; install it with: pip install scikit-image") from None
    out = []
    for name in PHOTOS:
        img = getattr(sk_data, name)()
        out.append(("motorcycle" if name == "stereo_motorcycle" else name, img[0] if isinstance(img, tuple) else img))
    return out


@register("skimage-photos", splits=("test",))
def load_skimage_photos(req: LoadRequest) -> Dataset:
    """Centre crops (``data.resolution``, default 256) of the held-out photos, as one uint8 batch."""
    req.reject("size", why="it holds a fixed set of photos")
    if req.channels == 1:
        raise DataError("skimage-photos are RGB photos; remove data.channels=1 or use a grey dataset")
    size = req.resolution or PHOTOS_CROP
    crops = []
    for name, img in photos():
        h, w = img.shape[:2]
        if min(h, w) < size:
            raise DataError(f"skimage-photos: {name} is {w}x{h}, smaller than data.resolution={size}; "
                            f"set data.resolution to at most {min(h, w)}")
        top, left = (h - size) // 2, (w - size) // 2
        crops.append(img[top:top + size, left:left + size].transpose(2, 0, 1))
    x = torch.from_numpy(np.ascontiguousarray(np.stack(crops)))
    return Dataset(req.name, "image", x, meta={"source": "scikit-image bundled photos", "photos": list(PHOTOS),
                                                "crop": size})


@register("sklearn-photos", splits=("train",))
def load_sklearn_photos(req: LoadRequest) -> Dataset:
    """scikit-learn's two bundled photos (china.jpg, flower.jpg, 640x427 RGB): training crops of natural
    photos at their own resolution, with no download and no overlap with skimage-photos."""
    # imported here, on first use: sklearn.datasets takes ~1.3 s to import and only this dataset needs it
    from sklearn.datasets import load_sample_images

    req.reject("size", "resolution", why="it is two whole photos; the SR recipes crop them")
    if req.channels == 1:
        raise DataError("sklearn-photos are RGB photos; remove data.channels=1")
    bunch = load_sample_images()
    x = torch.from_numpy(np.ascontiguousarray(np.stack(bunch.images).transpose(0, 3, 1, 2)))
    return Dataset(req.name, "image", x, meta={"source": "sklearn.datasets.load_sample_images",
                                                "photos": ["china.jpg", "flower.jpg"]})


# Every other natural photo the installed libraries bundle, for SR *training* (never a test photo;
# ``motorcycle_right`` is left out because it is the other half of the test set's stereo pair, and
# ``clock_motion`` because its motion blur would teach blur). scikit-image's grey photos are
# repeated to three channels: the SR metrics are on luma, which they train like any photo.
TRAIN_PHOTOS_GREY = ("camera", "coins", "moon", "grass", "gravel", "brick", "cell", "page", "text")
TILE, TILE_STRIDE = 128, 64  # overlapping tiles, so one tensor holds photos of different sizes


def training_photos() -> list[tuple[str, np.ndarray]]:
    """The training photos as (name, uint8 (H, W, 3)), whole; none of them is in :data:`PHOTOS`."""
    # Imported here, as in photos(): these libraries take seconds to import and only this dataset needs them.
    import matplotlib.cbook
    from PIL import Image
    from sklearn.datasets import load_sample_images

    try:
        import skimage.data as sk_data
    except ImportError:  # pragma: no cover - scikit-image is a dependency
        raise DataError("photo-tiles needs scikit-image; install it with: pip install scikit-image") from None
    sklearn_photos = load_sample_images()
    out = [(f"sklearn:{Path(f).name}", img) for f, img in zip(sklearn_photos.filenames, sklearn_photos.images)]
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        out.append(("matplotlib:grace_hopper.jpg", np.asarray(Image.open(f).convert("RGB"))))
    for name in TRAIN_PHOTOS_GREY:
        grey = getattr(sk_data, name)()
        out.append((f"skimage:{name}", np.repeat(grey[..., None], 3, axis=2)))
    return out


def tiles(img: np.ndarray, size: int = TILE, stride: int = TILE_STRIDE) -> np.ndarray:
    """Overlapping ``size`` tiles of an (H, W, 3) image as (N, 3, size, size); none for a smaller image."""
    h, w = img.shape[:2]
    found = [img[t:t + size, left:left + size] for t in range(0, h - size + 1, stride)
             for left in range(0, w - size + 1, stride)]
    return np.stack(found).transpose(0, 3, 1, 2) if found else np.zeros((0, 3, size, size), np.uint8)


@register("photo-tiles", splits=("train",))
def load_photo_tiles(req: LoadRequest) -> Dataset:
    """128 px tiles (stride 64) of every bundled photo that is not a test photo: about 500 tiles of
    12 photos (3 colour, 9 grey), the SR presets' training set. Two photos alone (``sklearn-photos``)
    are learnt by heart within a few hundred steps (docs/benchmarks.md, issue 13)."""
    req.reject("size", "resolution", why="its tiles are fixed; the SR recipes crop them")
    if req.channels == 1:
        raise DataError("photo-tiles are RGB tiles; remove data.channels=1")
    found = training_photos()
    per_photo = [tiles(np.ascontiguousarray(img)) for _, img in found]
    x = torch.from_numpy(np.ascontiguousarray(np.concatenate(per_photo)))
    return Dataset(req.name, "image", x, meta={
        "source": "photos bundled with scikit-learn, matplotlib and scikit-image (not skimage-photos)",
        "photos": {name: len(t) for (name, _), t in zip(found, per_photo)}, "tile": TILE, "stride": TILE_STRIDE})


__all__ = ["PHOTOS", "TRAIN_PHOTOS_GREY", "bicubic_up", "crop_to_multiple", "downsample", "photos", "tiles", "to_float",
           "to_uint8", "training_photos"]
