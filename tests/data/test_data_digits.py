from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sk_digits

from ganforge.data import load_dataset
from ganforge.errors import DataError


def test_split_sizes_and_types():
    sizes = {s: len(load_dataset("digits", split=s)) for s in ("train", "test", "all")}
    assert sizes == {"train": 1500, "test": 297, "all": 1797}
    ds = load_dataset("digits")
    assert ds.x.dtype == torch.uint8 and ds.x.shape == (1500, 1, 8, 8) and ds.y.dtype == torch.int64
    assert ds.num_classes == 10 and set(ds.y.tolist()) == set(range(10))
    assert ds.meta["split_sizes"] == {"all": 1797, "train": 1500, "test": 297} and ds.meta["split"] == "train"


def test_pixel_conversion_is_round_v_times_255_over_16():
    ds = load_dataset("digits", split="all")
    raw = sk_digits().images
    expected = np.vectorize(lambda v: round(v * 255 / 16))(raw).astype(np.uint8)
    assert np.array_equal(ds.x[:, 0].numpy(), expected)
    assert ds.x.min().item() == 0 and ds.x.max().item() == 255


def test_train_and_test_partition_all_and_ignore_seed():
    all_ = load_dataset("digits", split="all")
    tr, te = load_dataset("digits", seed=123), load_dataset("digits", split="test", seed=9)
    assert torch.equal(tr.x, load_dataset("digits").x)
    key = lambda ds: sorted(bytes(x.numpy()) + bytes([int(y)]) for x, y in zip(ds.x, ds.y))  # noqa: E731
    assert sorted(key(tr) + key(te)) == key(all_)
    perm = np.random.default_rng(0).permutation(1797)
    assert torch.equal(te.x, all_.x[np.sort(perm[1500:])])


def test_resize_and_channels():
    ds = load_dataset("digits", split="test", resolution=16, channels=3)
    assert ds.x.shape == (297, 3, 16, 16) and ds.x.dtype == torch.uint8
    assert torch.equal(ds.x[:, 0], ds.x[:, 1]) and torch.equal(ds.x[:, 1], ds.x[:, 2])
    same = load_dataset("digits", split="test", resolution=8, channels=1)
    assert torch.equal(same.x, load_dataset("digits", split="test").x)


def test_digits_rejects_size():
    with pytest.raises(DataError, match="split"):
        load_dataset("digits", size=10)
