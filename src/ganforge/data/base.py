"""The one in-memory form every dataset takes.

Datasets here are small enough to hold in memory (MNIST is 55 MB as uint8), so a
plain tensor beats a lazy pipeline: training indexes it directly, metrics see
exactly the same pixels, and ``meta`` travels into run records so a result can
be traced back to the bytes it was trained on.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ganforge.errors import DataError

KINDS = ("image", "points", "table")


@dataclass
class Dataset:
    """Samples plus what is needed to reproduce and label them.

    Images are uint8 (N, C, H, W) so they are stored and compared exactly; the
    training code scales them. Points are float32 (N, D). Tables are float32 (N, D) rows of the
    reversible transform in ``meta["transformer"]`` (ganforge.tabular), possibly memory-mapped.
    """

    name: str
    kind: str
    x: torch.Tensor
    y: torch.Tensor | None = None
    num_classes: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # A second domain, for models that map one kind of image to another (translation, super-resolution):
    # its own images (and labels where known), possibly of another size or channel count.
    b: Dataset | None = None
    # True when b.x[i] is the target of x[i] (pix2pix-style pairs); False for unpaired domains (CycleGAN).
    paired: bool = False

    def __post_init__(self) -> None:
        # A malformed Dataset is a bug in a loader, not a user error: fail loudly here
        # rather than as a shape error deep inside training.
        if self.kind not in KINDS:
            raise ValueError(f"Dataset.kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "image" and (self.x.dtype != torch.uint8 or self.x.ndim != 4):
            raise ValueError(f"image data must be uint8 (N, C, H, W), got {self.x.dtype} {tuple(self.x.shape)}")
        if self.kind in ("points", "table") and (self.x.dtype != torch.float32 or self.x.ndim != 2):
            raise ValueError(f"point data must be float32 (N, D), got {self.x.dtype} {tuple(self.x.shape)}")
        if self.y is not None and (self.y.dtype != torch.int64 or tuple(self.y.shape) != (len(self),)):
            raise ValueError(f"labels must be int64 ({len(self)},), got {self.y.dtype} {tuple(self.y.shape)}")
        if self.paired and (self.b is None or len(self.b) != len(self)):
            raise ValueError("paired data need a domain b with one target per sample")
        if self.b is not None and (self.kind != "image" or self.b.kind != "image" or self.b.b is not None):
            raise ValueError("a second domain b is for image data, and holds no domain of its own")

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) for images, (D,) for points."""
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def mean_image(self) -> torch.Tensor:
        """The mean image in [0, 1], float32 (C, H, W). A store (data/store.py) keeps it, computed while it was
        written, so that asking never reads (nor copies as floats) every image of a large dataset."""
        if "mean_image_file" in self.meta:
            try:
                mean = np.load(self.meta["mean_image_file"], allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:  # the store was damaged after it was opened
                raise DataError(f"cannot read {self.meta['mean_image_file']} ({exc}); the store is damaged, "
                                "rebuild it with ganforge dataset") from None
            return torch.from_numpy(mean) / 255.0
        return self.x.float().mean(0) / 255.0

    def __repr__(self) -> str:  # the default would print the whole tensor
        labels = f", num_classes={self.num_classes}" if self.y is not None else ""
        other = "" if self.b is None else f", b=(n={len(self.b)}, shape={self.b.shape}, paired={self.paired})"
        return f"Dataset(name={self.name!r}, kind={self.kind!r}, n={len(self)}, shape={self.shape}{labels}{other})"


# The subset data.limit keeps is drawn with this seed, not the run's: every run seed trains on the same images.
LIMIT_SEED = 0


def limited(ds: Dataset, limit: int | None) -> Dataset:
    """The first ``limit`` samples of a fixed random permutation of ``ds`` (kept in their stored order), or
    ``ds`` itself when ``limit`` is None or not smaller. A random subset rather than the first rows, because
    a folder's order is its class order. A store's subset is read into memory (it is meant to be small)."""
    if limit is None or limit >= len(ds):
        return ds
    idx = np.sort(np.random.default_rng(LIMIT_SEED).permutation(len(ds))[:limit])
    index = torch.from_numpy(idx)
    x = torch.from_numpy(np.ascontiguousarray(ds.x.numpy()[idx]))  # also reads a store's rows into memory
    meta = {**ds.meta, "limit": limit, "limit_of": len(ds)}
    meta.pop("mean_image_file", None)  # a store's mean is of every image, not of the subset
    return Dataset(name=ds.name, kind=ds.kind, x=x, y=ds.y[index] if ds.y is not None else None,
                   num_classes=ds.num_classes, meta=meta, b=None if ds.b is None else limited(ds.b, limit),
                   paired=ds.paired)


def arrays_sha256(arrays: dict[str, np.ndarray], keys: tuple[str, ...]) -> str:
    """A hash of the arrays themselves (names, dtypes, shapes, bytes): what a cached dataset records,
    since the bytes of an .npz also hold zip timestamps."""
    h = hashlib.sha256()
    for k in keys:
        a = np.ascontiguousarray(arrays[k])
        h.update(f"{k}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class LoadRequest:
    """Everything a loader may need, so adding an option never changes loader signatures."""

    name: str
    split: str = "train"
    path: str | None = None  # the PATH of "folder:PATH" / "npz:PATH"
    resolution: int | None = None
    channels: int | None = None
    data_dir: str | os.PathLike | None = None
    seed: int = 0
    size: int | None = None
    skip_unreadable: bool = False
    digit: int | None = None  # the class an anomaly protocol is about (data.digit)
    # Tables (csv:PATH, parquet:PATH): columns forced categorical, the target column, row-ID columns.
    discrete: tuple[str, ...] = ()
    target: str | None = None
    ids: tuple[str, ...] = ()
    # Only check the options (``registry.check_options``, ``train --dry-run``): reject() stops the loader
    # once they pass, before it reads anything. Every loader calls reject() first (tests/data walk them).
    check_only: bool = False

    def reject(self, *options: str, why: str) -> None:
        """Refuse options this dataset cannot honour instead of silently ignoring them.

        (skip_unreadable is a permission, not a request, so datasets with nothing to skip accept it.)
        """
        for opt in options:
            if getattr(self, opt) not in (None, False):
                raise DataError(
                    f"data.{opt}={getattr(self, opt)!r} does not apply to dataset '{self.name}' ({why}); "
                    f"remove data.{opt} from the config"
                )
        if self.check_only:
            raise OptionsChecked(self.name)


class OptionsChecked(Exception):  # noqa: N818 - not an error: a check-only request's options passed
    """Raised by :meth:`LoadRequest.reject` of a check-only request once its options passed."""
