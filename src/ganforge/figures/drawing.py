"""Pictures of samples: image grids (numpy + Pillow) and 2D scatter plots (matplotlib).

torchvision's ``make_grid`` is the usual tool but torchvision cannot be a
dependency here, and a grid is a reshape: it is written out below.

Every picture can carry a title (run, step, checkpoint): a grid found in a folder
weeks later must say what it shows. On 2D plots the generated points are drawn
*over* the mode markers, with the real data faint underneath, so a mode the
generator misses shows as a bare marker instead of being hidden by it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ganforge.metrics.modes import mode_coverage
from ganforge.plotting import pyplot

TITLE_PX = 14  # font size of titles and labels on image sheets
BACKGROUND = 64  # grey between cells; titles are drawn on white


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
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), BACKGROUND, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = images[i].transpose(1, 2, 0)
    return grid


def _font(size: int = TITLE_PX) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1: one fixed bitmap font
        return ImageFont.load_default()


def with_caption(picture: np.ndarray, lines: list[str], min_width: int = 0) -> Image.Image:
    """``picture`` (H, W, C uint8) under a white band holding ``lines`` of text, at least ``min_width`` wide."""
    img = Image.fromarray(picture[..., 0] if picture.shape[-1] == 1 else picture).convert("RGB")
    font = _font()
    lines = [line for line in lines if line]
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_w = max((measure.textlength(line, font=font) for line in lines), default=0)
    width = max(img.width, min_width, int(text_w) + 8)
    band = (TITLE_PX + 4) * len(lines) + (4 if lines else 0)
    out = Image.new("RGB", (width, img.height + band), "white")
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        draw.text((4, 2 + i * (TITLE_PX + 4)), line, fill="black", font=font)
    out.paste(img, ((width - img.width) // 2, band))
    return out


def save_image_grid(images: np.ndarray, path: str | Path, nrow: int | None = None, title: str | None = None) -> Path:
    """A grid of uint8 (N, C, H, W) images as a PNG, with ``title`` above it when given."""
    grid = image_grid(images, nrow)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if title:
        with_caption(grid, [title]).save(path)
    else:
        Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(path)
    return path


def nn_sheet(samples: np.ndarray, neighbours: np.ndarray, distances: np.ndarray | None = None,
             title: str | None = None, pairs_per_row: int = 4, min_width: int = 600) -> Image.Image:
    """Pairs "sample | nearest training image" side by side, labelled, at least ``min_width`` px wide.

    Images are enlarged by an integer factor (nearest neighbour) so the sheet reaches the width
    without smoothing; each pair is captioned with its distance when given.
    """
    n, c, h, w = samples.shape
    pairs_per_row = max(1, min(pairs_per_row, n))
    gap, pad = 12, 2  # between pairs / inside a pair
    scale = max(1, math.ceil((min_width - gap * (pairs_per_row + 1)) / (pairs_per_row * (2 * w + pad))))
    cw, ch = w * scale, h * scale
    font = _font(TITLE_PX - 2)
    head = (TITLE_PX + 6) * (3 if title else 2)
    label_h = TITLE_PX if distances is not None else 0
    rows = math.ceil(n / pairs_per_row)
    width = max(min_width, gap + pairs_per_row * (2 * cw + pad + gap))
    sheet = Image.new("RGB", (width, head + rows * (ch + label_h + gap) + gap), "white")
    draw = ImageDraw.Draw(sheet)
    top = 3
    if title:
        draw.text((gap, top), title, fill="black", font=_font())
        top += TITLE_PX + 6
    key = "each pair: sample | nearest training image" + (" (d: pixel L2 distance)" if distances is not None else "")
    draw.text((gap, top), key, fill="black", font=font)
    for col in range(pairs_per_row):  # the two words over each pair's two images
        x = gap + col * (2 * cw + pad + gap)
        draw.text((x, head - TITLE_PX - 2), "sample", fill=(40, 40, 160), font=font)
        draw.text((x + cw + pad, head - TITLE_PX - 2), "nearest", fill=(160, 40, 40), font=font)

    def tile(img: np.ndarray) -> Image.Image:
        big = img.repeat(scale, axis=1).repeat(scale, axis=2).transpose(1, 2, 0)
        return Image.fromarray(big[..., 0] if c == 1 else big).convert("RGB")

    for i in range(n):
        r, col = divmod(i, pairs_per_row)
        x, y = gap + col * (2 * cw + pad + gap), head + gap // 2 + r * (ch + label_h + gap)
        sheet.paste(tile(samples[i]), (x, y))
        sheet.paste(tile(neighbours[i]), (x + cw + pad, y))
        draw.line([(x + cw + pad // 2, y), (x + cw + pad // 2, y + ch - 1)], fill=(220, 40, 40), width=1)
        if distances is not None:
            draw.text((x, y + ch + 1), f"d = {distances[i]:.3g}", fill=(80, 80, 80), font=font)
    return sheet


def save_points_plot(points: np.ndarray, path: str | Path, centers: list | None = None,
                     title: str | None = None, real: np.ndarray | None = None, std: float | None = None) -> Path:
    """Generated 2D points drawn over the true mode centres (when known), real data faint underneath.

    The layering matters: markers drawn last would hide exactly what the plot is for, a mode
    with no generated points on it. With the modes' ``std``, a mode no sample comes within 3 std
    of (the ``modes`` metric's rule) is crossed out and the title counts the modes hit.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, color="0.6", alpha=0.5, zorder=1, label="real data",
                   rasterized=True)
    if centers is not None:
        c = np.asarray(centers)
        ax.scatter(c[:, 0], c[:, 1], marker="o", s=160, facecolors="none", edgecolors="red", linewidths=1.2,
                   zorder=2, label="mode centres")
        lim = np.abs(c).max() * 1.5 + 0.5
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.6, color="tab:blue", zorder=3, label="generated",
               rasterized=True)
    if centers is not None and std is not None and len(points):
        cover = mode_coverage(points, c, std, nonfinite="low_quality")  # a diverged G still gets its picture
        missed = c[np.asarray(cover["counts"]) == 0]
        if len(missed):
            ax.scatter(missed[:, 0], missed[:, 1], marker="x", s=220, color="red", linewidths=2.5, zorder=4,
                       label="missed mode (no sample within 3 std)")
        hit = f"{cover['modes']} of {cover['num_modes']} modes hit"
        title = f"{title}\n{hit}" if title else hit
    ax.set_aspect("equal")
    legend = ax.legend(loc="upper right", fontsize=8)
    for handle in legend.legend_handles:  # legend markers at one readable size, whatever the plot's sizes
        if hasattr(handle, "set_sizes"):
            handle.set_sizes([30])
    if title:
        ax.set_title(title, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
