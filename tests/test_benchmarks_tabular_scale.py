"""benchmarks/tabular_scale.py end to end at 60 rows: the generated table has the 30 columns the docstring
and docs/benchmarks.md section 15 describe, it is measured in a child process as training loads it, and the
JSON and the printed table carry the same row with finite, positive figures."""

import json
import math
import sys

import pandas as pd


def test_tabular_scale_generates_loads_and_reports_one_size(benchmark_script, tmp_path, monkeypatch, capsys):
    scale = benchmark_script("tabular_scale")
    out = tmp_path / "scale.json"
    monkeypatch.setattr(sys, "argv", ["tabular_scale.py", "--rows", "60", "--dir", str(tmp_path / "w"),
                                      "--json", str(out)])
    assert scale.main() == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "w" / "table-60.csv")
    assert table.shape == (60, 30)
    assert table["row_id"].tolist()[:2] == ["R00000000", "R00000001"] and table["num3"].isna().any()
    [row] = json.loads(out.read_text())
    assert (row["rows"], row["columns"], row["batch_ok"]) == (60, 30, True)
    assert row["width"] > 30 and row["cond_dim"] > 0  # one-hot modes and categories widen a row
    for key in ("load_seconds", "index_seconds", "rows_per_second", "peak_rss_mb", "rss_anon_mb_at_end",
                "rss_file_mb_at_end", "csv_mb", "rows_file_mb"):
        assert math.isfinite(row[key]) and row[key] >= 0, key
    assert 0 < row["rows_per_second"] and 50 < row["peak_rss_mb"] < 8000  # torch alone is ~100s of MB
    assert (tmp_path / "w" / "data").is_dir()  # the rows file went under --dir, not the user's data folder
    assert json.dumps(row) in printed
    assert f"| 60 | 30 | {row['width']} | {row['load_seconds']} |" in printed
