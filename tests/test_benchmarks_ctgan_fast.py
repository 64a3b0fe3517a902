"""benchmarks/ctgan_fast.py end to end on wine for 4 steps (``--set train.steps=4``; the figures of
docs/tabular.md use the preset's 600): the CSV it trains on (target as class names), the row it prints and
writes to results-ctgan-fast.json with the table's size, the steps run, the settings given, and quality
figures in [0, 1] whose overall is the mean of column shapes and pair trends."""

import json
import math

import pandas as pd


def test_ctgan_fast_trains_samples_and_scores_one_dataset(benchmark_script, tmp_path, capsys):
    bench = benchmark_script("ctgan_fast")
    settings = ["train.steps=4", "log.every=2"]
    bench.main(["--out", str(tmp_path), "--datasets", "wine", "--set", settings[0], "--set", settings[1]])
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    rows = json.loads((tmp_path / "results-ctgan-fast.json").read_text())
    assert printed == rows
    [row] = rows
    assert (row["preset"], row["dataset"], row["rows"], row["columns"], row["seed"], row["steps"]) == \
        ("ctgan-fast", "wine", 178, 14, 0, 4)
    assert row["set"] == settings
    csv = pd.read_csv(tmp_path / "wine.csv")
    assert csv.shape == (178, 14) and set(csv["target"]) == {"class_0", "class_1", "class_2"}
    for key in ("quality", "column_shapes", "column_pair_trends"):
        assert 0 <= row[key] <= 1, key
    assert math.isclose(row["quality"], (row["column_shapes"] + row["column_pair_trends"]) / 2)
    assert len(row["convergence_figure_first_last"]) == 2
    assert all(0 <= v <= 1 for v in row["convergence_figure_first_last"])
    assert 0 < row["train_seconds"] < 600 and (tmp_path / "ctgan-fast-wine-seed0" / "stats.jsonl").is_file()
