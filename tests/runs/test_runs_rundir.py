"""--force may delete only a ganforge run directory: marker files present, nothing foreign."""

import re
import shutil
from pathlib import Path

import pytest

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.figures.run_figures import IMAGE_FIGURES, POINT_FIGURES
from ganforge.runs.rundir import check_replaceable, foreign_entries, is_run_directory


def _run(path: Path) -> Path:
    (path / "checkpoints").mkdir(parents=True)
    (path / "config.yaml").write_text("seed: 0\n")
    (path / "options.json").write_text("{}")
    (path / "stats.jsonl").write_text("")
    return path


def test_a_run_is_a_run(tmp_path):
    assert is_run_directory(_run(tmp_path / "r"))
    check_replaceable(tmp_path / "r")


@pytest.mark.parametrize("foreign", ["notes.txt", "thesis.txt", "data"])
def test_a_run_with_a_foreign_file_is_not(tmp_path, foreign):
    run = _run(tmp_path / "r")
    (run / foreign).write_text("mine")
    assert not is_run_directory(run)
    with pytest.raises(GanforgeError, match=f"files ganforge did not write \\({foreign}\\)"):
        check_replaceable(run)


def test_markers_are_required(tmp_path):
    run = _run(tmp_path / "r")
    (run / "options.json").unlink()
    assert not is_run_directory(run)
    with pytest.raises(GanforgeError, match="not a ganforge run directory"):
        check_replaceable(run)
    assert not is_run_directory(tmp_path / "missing")


def test_a_parent_of_runs_is_not(tmp_path):
    _run(tmp_path / "runs" / "r")
    assert not is_run_directory(tmp_path / "runs")
    with pytest.raises(GanforgeError, match=r"did not write \(r\)"):
        check_replaceable(tmp_path / "runs")


def test_cwd_home_and_root_are_refused_even_if_they_look_like_runs(tmp_path, monkeypatch):
    home = _run(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(_run(tmp_path / "cwd"))
    for path in (Path("."), Path.cwd(), home, Path("/"), Path("..")):
        with pytest.raises(GanforgeError, match="current, home or a parent directory"):
            check_replaceable(path)


def test_a_symlink_to_a_run_is_not_a_run(tmp_path):
    (tmp_path / "link").symlink_to(_run(tmp_path / "r"))
    assert not is_run_directory(tmp_path / "link")


@pytest.mark.parametrize("foreign", ["samples/my_notes.txt", "samples/keep.npy", "checkpoints/step-0000003/README",
                                     "checkpoints/mine.txt", "checkpoints/old/G.safetensors", "eval/notes.json",
                                     "figures/plot.py", "tb/notes.txt", "samples/sub/step-0000001.png"])
def test_a_users_file_in_a_subfolder_is_foreign(tmp_path, foreign):
    run = _run(tmp_path / "r")
    (run / foreign).parent.mkdir(parents=True, exist_ok=True)
    (run / foreign).write_text("mine")
    assert not is_run_directory(run)
    # a file in a folder of its own is named by the folder (the part of the path ganforge did not write)
    named = foreign if foreign.count("/") == 1 or foreign.startswith("checkpoints/step-") else \
        foreign.rsplit("/", 1)[0]
    with pytest.raises(GanforgeError, match=f"files ganforge did not write \\({re.escape(named)}\\)"):
        check_replaceable(run)


def test_everything_ganforge_writes_in_a_run_is_its_own(tmp_path):
    run = _run(tmp_path / "r")
    written = ["samples/step-0000003.png", "tb/events.out.tfevents.1700000000.host.123.0", "eval/step-0000003.json",
               "eval/best.json", "eval/.best.4242.partial.json", "checkpoints/step-0000003/G.safetensors",
               "checkpoints/step-0000003/optim_G.safetensors", "checkpoints/step-0000003/state.json",
               "checkpoints/step-0000003/manifest.json", "checkpoints/best/G_ema.safetensors",
               "checkpoints/.step-0000006.tmp/D.safetensors", "figures/.curves.99.partial.png", ".lock",
               "options.tmp", *(f"figures/{name}" for name in {*IMAGE_FIGURES, *POINT_FIGURES})]
    for rel in written:
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_text("")
    assert foreign_entries(run) == []
    assert is_run_directory(run)
    check_replaceable(run)


def test_force_keeps_a_users_file_in_samples(tmp_path, monkeypatch, capsys):
    """The probe's case end to end: a real run (tensorboard on) is replaceable; one file of the user's in
    samples/ makes --force refuse in one line naming it, and the whole run stays as it was."""
    monkeypatch.chdir(tmp_path)
    train = ["train", "gan2014-digits", "--steps", "2", "--out", "r", "--set", "model.g.hidden=[16]",
             "--set", "model.d.hidden=[8]", "--set", "log.tensorboard=true"]
    assert main(train) == 0
    assert any((tmp_path / "r" / "tb").iterdir()) and is_run_directory(tmp_path / "r")
    (tmp_path / "r" / "samples" / "my_notes.txt").write_text("mine")
    before = {p: p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main([*train, "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "--force will not delete r" in err and "samples/my_notes.txt" in err, err
    assert {p: p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()} == before
    (tmp_path / "r" / "samples" / "my_notes.txt").unlink()
    assert main([*train, "--force"]) == 0  # without it the run is ganforge's own and is replaced


@pytest.mark.parametrize("text,said", [("", "is empty"), ("[1, 2]\n", "holds a list")])
def test_an_empty_config_names_the_file_and_the_fix(tmp_path, tiny_runs, capsys, text, said):
    run = tmp_path / "run"
    shutil.copytree(tiny_runs / "digits", run)
    (run / "config.yaml").write_text(text)
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "s.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{run / 'config.yaml'} {said}" in err and "restore it" in err, err


def test_a_missing_manifest_is_reported_as_damage_by_the_commands(tmp_path, tiny_runs, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_runs / "digits", run)
    for manifest in (run / "checkpoints").glob("step-*/manifest.json"):
        manifest.unlink()
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "s.npy")]) == 2
    err = capsys.readouterr().err
    assert "is damaged (no manifest.json" in err and "train longer" not in err
    assert not (tmp_path / "s.npy").exists()
