"""--force may delete only a ganforge run directory: marker files present, nothing foreign."""

from pathlib import Path

import pytest

from ganforge.errors import GanforgeError
from ganforge.runs.rundir import check_replaceable, is_run_directory


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
