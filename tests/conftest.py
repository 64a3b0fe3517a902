"""Shared fixtures: every test gets a private data dir and can never reach the network."""

from __future__ import annotations

import pytest

from ganforge import config, presets
from ganforge.data import mnist
from ganforge.engine.loop import Trainer
from ganforge.metrics import features


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    """A fresh GANFORGE_DATA per test; downloads (MNIST mirrors, pip, Inception weights) fail loudly."""
    data = tmp_path / "gfdata"
    monkeypatch.setenv("GANFORGE_DATA", str(data))
    monkeypatch.delenv("GANFORGE_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(mnist, "fetch_url", no_network)
    monkeypatch.setattr(mnist, "pip_download", no_network)
    monkeypatch.setattr(features, "fetch_url", no_network)
    return data


def _one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.fixture
def one_line():
    """Check that a raised error's message is the single line the CLI prints; return it."""
    return _one_line


TINY = ["log.tensorboard=false", "log.progress=false", "model.z_dim=8", "model.g.hidden=[16]",
        "model.d.hidden=[8]", "model.d.pieces=2", "log.every=5", "log.checkpoint_every=10",
        "log.sample_every=1000", "train.batch_size=16"]


@pytest.fixture
def tiny_trainer(tmp_path):
    """``tiny_trainer("train.steps=10", ..., name="run", preset=..., resume=False)`` -> Trainer in tmp_path/name:
    a tiny, quiet trainer on the embedded digits, for tests of the engine's behaviour."""

    def make(*extra, name="run", preset="gan2014-digits", resume=False):
        cfg = config.resolve(presets.load_preset(preset)[0], [*TINY, *extra])
        return Trainer(cfg, tmp_path / name, resume=resume)

    return make
