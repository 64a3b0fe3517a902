from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ganforge.data import load_dataset

CASES = {"ring8": (8, 0.01), "grid25": (25, 0.05)}


@pytest.mark.parametrize("name", CASES)
def test_shapes_dtypes_and_meta(name):
    ds = load_dataset(name)
    k, std = CASES[name]
    assert ds.kind == "points" and ds.x.dtype == torch.float32 and ds.x.shape == (100_000, 2)
    assert ds.y.dtype == torch.int64 and ds.num_classes == k and ds.shape == (2,)
    assert ds.meta["std"] == std and len(ds.meta["centers"]) == k
    json.dumps(ds.meta)


def test_ring8_centres_exact():
    centres = load_dataset("ring8", size=10).meta["centers"]
    for i, (cx, cy) in enumerate(centres):
        assert cx == math.cos(2 * math.pi * i / 8) and cy == math.sin(2 * math.pi * i / 8)
    assert centres[0] == [1.0, 0.0]
    assert len({(round(a, 9), round(b, 9)) for a, b in centres}) == 8  # no duplicated endpoint


def test_grid25_centres_exact():
    centres = load_dataset("grid25", size=10).meta["centers"]
    assert sorted(map(tuple, centres)) == [(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)]


@pytest.mark.parametrize("name", CASES)
def test_samples_follow_their_modes(name):
    ds = load_dataset(name, size=50_000)
    k, std = CASES[name]
    centres = torch.tensor(ds.meta["centers"], dtype=torch.float64)
    resid = ds.x.double() - centres[ds.y]
    assert abs(resid.std().item() - std) < 0.03 * std
    assert resid.abs().max().item() < 6 * std
    counts = torch.bincount(ds.y, minlength=k)
    assert (counts > 0).all()
    assert counts.min().item() > 0.85 * 50_000 / k and counts.max().item() < 1.15 * 50_000 / k


@pytest.mark.parametrize("name", CASES)
def test_seeding(name):
    a = load_dataset(name, size=1000, seed=3)
    b = load_dataset(name, size=1000, seed=3)
    c = load_dataset(name, size=1000, seed=4)
    t = load_dataset(name, size=1000, seed=3, split="test")
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    assert not torch.equal(a.x, t.x)
    assert torch.equal(a.x, torch.from_numpy(_reference(name, 1000, 3)))


def _reference(name, size, seed):
    """The documented recipe: a numpy Generator seeded by ``seed``, uniform mode, Gaussian noise."""
    k, std = CASES[name]
    centres = np.asarray(load_dataset(name, size=1).meta["centers"])
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, k, size=size)
    return (centres[modes] + std * rng.standard_normal((size, 2))).astype(np.float32)


def test_size_and_split_validation():
    assert len(load_dataset("grid25", size=7)) == 7
    with pytest.raises(Exception, match="valid splits: train, test"):
        load_dataset("grid25", split="valid")
