"""DDP through torchrun (gloo, 2 CPU processes) trains the run one process would, with the same global batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from ganforge.errors import ConfigError
from ganforge.training import distributed

# A step that exercises what DDP must get right: k=2 critic updates each with two D forwards
# (real, fake) and a gradient penalty (a double backward through the wrapper), then G through
# the frozen D, then the EMA of G (a half-life in images, ramped up over the first 4 steps: its beta
# counts the global batch's images, 0.71 a step after the ramp, where a rank's own 32 would give 0.84).
# SGD keeps float rounding from being amplified (Adam's first steps divide tiny gradients by their own
# size), so "equal" can mean within 1e-6.
SETTINGS = ["train.batch_size=64", "optim.d.name=sgd", "optim.g.name=sgd", "optim.d.lr=0.05", "optim.g.lr=0.05",
            "loss.d=wasserstein", "loss.g=wasserstein", "reg.gp=1.0", "train.d_steps=2",
            "ema.half_life_images=128", "ema.rampup=0.5",
            "log.every=2", "log.checkpoint_every=4", "log.tensorboard=false", "log.progress=false"]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("RANK", None)
    return env


def _train(run: Path, steps: int, procs: int, *extra: str) -> subprocess.CompletedProcess:
    args = [f"--set={s}" for s in SETTINGS] + ["--out", str(run), "--steps", str(steps), *extra]
    if procs == 1:
        cmd = [sys.executable, "-m", "ganforge", "train", "gan2014-ring8", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs),
               "-m", "ganforge", "train", "gan2014-ring8", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=180)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out


def _final(run: Path) -> dict:
    last = sorted(p for p in (run / "checkpoints").iterdir() if p.name.startswith("step-"))[-1]
    return {f"{f.stem}.{k}": v for f in last.glob("*.safetensors") for k, v in load_file(f).items()}


def _assert_close(a: dict, b: dict, tol: float = 1e-6) -> None:
    assert a.keys() == b.keys()
    worst = max(((a[k].double() - b[k].double()).abs().max().item(), k) for k in a)
    assert worst[0] < tol, f"largest difference {worst[0]:.3g} in {worst[1]}"


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    run = tmp_path_factory.mktemp("ddp") / "single"
    _train(run, 8, 1)
    return run


def test_two_processes_end_where_one_process_with_the_global_batch_ends(single, tmp_path):
    run = tmp_path / "ddp"
    out = _train(run, 8, 2)
    _assert_close(_final(single), _final(run))
    # Rank 0 alone wrote the run: one line per logged step, the world size on record.
    steps = [json.loads(line)["step"] for line in (run / "stats.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8]
    assert json.loads((run / "options.json").read_text())["world_size"] == 2
    assert out.stdout.count("run directory:") == 1
    # The logged losses are averages over the processes, i.e. the global batch's.
    single_stats = [json.loads(line) for line in (single / "stats.jsonl").read_text().splitlines()]
    ddp_stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    for s, d in zip(single_stats, ddp_stats):
        assert abs(s["loss_D"] - d["loss_D"]) < 1e-5 and abs(s["loss_G"] - d["loss_G"]) < 1e-5
        assert s["ema_beta"] == d["ema_beta"]
    assert ddp_stats[-1]["ema_beta"] == pytest.approx(0.5 ** (64 / 128))  # the global batch's images


def test_resume_under_ddp_continues_the_same_run(single, tmp_path):
    run = tmp_path / "ddp"
    _train(run, 4, 2)
    out = _train(run, 8, 2, "--resume")
    assert "resumed from" in out.stdout
    _assert_close(_final(single), _final(run))


def test_global_batch_must_divide_among_the_processes():
    world = distributed.World(rank=0, size=3)
    with pytest.raises(ConfigError, match="multiple of 3"):
        distributed.local_batch(world, 64)
    assert distributed.local_batch(world, 63) == 21


def test_sync_batchnorm_is_refused_on_the_cpu_with_a_fix():
    import torch

    with pytest.raises(ConfigError, match="train.sync_batchnorm=false"):
        distributed.sync_batchnorm({}, torch.device("cpu"))
