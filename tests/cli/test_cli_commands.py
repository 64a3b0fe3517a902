"""The `ganforge` command end to end, in a temporary directory."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.runs import rundir

TINY = ["--set", "log.tensorboard=false", "--set", "model.g.hidden=[16]", "--set", "model.d.hidden=[8]",
        "--set", "log.checkpoint_every=10", "--set", "log.sample_every=10", "--set", "log.every=10"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_presets_lists_each_one_line(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [line.split()[0] for line in lines]
    assert {"gan2014-mnist", "gan2014-digits", "gan2014-ring8", "gan2014-grid25"} <= set(names)
    assert any("(default)" in line for line in lines if line.startswith("gan2014-digits"))


def test_train_then_sample_images(tmp_path, capsys):
    assert main(["train", "gan2014-digits", "--steps", "20", "--seed", "3", *TINY]) == 0
    run = tmp_path / "runs" / "00000-gan2014-digits"
    for name in ("config.yaml", "options.json", "stats.jsonl", "samples/step-0000020.png",
                 "checkpoints/step-0000020/G.safetensors", "checkpoints/step-0000020/state.json"):
        assert (run / name).exists(), name
    assert "seed: 3" in (run / "config.yaml").read_text()
    recorded = json.loads((run / "options.json").read_text())["versions"]
    assert recorded["cpu_threads"] == str(torch.get_num_threads())  # a seed is bitwise only at one thread count
    assert recorded["cpu"] == rundir.cpu_name() != ""  # ... and on one CPU model
    assert main(["sample", str(run), "--n", "30", "--out", "s.npy", "--seed", "1"]) == 0
    s = np.load("s.npy")
    assert s.dtype == np.uint8 and s.shape == (30, 1, 8, 8)
    assert main(["sample", str(run), "--n", "30", "--out", "t.npy", "--seed", "1"]) == 0
    assert np.array_equal(s, np.load("t.npy"))  # a seed fixes the samples
    # a second train gets a new numbered directory, never the first one's
    assert main(["train", "gan2014-digits", "--steps", "1", *TINY]) == 0
    assert (tmp_path / "runs" / "00001-gan2014-digits").is_dir()


def test_train_then_sample_points_in_data_coordinates(tmp_path):
    assert main(["train", "gan2014-ring8", "--steps", "10", "--out", "r", *TINY]) == 0
    assert main(["sample", "r", "--n", "2500", "--out", "p.npy"]) == 0
    p = np.load("p.npy")
    assert p.dtype == np.float32 and p.shape == (2500, 2)


def test_resume_continues_at_the_checkpointed_step(tmp_path, capsys):
    assert main(["train", "gan2014-digits", "--steps", "10", "--out", "r", *TINY]) == 0
    assert main(["train", "gan2014-digits", "--steps", "20", "--out", "r", "--resume", *TINY]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "step-0000010" in out
    assert (tmp_path / "r" / "checkpoints" / "step-0000020").is_dir()


def test_dry_run_prints_the_resolved_config_and_writes_nothing(tmp_path, capsys):
    assert main(["train", "gan2014-mnist", "--dry-run", "--set", "train.batch_size=50"]) == 0
    out = capsys.readouterr().out
    assert "batch_size: 50" in out and "name: mnist" in out
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("argv, message", [
    (["train", "gan2014-mnsit"], "unknown preset 'gan2014-mnsit' (did you mean 'gan2014-mnist'?)"),
    (["train", "gan2014-digits", "--set", "train.batchsize=3"], "did you mean 'batch_size'"),
    (["train", "gan2014-digits", "--set", "data.name=folder:/no/such/dir"], "/no/such/dir"),
    (["train", "gan2014-digits", "--out", "nothing-here", "--resume"], "not a run directory"),
    (["sample", "no-run", "--n", "5", "--out", "x.npy"], "does not exist"),
    (["sample", ".", "--n", "0", "--out", "x.npy"], "--n must be a positive number"),
])
def test_bad_input_gets_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_existing_output_dir_is_not_overwritten(tmp_path, capsys):
    assert main(["train", "gan2014-digits", "--steps", "5", "--out", "r", *TINY]) == 0
    before = sorted(p.name for p in (tmp_path / "r" / "checkpoints").iterdir())
    assert main(["train", "gan2014-digits", "--steps", "5", "--out", "r", *TINY]) == 2
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "r" / "checkpoints").iterdir()) == before


def test_unreadable_image_is_named(tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.new("L", (8, 8), color=i * 40).save(folder / f"ok{i}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    assert main(["train", "gan2014-digits", "--steps", "1", "--set", f"data.name=folder:{folder}",
                 "--set", "train.batch_size=2", *TINY]) == 2
    err = capsys.readouterr().err
    assert "broken.png" in err and "1 of 5" in err


def test_console_script_runs_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ganforge", "train", "no-such-preset"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown preset 'no-such-preset'" in proc.stderr and "Traceback" not in proc.stderr


def test_class_conditional_sampling(tmp_path, capsys):
    narrow = ["--set", "model.g.base_channels=8", "--set", "model.d.base_channels=8", "--set", "data.name=digits",
              "--set", "train.batch_size=16", "--set", "log.tensorboard=false"]
    assert main(["train", "cgan-mnist", "--steps", "3", "--out", "c", *narrow]) == 0
    assert main(["sample", "c", "--n", "12", "--out", "threes.npy", "--class", "3", "--truncation", "1.0"]) == 0
    labels = np.load("threes.labels.npy")
    assert labels.tolist() == [3] * 12 and np.load("threes.npy").shape == (12, 1, 8, 8)
    assert main(["sample", "c", "--n", "4", "--out", "mix.npy", "--class", "1", "--class", "7"]) == 0
    assert np.load("mix.labels.npy").tolist() == [1, 7, 1, 7]
    assert main(["sample", "c", "--n", "4", "--out", "bad.npy", "--class", "10"]) == 2
    assert "class 10 does not exist" in capsys.readouterr().err
    assert main(["train", "gan2014-digits", "--steps", "2", "--out", "u", *TINY]) == 0
    assert main(["sample", "u", "--n", "4", "--out", "u.npy", "--class", "1"]) == 2
    assert "not class-conditional" in capsys.readouterr().err
