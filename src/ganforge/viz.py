"""Pictures of samples: image grids (numpy + Pillow) and 2D scatter plots (matplotlib).

torchvision's ``make_grid`` is the usual tool but torchvision cannot be a
dependency here, and a grid is a reshape: it is written out below.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image


def image_grid(images: np.ndarray, nrow: int | None = None, pad: int = 1, min_cell: int = 32) -> np.ndarray:
    """uint8 (N, C, H, W) -> one uint8 (H', W', C) picture, ``nrow`` images per row.

    Small images (8x8 digits) are enlarged by an integer factor with nearest
    neighbours, so a grid is readable without smoothing away what G produced.
    """
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"image_grid takes uint8 (N, C, H, W), got {images.dtype} {images.shape}")
    n, c, h, w = images.shape
    scale = max(1, math.ceil(min_cell / max(h, w)))
    if scale > 1:
        images = images.repeat(scale, axis=2).repeat(scale, axis=3)
        h, w = h * scale, w * scale
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), 64, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = images[i].transpose(1, 2, 0)
    return grid


def save_image_grid(images: np.ndarray, path: str | Path, nrow: int | None = None) -> Path:
    grid = image_grid(images, nrow)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(path)
    return path


def save_points_plot(points: np.ndarray, path: str | Path, centers: list | None = None,
                     title: str | None = None) -> Path:
    """Generated 2D points, with the true mode centres marked when known."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5, label="generated")
    if centers is not None:
        c = np.asarray(centers)
        ax.scatter(c[:, 0], c[:, 1], marker="x", color="red", s=40, label="mode centres")
        lim = np.abs(c).max() * 1.5 + 0.5
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
