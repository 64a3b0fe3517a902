"""--resume after the training data changed under the run: fewer samples (a new, shorter epoch), or samples
of another shape (a store rebuilt at another size or channel count), each said for what it is."""

import json
import math

import numpy as np
import pytest

from ganforge import config, presets
from ganforge.engine.loop import Trainer
from ganforge.errors import GanforgeError

BASE = ["log.tensorboard=false", "log.progress=false", "model.z_dim=8", "model.g.hidden=[16]",
        "model.d.hidden=[8]", "model.d.pieces=2", "log.every=1", "log.checkpoint_every=3",
        "log.sample_every=1000", "train.batch_size=4"]


def _cfg(npz, steps):
    return config.resolve(presets.load_preset("gan2014-digits")[0], [*BASE, f"data.name=npz:{npz}",
                                                                      f"train.steps={steps}"])


def _save(path, n, shape=(1, 8, 8)):
    np.savez(path, x=np.random.default_rng(0).integers(0, 256, (n, *shape)).astype(np.uint8))


def test_resume_on_data_that_shrank_starts_a_new_epoch_and_stays_finite(tmp_path, capsys):
    npz = tmp_path / "d.npz"
    _save(npz, 20)
    Trainer(_cfg(npz, 3), tmp_path / "r").fit()  # 5 batches an epoch: saved at position 3
    _save(npz, 9)  # 2 batches an epoch now: position 3 is past the end
    capsys.readouterr()
    resumed = Trainer(_cfg(npz, 8), tmp_path / "r", resume=True)
    assert "the training data differ from those" in capsys.readouterr().err  # still warned about
    assert resumed.fit().step == 8
    stats = [json.loads(line) for line in (tmp_path / "r" / "stats.jsonl").read_text().splitlines()]
    later = [s for s in stats if s.get("step", 0) > 3 and "loss_D" in s]
    assert len(later) == 5 and all(math.isfinite(s[k]) for s in later for k in ("loss_D", "loss_G", "D_real")), later
    assert not any(s.get("event") == "diverged" for s in stats)


@pytest.mark.parametrize("shape, said", [((1, 6, 6), "from 1x8x8 to 1x6x6"), ((3, 8, 8), "from 1x8x8 to 3x8x8")])
def test_resume_on_data_of_another_shape_names_the_data_not_the_config(tmp_path, shape, said):
    npz = tmp_path / "d.npz"
    _save(npz, 20)
    Trainer(_cfg(npz, 3), tmp_path / "r").fit()
    before = {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir() if p.is_file()}
    _save(npz, 20, shape)
    with pytest.raises(GanforgeError) as info:
        Trainer(_cfg(npz, 6), tmp_path / "r", resume=True)
    message = str(info.value)
    assert "training data changed" in message and f"sample shape changed {said}" in message, message
    assert "resume with the config" not in message and "\n" not in message
    assert {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir() if p.is_file()} == before
