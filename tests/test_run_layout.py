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
                                 "samples/step-0000005.png", "figures/curves.png"])
def test_a_runs_records_are_records(tmp_path, rel):
    run = _run(tmp_path / "r")
    assert record_of(run / rel) == run


@pytest.mark.parametrize("rel", ["s.npy", "samples/mine.png", "eval/notes.json", "my/config.yaml", "figures/x.png"])
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
