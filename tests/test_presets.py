"""Every preset builds and takes a training step (on the embedded digits, at tiny widths, on the CPU)."""

import pytest

from ganforge import config, presets
from ganforge.engine.loop import Trainer

NARROW = {"dcgan": "base_channels", "resnet": "channels", "mlp": "hidden", "maxout": "hidden"}


def _narrow(spec, prefix):
    key = NARROW[spec.arch]
    return [f"{prefix}.{key}={[16] if key == 'hidden' else 8}"]


@pytest.mark.parametrize("name", sorted(presets.list_presets()))
def test_preset_takes_a_step(tmp_path, name):
    raw, description = presets.load_preset(name)
    assert description, f"{name} needs a one-line description"
    cfg = config.resolve(raw)
    overrides = ["log.tensorboard=false", "log.progress=false", "train.steps=2", "train.batch_size=8",
                 *_narrow(cfg.model.g, "model.g"), *_narrow(cfg.model.d, "model.d")]
    if cfg.data.name in ("mnist", "stacked-mnist"):
        channels = 3 if cfg.data.name == "stacked-mnist" else 1
        overrides += ["data.name=digits", f"data.channels={channels}"]  # CI runs offline
    if cfg.model.d.arch == "resnet":
        overrides += ["data.resolution=16"]
    cfg = config.resolve(raw, overrides)
    result = Trainer(cfg, tmp_path / "run").fit()
    assert result.step == 2
    assert all(v == v for v in result.last_stats.values() if isinstance(v, float))  # no NaN
