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


SMALL = ["--set", "log.tensorboard=false", "--set", "log.progress=false", "--set", "model.z_dim=8",
         "--set", "model.g.hidden=[16]", "--set", "model.d.hidden=[8]", "--set", "model.d.pieces=2",
         "--set", "log.every=5", "--set", "log.checkpoint_every=5", "--set", "log.sample_every=1000",
         "--set", "train.batch_size=16"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run at step 10 (checkpoints at 5 and 10) trained with SMALL on the CPU."""
    run = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", "gan2014-digits", "--out", str(run), "--steps", "10", "--device", "cpu", *SMALL]) == 0
    return run


def _resume(run, *extra):
    return ["train", "gan2014-digits", "--out", str(run), "--resume", "--device", "cpu", *SMALL, *extra]


@pytest.mark.parametrize("damage, message", [
    ("{not json", "options.json is not valid JSON"),
    ("[1, 2]", "options.json holds a list, not the run's record"),
    (None, "its options.json is missing"),
])
def test_resume_with_a_damaged_options_json_is_refused_before_anything_is_written(trained, tmp_path, capsys,
                                                                                   damage, message):
    """A corrupt options.json was a JSONDecodeError traceback, after config.yaml had taken the new train.steps
    unrecorded; a deleted one resumed silently, with a new options.json lacking seed, versions and data."""
    run = shutil.copytree(trained, tmp_path / "run")
    if damage is None:
        (run / "options.json").unlink()
    else:
        (run / "options.json").write_text(damage)
    before = _snapshot(run)
    for dry in (["--dry-run"], []):
        fails(capsys, _resume(run, "--steps", "15", *dry), "cannot resume", message,
              "restore it from a backup, or start a new run without --resume")
        assert _snapshot(run) == before


def test_resume_without_stats_jsonl_says_the_log_starts_again(trained, tmp_path, capsys):
    run = shutil.copytree(trained, tmp_path / "run")
    (run / "stats.jsonl").unlink()
    capsys.readouterr()
    assert main(_resume(run, "--steps", "15")) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "stats.jsonl is missing" in line]
    assert len(warned) == 1 and warned[0].startswith("ganforge: warning: ") and "restore the file" in warned[0]


def test_a_dry_run_refuses_what_the_run_refuses(trained, tmp_path, capsys):
    """--dry-run passed a file as --out (NotADirectoryError traceback), a --resume to a budget the run had
    passed, a --resume of a run with no checkpoint, and a run another process trains; the run refuses each."""
    from ganforge.runs.lock import RunLock

    (tmp_path / "f").write_text("mine")
    for dry in (["--dry-run"], []):
        fails(capsys, ["train", "gan2014-digits", "--out", tmp_path / "f", *dry], "is a file, not a directory")
    assert (tmp_path / "f").read_text() == "mine"
    run = shutil.copytree(trained, tmp_path / "run")
    before = _snapshot(run)
    for dry in (["--dry-run"], []):
        fails(capsys, _resume(run, "--steps", "5", *dry), "is already at step 10, past --steps 5")
    with RunLock(run):
        for dry in (["--dry-run"], []):
            fails(capsys, _resume(run, "--steps", "15", *dry), f"is being trained by process {os.getpid()}")
    assert _snapshot(run) == before
    empty = shutil.copytree(trained, tmp_path / "empty", ignore=shutil.ignore_patterns("step-*"))
    for dry in (["--dry-run"], []):
        fails(capsys, _resume(empty, "--steps", "15", *dry), "no checkpoint in", "without --resume")
    assert main(_resume(run, "--steps", "15", "--dry-run")) == 0


def test_a_dry_run_resumes_from_the_checkpoint_the_run_would(trained, tmp_path, capsys):
    """A truncated newest checkpoint: the run falls back to step 5 and trains to --steps 8; by the damaged
    one's manifest alone the dry run refused it ("already at step 10, past --steps 8")."""
    run = shutil.copytree(trained, tmp_path / "run")
    weights = run / "checkpoints" / "step-0000010" / "G.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    capsys.readouterr()
    for dry in (["--dry-run"], []):
        assert main(_resume(run, "--steps", "8", *dry)) == 0
        assert "skipping checkpoint: checkpoint file" in capsys.readouterr().err
    for manifest in (run / "checkpoints").glob("step-*/manifest.json"):  # every one damaged: both refuse
        manifest.write_text("[]")
    for dry in (["--dry-run"], []):
        fails(capsys, _resume(run, "--steps", "15", *dry), "every checkpoint in", "is damaged")


def test_resume_takes_display_and_device_changes_and_records_them(trained, tmp_path, capsys):
    """log.progress, log.tensorboard and train.device change how a run is shown and where it runs, not what it
    computes: resume refused them without --allow-config-change. Now recorded as config changes."""
    import json

    run = shutil.copytree(trained, tmp_path / "run")
    changed = [*_resume(run, "--steps", "15"), "--set", "log.progress=true", "--set", "log.tensorboard=true",
               "--device", "auto"]
    assert main([*changed, "--dry-run"]) == 0
    assert main(changed) == 0
    options = json.loads((run / "options.json").read_text())
    recorded = options["config_changes"][-1]
    assert recorded["step"] == 10 and {c.split(":")[0] for c in recorded["changes"]} == {
        "log.progress", "log.tensorboard", "train.device"}
    fails(capsys, [*_resume(run, "--steps", "20"), "--set", "optim.d.lr=0.5"], "--allow-config-change")
    # a GPU run with tf32 forced on, resumed on the CPU: dropping the flag its message names is enough (it had
    # needed --allow-config-change too), and the change is recorded like the device's
    saved = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(saved.replace("tf32: auto", "tf32: true"))
    fails(capsys, _resume(run, "--steps", "20", "--set", "speed.tf32=true"), "speed.tf32=true is a CUDA setting",
          "--set speed.tf32=auto")
    assert main(_resume(run, "--steps", "20", "--set", "speed.tf32=auto")) == 0
    assert any(c.startswith("speed.tf32") for c in json.loads((run / "options.json").read_text())
               ["config_changes"][-1]["changes"])
