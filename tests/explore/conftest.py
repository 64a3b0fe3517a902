"""Tiny runs for the explorer's tests (an unconditional and a conditional digits G), trained once."""

import pytest

import ganforge

TINY = ["log.tensorboard=false", "log.progress=false", "model.z_dim=8", "model.g.hidden=[16]",
        "model.d.hidden=[8]", "model.d.pieces=2", "log.every=5", "log.checkpoint_every=5",
        "log.sample_every=1000", "train.batch_size=16"]
CGAN = {"data": {"name": "digits"}, "log": {"every": 5, "tensorboard": False, "progress": False},
        "model": {"z_dim": 8, "z_dist": "normal", "g": {"arch": "dcgan", "base_channels": 8, "conditioning": "cbn"},
                  "d": {"arch": "dcgan", "base_channels": 8, "conditioning": "projection", "norm": "none"}},
        "loss": {"d": "hinge", "g": "hinge"}, "train": {"batch_size": 16}}


@pytest.fixture(scope="session")
def explore_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("explore")
    ganforge.train("gan2014-digits", out=root / "digits", steps=10, set=TINY)
    ganforge.train(CGAN, out=root / "cgan", steps=10)
    return root
