"""Tiny runs trained once for the serve and explore tests: an unconditional digits G, a conditional one,
ring8 points, a pix2pix translator and an SRResNet (each a few steps: the API is tested, not the model)."""

import sys
from pathlib import Path

import pytest

import ganforge
from ganforge import config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))
from translation_data import QUIET, TINY_D, TINY_G, edges_npz  # noqa: E402

TINY = ["log.tensorboard=false", "log.progress=false", "model.z_dim=8", "model.g.hidden=[16]",
        "model.d.hidden=[8]", "model.d.pieces=2", "log.every=5", "log.checkpoint_every=10",
        "log.sample_every=1000", "train.batch_size=16"]
CGAN = {"data": {"name": "digits"}, "log": {"every": 10, "tensorboard": False, "progress": False},
        "model": {"z_dim": 8, "z_dist": "normal", "g": {"arch": "dcgan", "base_channels": 8, "conditioning": "cbn"},
                  "d": {"arch": "dcgan", "base_channels": 8, "conditioning": "projection", "norm": "none"}},
        "loss": {"d": "hinge", "g": "hinge"}, "train": {"batch_size": 16}}
SR = ["data.name=digits", "superres.hr_crop=8", "model.g.scale=2", "model.g.channels=8", "model.g.blocks=1",
      "train.batch_size=8",
      "log.tensorboard=false", "log.progress=false", "log.every=5", "log.checkpoint_every=5", "log.sample_every=1000"]


@pytest.fixture(scope="session")
def served_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    ganforge.train("gan2014-digits", out=root / "digits", steps=10, set=TINY)
    ganforge.train("gan2014-ring8", out=root / "ring8", steps=10, set=TINY)
    ganforge.train(CGAN, out=root / "cgan", steps=10)
    ganforge.train("srresnet-x4", out=root / "sr", steps=5, set=SR)
    pix2pix = config.resolve(None, ["recipe=paired-translation", *TINY_G, *TINY_D, *QUIET, f"data.name={edges_npz(root)}"])
    ganforge.train(pix2pix, out=root / "pix2pix", steps=2)
    return root
