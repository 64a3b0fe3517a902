"""benchmarks/ema_from_snapshots.py: replayed over a snapshot at every step, it is the loop's own average."""

import pytest
import torch
from safetensors.torch import load_file

from ganforge import api
from ganforge.training.ema import EmaSchedule

TINY = ["data.name=digits", "model.z_dim=8", "model.g.channels=8", "model.g.w_dim=16", "model.d.channels=8",
        "train.batch_size=16", "log.progress=false", "log.tensorboard=false", "log.sample_every=1000",
        "ema.half_life_images=200", "ema.rampup=0.5"]


@pytest.fixture(scope="module")
def replay_tool(benchmark_script):
    return benchmark_script("ema_from_snapshots")


@pytest.fixture(scope="module")
def dense_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dense") / "run"
    api.train("stylegan2-mnist", out=out, set=[*TINY, "train.steps=6", "log.checkpoint_every=1",
                                               "log.keep_checkpoints=10", "seed=3"])
    return out


def test_a_snapshot_at_every_step_replays_the_runs_own_average(replay_tool, dense_run):
    ema = load_file(str(dense_run / "checkpoints" / "step-0000006" / "G_ema.safetensors"))
    raw = load_file(str(dense_run / "checkpoints" / "step-0000006" / "G.safetensors"))
    buffers = {"w_avg"}
    own, left_out = replay_tool.replay(dense_run, EmaSchedule(16, half_life_images=200, rampup=0.5), buffers)
    assert left_out == 0  # a ramp-up's first update copies G
    assert own.keys() == ema.keys()
    assert all(torch.allclose(own[k], ema[k], atol=1e-6) for k in ema)
    moved = [k for k in ema if ema[k].is_floating_point() and not torch.equal(ema[k], raw[k])]
    assert moved  # the average is not just the last G, so the match above is not trivial
    longer, left_out = replay_tool.replay(dense_run, EmaSchedule(16, half_life_images=2000), buffers)
    assert 0 < left_out < 1  # no ramp-up: the initial weights keep a share the replay leaves out
    assert any(not torch.allclose(longer[k], ema[k], atol=1e-4) for k in moved)


def test_a_run_without_dense_checkpoints_is_refused_with_the_settings_that_make_one(replay_tool, tmp_path):
    out = tmp_path / "sparse"
    api.train("stylegan2-mnist", out=out, set=[*TINY, "train.steps=2", "log.keep_checkpoints=1"])
    with pytest.raises(SystemExit, match="log.checkpoint_every=50"):
        replay_tool.replay(out, EmaSchedule(16, half_life_images=200), set())


def test_an_average_is_a_half_life_and_a_ramp_up(replay_tool):
    assert replay_tool.parse_average("20000:none") == (20000, None)
    assert replay_tool.parse_average("10000:0.05") == (10000, 0.05)
    assert replay_tool.parse_average("500") == (500, None)
