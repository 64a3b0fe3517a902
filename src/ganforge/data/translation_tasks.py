"""Built-in translation tasks with a hidden truth, so every translation can be scored.

- ``mnist-edges``: paired. A is the Canny edge map (scikit-image, sigma 1) of a digit, B the
  digit: pix2pix's "edges to photo" on digits.
- ``mnist-inverted``: unpaired. A is MNIST, B is 1 - x of a *disjoint* half of the split, so
  training never sees a pair. The truth of A -> B is 1 - x.
- ``mnist-thick``: unpaired. B is the grey-level dilation (3x3 cross) of a disjoint half.
- ``cifar10-jpeg-colour`` / ``cifar10-colour``: paired colourisation. A is the luma
  (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B) of a CIFAR-10 image, B the image. The JPEG
  copy keeps its own name so its figures are never passed off as CIFAR-10's.

MNIST digits are padded from 28 to 32 px (2 px of background each side) so translators
that halve the image five times fit, and the judge reads the centre 28x28 back.

Which judge reads a task's translations is part of the task, declared here in its ``meta``
(``meta["judges"]``, read by :func:`domain_judge`): per domain, the judge that can read its
images and the view it needs, e.g. ``mnist-inverted``'s B images are read by the MNIST LeNet
through ``uninverted`` (255 - x), since that judge only knows white-on-black digits. Edge maps
(``mnist-edges``' A) declare none, as no judge reads them; the CIFAR colourisation tasks declare
none yet, so they are scored against the truth and by colourfulness only (a CIFAR judge declared
here would add its label accuracy and FID, under its own name). Metric code never tests a task's name.

Training splits of the unpaired tasks are unpaired (``paired=False``, A and B from disjoint
halves); ``valid`` and ``test`` are *paired* with the truth (A -> its true translation), so
metrics compare G_AB(a) with the truth generically. ``data.size`` keeps the first N images
of the split (before it is halved), for short runs.
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.data.base import Dataset, LoadRequest
from ganforge.data.registry import load_dataset, register

MNIST_PAD = 2  # 28 + 2 * 2 = 32 = 2**5
CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)  # the dilation's footprint
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, what PIL's convert("L") uses
MNIST_SPLITS = ("train", "valid", "test")


def pad_mnist(x: np.ndarray) -> np.ndarray:
    """(N, 1, 28, 28) -> (N, 1, 32, 32), zero (background) borders."""
    p = MNIST_PAD
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def unpad_mnist(x: np.ndarray) -> np.ndarray:
    """The centre 28x28 of padded digits (what the MNIST judge reads)."""
    p = MNIST_PAD
    return x[..., p:-p, p:-p]


def canny_edges(x: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """uint8 (N, 1, H, W) -> uint8 edge maps (255 on an edge), skimage's Canny per image."""
    from skimage.feature import canny  # here, not at the top: every command imports this module (plotting.py)

    out = np.zeros_like(x)
    for i, image in enumerate(x[:, 0]):
        out[i, 0] = canny(image.astype(np.float64) / 255.0, sigma=sigma) * 255
    return out


def invert(x: np.ndarray) -> np.ndarray:
    return 255 - x


def dilate(x: np.ndarray) -> np.ndarray:
    """Grey-level dilation with a 3x3 cross: every stroke one pixel thicker each side."""
    from scipy import ndimage  # as canny_edges' import

    return ndimage.grey_dilation(x, footprint=CROSS[None, None])


def luma(x: np.ndarray) -> np.ndarray:
    """uint8 RGB (N, 3, H, W) -> uint8 grey (N, 1, H, W)."""
    w = np.asarray(LUMA, dtype=np.float64)[None, :, None, None]
    return np.clip(np.rint((x.astype(np.float64) * w).sum(1, keepdims=True)), 0, 255).astype(np.uint8)


TRANSFORMS = {"inverted": invert, "thick": dilate}

# The views a judge may need to read a domain's images (by name, so meta stays plain JSON).
JUDGE_VIEWS = {"uninverted": invert}
DIGITS = {"judge": "lenet"}  # white-on-black digits, as the MNIST judge was trained on
UNINVERTED = {"judge": "lenet", "view": "uninverted"}
B_JUDGES = {"inverted": UNINVERTED, "thick": DIGITS}  # thick strokes are still digits the judge reads


def domain_judge(data: Dataset, domain: str) -> tuple[str, str | None] | None:
    """(judge name, view name or None) that reads domain ``domain`` ("A" or "B") of a task's images, as
    the task declares in ``meta["judges"]``; None when no judge is declared (user data, edge maps)."""
    declared = (data.meta.get("judges") or {}).get(domain)
    return None if declared is None else (declared["judge"], declared.get("view"))


def _source(name: str, req: LoadRequest, split: str) -> Dataset:
    """The dataset a task is made from (tests replace this with tiny data)."""
    return load_dataset(name, split=split, data_dir=req.data_dir)


def _image(name: str, x: np.ndarray, y: np.ndarray | None, meta: dict, **kw) -> Dataset:
    return Dataset(name=name, kind="image", x=torch.from_numpy(np.ascontiguousarray(x)),
                   y=None if y is None else torch.from_numpy(np.asarray(y, dtype=np.int64)),
                   num_classes=None if y is None else 10, meta=meta, **kw)


def _first(req: LoadRequest, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (x, y) if req.size is None else (x[:req.size], y[:req.size])


def _mnist(req: LoadRequest) -> tuple[np.ndarray, np.ndarray, dict]:
    req.reject("resolution", "channels", why="its images are MNIST padded to 32x32 grey")
    src = _source("mnist", req, req.split)
    x, y = _first(req, pad_mnist(src.x.numpy()), src.y.numpy())
    return x, y, {"source": "mnist", "source_sha256": src.meta.get("sha256"), "split": req.split,
                  "padded_to": 32, "size": req.size}


def paired(name: str, a: np.ndarray, b: np.ndarray, y: np.ndarray | None, meta: dict) -> Dataset:
    return _image(name, a, y, meta, b=_image(f"{name}/B", b, y, meta), paired=True)


@register("mnist-edges", splits=MNIST_SPLITS)
def load_mnist_edges(req: LoadRequest) -> Dataset:
    x, y, meta = _mnist(req)
    return paired(req.name, canny_edges(x), x, y, {**meta, "task": "canny edges (sigma 1) -> digit",
                                                   "judges": {"B": {**DIGITS}}})


def _unpaired_mnist(req: LoadRequest, kind: str) -> Dataset:
    x, y, meta = _mnist(req)
    meta = {**meta, "task": f"digit -> {kind} digit ({TRANSFORMS[kind].__name__})",
            "judges": {"A": {**DIGITS}, "B": {**B_JUDGES[kind]}}}
    if req.split != "train":  # held-out splits are paired with the hidden truth, for scoring
        return paired(req.name, x, TRANSFORMS[kind](x), y, meta)
    half = len(x) // 2  # disjoint halves: no digit is ever seen in both domains
    b = _image(f"{req.name}/B", TRANSFORMS[kind](x[half:]), y[half:], meta)
    return _image(req.name, x[:half], y[:half], {**meta, "halves": [half, len(x) - half]}, b=b, paired=False)


@register("mnist-inverted", splits=MNIST_SPLITS)
def load_mnist_inverted(req: LoadRequest) -> Dataset:
    return _unpaired_mnist(req, "inverted")


@register("mnist-thick", splits=MNIST_SPLITS)
def load_mnist_thick(req: LoadRequest) -> Dataset:
    return _unpaired_mnist(req, "thick")


def _colour(req: LoadRequest, source: str) -> Dataset:
    req.reject("resolution", "channels", why="its images are CIFAR-10's own 32x32")
    src = _source(source, req, req.split)
    x = src.x.numpy()
    y = src.y.numpy() if src.y is not None else None
    if req.size is not None:
        x, y = x[:req.size], (y[:req.size] if y is not None else None)
    meta = {"source": source, "source_meta": {k: v for k, v in src.meta.items() if isinstance(v, str | int)},
            "split": req.split, "task": "luma (BT.601) -> colour", "size": req.size}
    return paired(req.name, luma(x), x, y, meta)


@register("cifar10-jpeg-colour", splits=("train", "test"))
def load_cifar10_jpeg_colour(req: LoadRequest) -> Dataset:
    return _colour(req, "cifar10-jpeg")


@register("cifar10-colour", splits=("train", "test"))
def load_cifar10_colour(req: LoadRequest) -> Dataset:
    return _colour(req, "cifar10")
