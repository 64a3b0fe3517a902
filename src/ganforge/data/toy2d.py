"""2-D Gaussian mixtures: the standard mode-collapse benchmarks.

Each mode is known exactly (centres and std are in ``meta``), so metrics can
count covered modes and "high-quality" samples without a trained classifier.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ganforge.data.base import Dataset, LoadRequest
from ganforge.data.registry import register

DEFAULT_SIZE = 100_000


def _mixture(req: LoadRequest, centers: list[list[float]], std: float) -> Dataset:
    req.reject("resolution", "channels", why="it is a set of 2-D points, not images")
    size = req.size or DEFAULT_SIZE
    # Train uses the plain seed; test mixes in a constant so it is a fresh, independent draw.
    rng = np.random.default_rng(req.seed if req.split == "train" else [req.seed, 1])
    c = np.asarray(centers, dtype=np.float64)
    modes = rng.integers(0, len(c), size=size)
    pts = c[modes] + std * rng.standard_normal((size, 2))
    return Dataset(
        name=req.name,
        kind="points",
        x=torch.from_numpy(pts.astype(np.float32)),
        y=torch.from_numpy(modes.astype(np.int64)),
        num_classes=len(c),
        meta={
            "source": "synthetic", "split": req.split, "seed": req.seed, "size": size,
            "centers": centers, "std": std,
        },
    )


def ring_centers(n: int = 8, radius: float = 1.0) -> list[list[float]]:
    """``n`` modes evenly on a circle, starting at angle 0 (no repeated endpoint)."""
    return [[radius * math.cos(2 * math.pi * i / n), radius * math.sin(2 * math.pi * i / n)] for i in range(n)]


def grid_centers(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> list[list[float]]:
    return [[a, b] for a in values for b in values]


@register("ring8", splits=("train", "test"))
def load_ring8(req: LoadRequest) -> Dataset:
    return _mixture(req, ring_centers(8), 0.01)


@register("grid25", splits=("train", "test"))
def load_grid25(req: LoadRequest) -> Dataset:
    return _mixture(req, grid_centers(), 0.05)
