"""Stacked MNIST: three MNIST digits as the R, G and B channels of one image (1,000 modes).

The mode-collapse benchmark of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et
al. 2018): each channel's digit is drawn independently and uniformly, so the
1,000 classes ``100 * r + 10 * g + b`` are equally likely, and a generator's
coverage can be counted by classifying each channel with an MNIST classifier
(``ganforge eval`` metric ``modes26k_lenet``).

``train`` draws from all 60,000 MNIST training images (``train60k``), ``test``
from the 10,000 test images; ``size`` sets how many images are built (default
60,000 and 10,000), ``seed`` which ones. The draw is a pure function of
(split, size, seed), so the same request always gives the same pixels.
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.data.base import Dataset, LoadRequest
from ganforge.data.images import BILINEAR, fit_array
from ganforge.data.registry import load_dataset, register

POOLS = {"train": "train60k", "test": "test"}
DEFAULT_SIZES = {"train": 60_000, "test": 10_000}


def stack_digits(pool_x: np.ndarray, pool_y: np.ndarray, size: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``size`` images (size, 3, H, W) whose channels are independent draws from ``pool_x`` (N, 1, H, W)."""
    idx = rng.integers(0, len(pool_x), size=(size, 3))
    x = pool_x[idx, 0]  # (size, 3, H, W)
    y = pool_y[idx]  # (size, 3)
    return np.ascontiguousarray(x), (100 * y[:, 0] + 10 * y[:, 1] + y[:, 2]).astype(np.int64)


@register("stacked-mnist", splits=("train", "test"), resolution=28)
def load_stacked_mnist(req: LoadRequest) -> Dataset:
    """Resolution other than 28 is honoured by resizing with Pillow (bilinear); channels stay 3."""
    req.reject(*(("channels",) if req.channels not in (None, 3) else ()),
               why="its three channels are three digits; use mnist for grey images")
    size = req.size or DEFAULT_SIZES[req.split]
    mnist = load_dataset("mnist", split=POOLS[req.split], data_dir=req.data_dir)
    # Train uses the plain seed; test mixes in a constant so it is an independent draw (as toy2d).
    rng = np.random.default_rng(req.seed if req.split == "train" else [req.seed, 1])
    x, y = stack_digits(mnist.x.numpy(), mnist.y.numpy(), size, rng)
    x = fit_array(x, req.resolution, None, BILINEAR)
    return Dataset(
        name=req.name,
        kind="image",
        x=torch.from_numpy(np.ascontiguousarray(x)),
        y=torch.from_numpy(y),
        num_classes=1000,
        meta={
            "source": f"mnist/{POOLS[req.split]} digits stacked as RGB",
            "mnist_sha256": mnist.meta.get("sha256"),
            "mnist_data_sha256": mnist.meta.get("data_sha256"),
            "split": req.split,
            "size": size,
            "seed": req.seed,
            "label": "100 * r + 10 * g + b",
        },
    )
