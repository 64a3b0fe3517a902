"""scikit-learn's bundled 8x8 digits: a labelled image set that needs no download.

Small enough for CPU tests and quick sanity runs. The train/test split is a fixed
permutation (seed 0), independent of the run seed, so every run sees the same test set.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import torch

from ganforge.data.base import Dataset, LoadRequest
from ganforge.data.images import BILINEAR, fit_array
from ganforge.data.registry import register
from ganforge.download import sha256_file

N_TRAIN = 1500


def _source_sha256() -> str | None:
    try:
        return sha256_file(resources.files("sklearn.datasets") / "data" / "digits.csv.gz")
    except OSError:  # a repackaged sklearn may store it elsewhere; the hash is provenance, not a gate
        return None


@register("digits", splits=("train", "test", "all"), resolution=8)
def load_digits(req: LoadRequest) -> Dataset:
    """Resolution/channels other than 8/1 are honoured by resizing with Pillow (bilinear)."""
    # imported here, on first use: every ganforge command imports this module (plotting.py); sklearn.datasets ~1.3 s
    from sklearn.datasets import load_digits as sk_load_digits

    req.reject("size", why="its size is fixed; pick a split instead")
    bunch = sk_load_digits()
    # Values are integers 0..16; np.round (half to even) equals Python's round() here.
    x = np.round(bunch.images * 255.0 / 16.0).astype(np.uint8)[:, None]
    y = bunch.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(x))
    index = {"all": np.arange(len(x)), "train": np.sort(perm[:N_TRAIN]), "test": np.sort(perm[N_TRAIN:])}
    idx = index[req.split]
    x = fit_array(x[idx], req.resolution, req.channels, BILINEAR)
    return Dataset(
        name=req.name,
        kind="image",
        x=torch.from_numpy(np.ascontiguousarray(x)),
        y=torch.from_numpy(y[idx]),
        num_classes=10,
        meta={
            "source": "sklearn.datasets.load_digits",
            "sha256": _source_sha256(),
            "split": req.split,
            "split_sizes": {k: len(v) for k, v in index.items()},
            "split_seed": 0,
        },
    )
