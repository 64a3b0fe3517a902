"""A tiny, quiet trainer on the embedded digits, for tests of the engine's behaviour."""

import pytest

from ganforge import config, presets
from ganforge.training.loop import Trainer

TINY = ["log.tensorboard=false", "log.progress=false", "model.z_dim=8", "model.g.hidden=[16]",
        "model.d.hidden=[8]", "model.d.pieces=2", "log.every=5", "log.checkpoint_every=10",
        "log.sample_every=1000", "train.batch_size=16"]


@pytest.fixture
def tiny_trainer(tmp_path):
    """``tiny_trainer("train.steps=10", ..., name="run", preset=..., resume=False)`` -> Trainer in tmp_path/name."""

    def make(*extra, name="run", preset="gan2014-digits", resume=False):
        cfg = config.resolve(presets.load_preset(preset)[0], [*TINY, *extra])
        return Trainer(cfg, tmp_path / name, resume=resume)

    return make
