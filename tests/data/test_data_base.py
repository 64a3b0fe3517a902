"""data.limit (data/base.py ``limited``): a fixed random subset, the same whatever the run's seed."""

import json
import numpy as np
import pytest
import torch

from ganforge import api
from ganforge.data import load_dataset
from ganforge.data.base import limited
from ganforge.errors import ConfigError


def test_limit_keeps_a_fixed_random_subset_with_its_labels():
    full = load_dataset("digits")
    a, b = load_dataset("digits", limit=100), load_dataset("digits", limit=100, seed=7)
    assert len(a) == 100 and torch.equal(a.x, b.x) and torch.equal(a.y, b.y)  # not the run's seed
    rows = {bytes(img.numpy()): int(lab) for img, lab in zip(full.x, full.y)}
    assert all(rows[bytes(img.numpy())] == int(lab) for img, lab in zip(a.x, a.y))  # labels travel with images
    assert not torch.equal(a.x, full.x[:100])  # not the first rows: a folder's order is its class order
    assert len(set(a.y.tolist())) == 10 and a.meta["limit"] == 100
    assert limited(full, None) is full and limited(full, len(full) + 1) is full


def test_a_run_trains_on_the_limit(tmp_path):
    run = api.train("gan2014-digits", out=tmp_path / "r", steps=2, device="cpu",
                    set=["data.limit=50", "train.batch_size=10", "log.progress=false", "log.tensorboard=false",
                         "log.diversity_n=0"])
    assert json.loads((tmp_path / "r" / "options.json").read_text())["data"]["samples"] == 50
    with pytest.raises(ConfigError, match="data.limit must be an integer >= 1"):
        api.resolve_config("gan2014-digits", ["data.limit=0"])
    assert np.isfinite(run.sample(4, seed=0)).all()
