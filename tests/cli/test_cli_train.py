"""``ganforge train --dry-run``: what it prints, and the config errors it refuses before any run starts."""

import os
import shutil
import signal

import pytest
from one_line import fails

from ganforge import api
from ganforge.cli import main


def test_dry_run_says_tabular_epochs_replace_train_steps(capsys):
    """ctgan counts training in tabular.epochs: the dry run printed train.steps 10000 as if the run used it."""
    assert main(["train", "ctgan", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert ("# train.steps below is not used: tabular.epochs=300 makes it epochs x (rows // train.batch_size), "
            "counted once the table is read; set tabular.epochs=null to train for train.steps") in out
    assert main(["train", "ctgan", "--dry-run", "--set", "tabular.epochs=null"]) == 0
    assert "train.steps below is not used" not in capsys.readouterr().out
    assert main(["train", "gan2014-digits", "--dry-run"]) == 0
    assert "tabular.epochs" not in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["gan2014-digits", "--set", "train.device=banana"], "train.device 'banana' is not a device"),
    (["ctgan", "--set", "tabular.epochs=-1"], "tabular.epochs must be >= 1"),
    (["ctgan", "--set", "tabular.score_rows=-1"], "tabular.score_rows must be >= 0"),
    (["ctgan", "--set", "tabular.cond=-1"], "tabular.cond must be >= 0"),
    (["gan2014-digits", "--seed", str(10**23)], "seed must be at most 2**63-1"),
])
def test_dry_run_refuses_what_the_run_would(capsys, argv, message):
    """Each failed only once training had started (torch.device, recipes/tabular.py, torch.manual_seed)."""
    fails(capsys, ["train", *argv, "--dry-run"], message)


def test_dry_run_of_auto_lists_only_keys_the_recipe_reads(capsys):
    """ganomaly keeps no moving average: auto's EMA pick was refused as a key the user should remove."""
    assert main(["train", "ganomaly-mnist", "--dry-run", "--set", "auto=true", "--set", "data.resolution=32"]) == 0
    out = capsys.readouterr().out
    assert "# auto configuration for dcgan at 32 px" in out and "ema." not in out


def _snapshot(path):
    return {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_dry_run_refuses_the_run_directory_the_run_would(tiny_runs, tmp_path, capsys):
    """--dry-run passed a --resume of no run, a --resume with another config and a new run over an old
    one, each of which the real run refuses; and --force with --resume ignored --force."""
    run = tiny_runs / "digits"
    before = _snapshot(run)
    capsys.readouterr()
    fails(capsys, ["train", "gan2014-digits", "--out", str(tmp_path / "none"), "--resume", "--dry-run"],
          "cannot resume", "it is not a run directory")
    fails(capsys, ["train", "gan2014-digits", "--out", str(run), "--dry-run"],
          "already exists and is not empty", "pass --resume")
    fails(capsys, ["train", "gan2014-digits", "--out", str(run), "--resume", "--set", "optim.d.lr=0.5",
                   "--dry-run"], "the config differs from the one", "--allow-config-change")
    for dry in ([], ["--dry-run"]):
        fails(capsys, ["train", "gan2014-digits", "--out", str(run), "--resume", "--force", *dry],
              "--resume continues the run in", "give one of them")
    assert _snapshot(run) == before and not (tmp_path / "none").exists()


def test_sigterm_while_a_forced_run_starts_puts_the_old_run_back(tiny_runs, tmp_path, monkeypatch, capsys):
    """SIGTERM before training's own handler was the default action: the process died with the old run set
    aside as .NAME.replaced and the new directory half made. Now it stops as Ctrl-C does, cleaning up."""
    run = shutil.copytree(tiny_runs / "digits", tmp_path / "old")
    before = _snapshot(run)

    def terminated_while_building(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the start")

    def left_unhandled(signum, frame):  # what the old code left in place: a failure here, not a dead pytest
        raise AssertionError("train did not take SIGTERM during start-up")

    monkeypatch.setattr(api, "Trainer", terminated_while_building)
    previous = signal.signal(signal.SIGTERM, left_unhandled)
    try:
        assert main(["train", "gan2014-digits", "--out", str(run), "--force", "--steps", "5"]) == 143
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert "SIGTERM" in capsys.readouterr().err
    assert _snapshot(run) == before and not (tmp_path / ".old.replaced").exists()
