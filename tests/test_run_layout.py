"""A run's records, by the one layout list: what `train --force` may delete is what no output may replace."""

import pytest

from ganforge import outputs
from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.run_layout import record_of


def _run(path):
    (path / "checkpoints" / "step-0000005").mkdir(parents=True)
    (path / "config.yaml").write_text("seed: 0\n")
    (path / "options.json").write_text("{}")
    return path


@pytest.mark.parametrize("rel", ["", "config.yaml", "options.json", "stats.jsonl", "checkpoints", "eval/best.json",
                                 "checkpoints/step-0000005/G.safetensors", "checkpoints/new.png", "tb/x",
                                 "samples/step-0000005.png", "figures/curves.png",
                                 # in the folders ganforge fills: a user's file there was taken for foreign,
                                 # and `train --force` then refused the run
                                 "samples/mine.png", "eval/notes.json", "eval/best.json.npy", "figures/x.png"])
def test_a_runs_records_are_records(tmp_path, rel):
    run = _run(tmp_path / "r")
    assert record_of(run / rel) == run


@pytest.mark.parametrize("rel", ["s.npy", "my/config.yaml", "my/eval/x.json"])
def test_other_paths_in_and_beside_a_run_are_not(tmp_path, rel):
    run = _run(tmp_path / "r")
    assert record_of(run / rel) is None
    assert record_of(tmp_path / "elsewhere" / "config.yaml") is None
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.yaml").write_text("seed: 0\n")  # no options.json: not a run
    assert record_of(tmp_path / "half" / "options.json") is None


def test_force_never_lets_an_output_replace_a_record(tmp_path):
    run = _run(tmp_path / "r")
    with pytest.raises(GanforgeError, match="is part of the run .*r .*write it outside the run's records"):
        outputs.check_file(run / "options.json", flag="--json", force=True)
    with pytest.raises(GanforgeError, match="is part of the run"):
        outputs.check_folder_out(run / "checkpoints" / "out", flag="--out")
    outputs.check_file(run / "s.npy", flag="--out", force=True)  # a file of the user's beside the records


def test_eval_json_over_the_runs_options_is_refused_and_the_record_kept(tiny_runs, capsys):
    run = tiny_runs / "digits"
    before = (run / "options.json").read_bytes()
    assert main(["eval", str(run), "--metrics", "parzen", "--n", "20", "--json", str(run / "options.json"),
                 "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "is part of the run" in err
    assert (run / "options.json").read_bytes() == before


def test_sample_into_a_folder_ganforge_fills_is_refused(tiny_runs, tmp_path, capsys):
    """`sample --out RUN/eval/best.json.npy` wrote into eval/ (and RUN/samples/x.npy into samples/)."""
    run = tiny_runs / "digits"
    for rel in ("eval/best.json.npy", "samples/x.npy", "figures/x.npy"):
        assert main(["sample", str(run), "--n", "3", "--out", str(run / rel)]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "is part of the run" in err and "write it outside the run's records" in err
        assert not (run / rel).exists()


@pytest.mark.parametrize("rel", ["checkpoints", "", "eval", "tb", "samples"])
def test_figures_out_in_a_runs_records_is_refused(tiny_runs, tmp_path, capsys, rel):
    """`figures RUN --out RUN/checkpoints` (or RUN) wrote PNGs into the run's records; `train --force` then
    refused the run for its foreign files."""
    import shutil

    run = shutil.copytree(tiny_runs / "ring8", tmp_path / "run")
    before = sorted(p for p in run.rglob("*"))
    assert main(["figures", str(run), "--n", "20", "--out", str(run / rel)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "is part of the run" in err and "write it outside the run's records" in err
    assert sorted(p for p in run.rglob("*")) == before


def test_figures_out_may_name_the_runs_own_figures_folder(tiny_runs, tmp_path, capsys):
    import shutil

    run = shutil.copytree(tiny_runs / "ring8", tmp_path / "run")
    assert main(["figures", str(run), "--n", "20", "--out", str(run / "figures")]) == 0
    assert main(["figures", str(run), "--n", "20"]) == 0  # the default, again: the run's to redraw
    assert (run / "figures" / "curves.png").is_file()
    assert main(["train", "gan2014-ring8", "--out", str(run), "--force", "--dry-run"]) == 0
