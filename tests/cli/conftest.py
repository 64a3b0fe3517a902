"""A tiny class-conditional digits run, trained once for the export, audit and downstream tests."""

import pytest

import ganforge

CGAN = {"data": {"name": "digits"},
        "model": {"z_dim": 8, "z_dist": "normal", "g": {"arch": "dcgan", "base_channels": 8, "conditioning": "cbn"},
                  "d": {"arch": "dcgan", "base_channels": 8, "conditioning": "projection", "norm": "none"}},
        "loss": {"d": "hinge", "g": "hinge"}, "train": {"batch_size": 32},
        "optim": {"g": {"name": "adam", "lr": 2e-4, "lr_decay": 1.0}, "d": {"name": "adam", "lr": 2e-4, "lr_decay": 1.0}},
        "log": {"every": 10, "tensorboard": False}}


@pytest.fixture(scope="session")
def cgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cgan") / "run"
    ganforge.train(CGAN, out=out, steps=20)
    return out


