"""Residual maps as pictures: where in an image the model could not reproduce it.

An overlay is the image and the same image with its residual laid over it in a heat colour
(matplotlib's ``inferno``), side by side. The colour scale is absolute (0 to 1 of the
image's range) and never stretched to the images at hand: a min-max stretch over a test set
would make one image's picture depend on the others, so it is not offered.

Files go through :mod:`ganforge.outputs`: every path checked before any is written, an
existing file refused unless ``force``, the PNGs put in place together or not at all. The folder
keeps a manifest of the maps written (:data:`ganforge.outputs.MANIFEST`): with ``force``, the maps
of an earlier run listed there are removed (no stale ``00007.png`` beside six new maps), a
file ganforge did not write is never replaced or removed, and a folder whose manifest another command
wrote (an export) is refused even with ``force``. :func:`check_overlays` makes those checks
alone, so a command can make them before its work; ``beside`` puts another file (the scores) in place
in the same step, so maps never appear without the scores they picture.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ganforge import outputs
from ganforge.errors import GanforgeError
from ganforge.figures.drawing import image_grid, save_image_grid

ALPHA = 0.6  # weight of the heat colour over the grey image where the residual is largest
FIGURE_PX = 84  # images in the figure are enlarged to about this height (28 px digits, 3x)
MAPS_WHAT = "ganforge anomaly score residual maps"  # the manifest's "what": maps --force may replace


def overlay(image: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """uint8 (C, H, W) image + (H, W) residual in [0, 1] -> uint8 (3, H, 2W): the image | the overlay."""
    rgb = np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image[:3]
    rgb = rgb.astype(np.float32) / 255.0
    from matplotlib import colormaps  # on first use: every ganforge command imports this module (plotting.py)

    heat = colormaps["inferno"](np.clip(residual, 0.0, 1.0))[..., :3].transpose(2, 0, 1)
    weight = ALPHA * np.clip(residual, 0.0, 1.0)[None] ** 0.5  # faint residuals stay visible
    mixed = (1 - weight) * rgb + weight * heat
    both = np.concatenate([rgb, mixed], axis=2)
    return (both * 255).round().clip(0, 255).astype(np.uint8)


def check_overlays(n: int, directory: str | os.PathLike, *, force: bool = False,
                   flag: str = "--maps") -> tuple[Path, list[Path], dict[str, int]]:
    """Every check :func:`save_overlays` makes for ``n`` maps, before anything is scored or written: the
    folder, its earlier maps (replaced only with ``force``), files ganforge did not write. (folder, the
    paths of the maps, the earlier run's manifest)."""
    directory = outputs.check_dir_writable(outputs.named(directory, flag=flag), flag=flag)
    width = max(5, len(str(n - 1)))
    names = [f"{i:0{width}d}.png" for i in range(n)]
    earlier = _earlier_maps(directory, flag)
    if earlier and not force:
        raise GanforgeError(f"{directory} already holds residual maps; pass --force to replace them or choose "
                            f"another {flag}")
    foreign = [n for n in names if (Path(directory) / n).exists() and n not in earlier]
    if foreign:
        raise GanforgeError(f"{flag} {directory} holds {foreign[0]}, which ganforge did not write there; move it "
                            f"away or choose another {flag}")
    return directory, [outputs.check_file(Path(directory) / name, flag=flag, force=force) for name in names], earlier


Writer = tuple[Path, Callable[[Path], None]]  # (a file, the writer of its temporary path)


def save_overlays(images: np.ndarray, residuals: np.ndarray, directory: str | os.PathLike, *, force: bool = False,
                  flag: str = "--maps", beside: Writer | Sequence[Writer] | None = None) -> list[Path]:
    """One PNG per image, ``00000.png`` ... in ``directory``; all paths are checked before the first write.
    ``beside``: one more file (path, writer of a temporary path), or a list of them, put in place together
    with the maps."""
    directory, paths, earlier = check_overlays(len(images), directory, force=force, flag=flag)
    names = [p.name for p in paths]
    extra: list[Writer] = [] if not beside else [beside] if isinstance(beside[0], str | os.PathLike) else list(beside)
    with outputs.atomic(*paths, *(target for target, _ in extra), flag=flag, force=force) as temps:
        for temp, image, residual in zip(temps, images, residuals):
            picture = overlay(image, residual)
            scale = max(1, 128 // picture.shape[1])  # 28 px digits would be unreadably small
            Image.fromarray(_enlarged(picture, scale).transpose(1, 2, 0)).save(temp, format="PNG")
        for temp, (_, write) in zip(temps[len(paths):], extra):
            write(temp)
    for stale in set(earlier) - set(names) - {outputs.MANIFEST}:  # an earlier run's maps, listed as ganforge's
        path = Path(directory) / stale
        if path.is_file() and path.stat().st_size == earlier[stale]:
            path.unlink()
    outputs.write_manifest(Path(directory), names, what=MAPS_WHAT)
    return paths


def _earlier_maps(directory: Path, flag: str) -> dict[str, int]:
    """The maps an earlier ``anomaly score`` listed in ``directory``'s manifest (name -> size; {} when none).
    A manifest another command wrote (an export's samples and datasheets) is not earlier maps: the folder is
    refused, even with --force, which would otherwise remove the files it lists."""
    earlier = outputs.read_manifest(directory)
    if not earlier:
        return {}
    what = outputs.manifest_what(directory)
    if what != MAPS_WHAT:
        held = f"'{what}'" if what else "another ganforge output"
        raise GanforgeError(f"{flag} {directory} holds {held} ({len(earlier)} files listed in its {outputs.MANIFEST}), "
                            f"not residual maps; --force does not replace another command's output, so choose "
                            f"another {flag}")
    return earlier


def _enlarged(picture: np.ndarray, scale: int) -> np.ndarray:
    """Each pixel as a ``scale`` x ``scale`` block (C, H, W): nearest neighbour, so residuals stay sharp."""
    return picture.repeat(scale, axis=1).repeat(scale, axis=2)


def save_residual_figure(normal: Sequence[tuple[np.ndarray, np.ndarray]],
                         anomalous: Sequence[tuple[np.ndarray, np.ndarray]], path: str | os.PathLike,
                         title: str) -> Path:
    """Rows of (image | overlay) pairs: normal test images on the left, anomalies on the right."""
    scale = max(1, FIGURE_PX // normal[0][0].shape[-1]) if normal else 1
    left = [_enlarged(overlay(i, r), scale) for i, r in normal]
    right = [_enlarged(overlay(i, r), scale) for i, r in anomalous]
    rows = max(len(left), len(right))
    blank = np.zeros_like((left or right)[0])
    cells = []
    for k in range(rows):
        cells.append(left[k] if k < len(left) else blank)
        cells.append(right[k] if k < len(right) else blank)
    image_grid(np.stack(cells), nrow=2)  # checks the cells' form before anything is written
    with outputs.atomic(path, flag="the figure path") as (temp,):
        save_image_grid(np.stack(cells), temp, nrow=2, title=title)
    return Path(path)
