"""``ganforge table-report``: the report end to end, and every bad input as one line and exit 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ganforge.cli import main


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"id": [f"P{i + 1000 * seed:05d}" for i in range(n)], "x": x.round(3),
                         "age": rng.integers(18, 80, n), "when": pd.date_range("2021-01-01", periods=n).strftime("%Y-%m-%d"),
                         "label": np.where(x > 0, "yes", "no")})


@pytest.fixture
def tables(tmp_path):
    paths = {}
    for name, seed in (("real", 0), ("syn", 1), ("holdout", 2)):
        paths[name] = tmp_path / f"{name}.csv"
        _table(120, seed).to_csv(paths[name], index=False)
    return paths


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_report_json_and_html(tables, tmp_path, capsys):
    out, page = tmp_path / "r.json", tmp_path / "r.html"
    code = main(["table-report", str(tables["real"]), str(tables["syn"]), "--holdout", str(tables["holdout"]),
                 "--out", str(out), "--html", str(page)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "quality (SDMetrics 0.32 protocol)" in printed and "membership AUROC" in printed
    assert "utility on 'label'" in printed and "not scored (ID columns): id" in printed
    report = json.loads(out.read_text())
    assert [c["column"] for c in report["quality"]["columns"]] == ["x", "age", "when", "label"]
    assert len(report["quality"]["pairs"]) == 6 and report["kinds"]["id"] == "id"
    assert report["privacy"]["exact_copy_rate"] == 0.0 and report["utility"]["test_rows"] == 120
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 2 and "<script" not in html


def test_identical_pair_scores_100_and_all_copies(tables, tmp_path, capsys):
    out = tmp_path / "same.json"
    assert main(["table-report", str(tables["real"]), str(tables["real"]), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["quality"]["overall"] == pytest.approx(1.0)
    assert report["privacy"]["exact_copy_rate"] == 1.0


def test_bad_inputs_are_one_line_and_exit_2(tables, tmp_path, capsys):
    real = str(tables["real"])
    assert main(["table-report", real, str(tmp_path / "nope.csv")]) == 2
    err = _err(capsys)
    assert "SYN" in err and "does not exist" in err
    other = _table(50, 3).rename(columns={"age": "years"})
    other.to_csv(tmp_path / "other.csv", index=False)
    assert main(["table-report", real, str(tmp_path / "other.csv")]) == 2
    err = _err(capsys)
    assert "missing: age" in err and "not in REAL: years" in err
    (tmp_path / "empty.csv").write_text("")
    assert main(["table-report", str(tmp_path / "empty.csv"), real]) == 2
    assert "empty" in _err(capsys)
    (tmp_path / "header.csv").write_text("id,x,age,when,label\n")
    assert main(["table-report", real, str(tmp_path / "header.csv")]) == 2
    assert "no rows" in _err(capsys)
    assert main(["table-report", real, real, "--target", "x"]) == 2
    assert "categorical or boolean" in _err(capsys)
    assert main(["table-report", real, real, "--ids", "nope"]) == 2
    assert "--ids nope" in _err(capsys)


def test_existing_output_is_refused_without_force(tables, tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("keep me")
    assert main(["table-report", str(tables["real"]), str(tables["syn"]), "--out", str(out)]) == 2
    assert "already exists" in _err(capsys) and out.read_text() == "keep me"
    assert main(["table-report", str(tables["real"]), str(tables["syn"]), "--out", str(out), "--force"]) == 0
    assert json.loads(out.read_text())["rows"]["synthetic"] == 120


def test_an_inf_or_a_semicolon_file_is_one_line_not_a_traceback(tables, tmp_path, capsys):
    real, syn = tables["real"], str(tables["syn"])
    df = pd.read_csv(real)
    df.loc[3, "x"] = np.inf
    df.to_csv(tmp_path / "inf.csv", index=False)
    assert main(["table-report", str(tmp_path / "inf.csv"), syn]) == 2
    assert "column 'x' holds inf at row 4" in _err(capsys)
    pd.read_csv(real).to_csv(tmp_path / "semi.csv", sep=";", index=False)
    assert main(["table-report", str(tmp_path / "semi.csv"), syn]) == 2
    assert "one column named 'id;x;age;when;label'; it looks ';'-separated" in _err(capsys)


def test_ids_naming_every_column_is_one_line(tables, capsys):
    real = str(tables["real"])
    assert main(["table-report", real, real, "--ids", "id,x,age,when,label"]) == 2
    assert "--ids names every column of REAL" in _err(capsys)


def test_a_holdout_of_one_row_or_of_real_rows_is_refused(tables, tmp_path, capsys):
    real, syn = str(tables["real"]), str(tables["syn"])
    pd.read_csv(tables["holdout"]).head(1).to_csv(tmp_path / "one.csv", index=False)
    out = tmp_path / "r.json"
    assert main(["table-report", real, syn, "--holdout", str(tmp_path / "one.csv"), "--out", str(out)]) == 2
    assert "has 1 row; a holdout needs at least 2" in _err(capsys) and not out.exists()
    assert main(["table-report", real, syn, "--holdout", real, "--out", str(out)]) == 2
    assert "is REAL itself" in _err(capsys) and not out.exists()
    # a copy of some of REAL's rows under another name, mixed with true holdout rows: 40 of 100 are REAL's
    mixed = pd.concat([pd.read_csv(tables["real"]).head(40), pd.read_csv(tables["holdout"]).head(60)])
    mixed.to_csv(tmp_path / "mixed.csv", index=False)
    assert main(["table-report", real, syn, "--holdout", str(tmp_path / "mixed.csv"), "--out", str(out)]) == 2
    err = _err(capsys)
    assert "40 of its 100 rows (40%) are rows of the training table" in err and "never saw" in err
    assert not out.exists()
    assert main(["table-report", real, syn, "--holdout", str(tables["holdout"])]) == 0
    assert _err(capsys) == ""  # a real holdout: no warning
