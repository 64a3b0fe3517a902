"""The generic growth schedule: levels over images seen, any network with the protocol, exact resume mid-fade."""

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from ganforge import config, presets
from ganforge.engine.loop import Trainer
from ganforge.errors import ConfigError
from ganforge.training.growth import Growth, GrowthSchedule


def test_the_schedule_trains_stage_0_then_fades_each_stage_in_linearly_then_holds():
    s = GrowthSchedule(levels=3, fade_images=100, stable_images=50)
    assert [s.level(i) for i in (0, 49)] == [0.0, 0.0]
    assert [s.level(i) for i in (50, 75, 125, 149)] == [0.0, 0.25, 0.75, 0.99]
    assert [s.level(i) for i in (150, 199)] == [1.0, 1.0]  # stage 1 stable
    assert [s.level(i) for i in (200, 250, 300, 10_000)] == [1.0, 1.5, 2.0, 2.0]
    assert GrowthSchedule(3, 0, 10).level(10) == 1.0  # no fade: stages switch at once


class Toy(nn.Module):
    """Any module following the protocol grows: here a plain layer with a level buffer."""

    growth_levels = 3

    def __init__(self):
        super().__init__()
        self.register_buffer("level", torch.zeros(()))

    def set_growth(self, level: float) -> None:
        self.level.fill_(level)


def test_growth_sets_the_level_on_every_growing_network_and_keeps_its_place():
    nets = {"A": Toy(), "B": Toy(), "fixed": nn.Linear(2, 2)}
    growth = Growth(nets, fade_images=40, stable_images=20, batch_size=10)
    assert set(growth.nets) == {"A", "B"}
    levels = [growth.run(None)["growth_level"].item() for _ in range(6)]
    assert levels == pytest.approx([0, 0, 0, 0.25, 0.5, 0.75])
    assert nets["A"].level.item() == nets["B"].level.item() == 0.75
    state = growth.state_dict()
    assert state == {"images": 60, "levels": 3, "fade_images": 40, "stable_images": 20}
    again = Growth({"A": Toy()}, fade_images=40, stable_images=20, batch_size=10)
    again.load_state_dict(state)
    assert again.run(None)["growth_level"].item() == 1.0


def test_growth_refuses_networks_that_do_not_grow(one_line):
    with pytest.raises(ConfigError) as e:
        Growth({"G": nn.Linear(2, 2)}, 10, 10, 4)
    assert "networks that grow" in one_line(e)


SETTINGS = ["data.name=digits", "model.g.channels=8", "model.d.channels=8", "model.z_dim=8", "train.batch_size=8",
            "growth.stable_images=40", "growth.fade_images=80", "log.progress=false", "log.tensorboard=false",
            "log.every=2", "log.checkpoint_every=100", "log.sample_every=1000"]


def _run(tmp_path, name, steps, resume=False):
    cfg = config.resolve(presets.load_preset("progan-mnist")[0], [*SETTINGS, f"train.steps={steps}"])
    return Trainer(cfg, tmp_path / name, resume=resume).fit()


def _weights(run):
    last = sorted(p for p in (run / "checkpoints").iterdir() if p.name.startswith("step-"))[-1]
    return {f"{f.stem}.{k}": v for f in last.glob("*.safetensors") for k, v in load_file(f).items()}


def test_a_run_killed_mid_fade_resumes_bitwise(tmp_path):
    # 8 images a step: stage 0 for 5 steps, then the 8x8 stage fades in over steps 5..14; split at step 9.
    _run(tmp_path, "straight", 12)
    stopped = _run(tmp_path, "split", 9)
    assert stopped.step == 9
    level = load_file(tmp_path / "split" / "checkpoints" / "step-0000009" / "G.safetensors")["level"].item()
    assert 0 < level < 1  # saved mid-fade
    _run(tmp_path, "split", 12, resume=True)
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert a["G.level"].item() == pytest.approx(0.6)  # the last step (11) saw 88 images: (88 - 40) / 80
