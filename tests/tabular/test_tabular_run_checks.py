"""audit and downstream on a table run refuse, in one line, measures that would score the wrong rows: a
training table that changed since the run (fingerprint), a holdout that is the training rows, a holdout
that is missing or of one row (named as --holdout-data), and a run with no class to predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganforge.cli import main

TINY = ["--steps", "10", "--set", "log.tensorboard=false", "--set", "log.progress=false"]


def _rows(n: int, seed: int, label: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(size=n).round(3), "y": rng.integers(0, 100, n)})
    if label:
        df["label"] = rng.choice(["p", "q"], n)
    return df


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A ctgan-fast run on 150 rows (data.target=label) and 50 held-out rows of the same population."""
    home = tmp_path_factory.mktemp("tabrun")
    _rows(150, 0).to_csv(home / "pt.csv", index=False)
    _rows(50, 1).to_csv(home / "hold.csv", index=False)
    _rows(80, 2, label=False).to_csv(home / "num.csv", index=False)
    old = Path.cwd()
    mp = pytest.MonkeyPatch()
    mp.chdir(home)
    mp.setenv("GANFORGE_DATA", str(home / "data"))
    assert main(["train", "ctgan-fast", "--set", "data.name=csv:pt.csv", "--set", "data.target=label", *TINY,
                 "--out", "runs/pt"]) == 0
    assert main(["train", "ctgan-fast", "--set", "data.name=csv:num.csv", *TINY, "--out", "runs/num"]) == 0
    yield home
    mp.undo()
    assert Path.cwd() == old


@pytest.fixture
def here(trained, monkeypatch, capsys):
    monkeypatch.chdir(trained)
    monkeypatch.setenv("GANFORGE_DATA", str(trained / "data"))
    capsys.readouterr()
    return trained


def _fails(capsys, argv, *expected) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("ganforge: ") and "Traceback" not in err, err
    for text in expected:
        assert text in err, (text, err)
    return err


def test_a_changed_training_table_is_refused(here, capsys):
    original = (here / "pt.csv").read_bytes()
    try:
        _rows(150, 7).to_csv(here / "pt.csv", index=False)  # the same columns, other rows
        for verb in ("audit", "downstream"):
            _fails(capsys, [verb, "runs/pt", "--holdout-data", "csv:hold.csv", "--out", f"{verb}.json"],
                   "the table loaded as csv:pt.csv differs from the one runs/pt was trained on (fingerprint "
                   "mismatch); restore the original file")
            assert not (here / f"{verb}.json").exists()
    finally:
        (here / "pt.csv").write_bytes(original)
    assert main(["audit", "runs/pt", "--holdout-data", "csv:hold.csv", "--n", "50"]) == 0  # restored: measured


def test_a_holdout_of_training_rows_is_refused(here, capsys):
    pd.read_csv(here / "pt.csv").head(40).to_csv(here / "part.csv", index=False)
    for verb in ("audit", "downstream"):
        _fails(capsys, [verb, "runs/pt", "--holdout-data", "csv:pt.csv"],
               "--holdout-data csv:pt.csv: 150 of its 150 rows (100%) are rows of the training table csv:pt.csv",
               "give rows the generator never saw")
        _fails(capsys, [verb, "runs/pt", "--holdout-data", "csv:part.csv"], "40 of its 40 rows (100%)")
    # a few training rows among many unseen ones, as duplicates in real data give, are not refused
    mixed = pd.concat([pd.read_csv(here / "hold.csv"), pd.read_csv(here / "pt.csv").head(2)])
    mixed.to_csv(here / "mixed.csv", index=False)
    assert main(["downstream", "runs/pt", "--holdout-data", "csv:mixed.csv"]) == 0


def test_holdout_problems_name_holdout_data(here, capsys):
    _fails(capsys, ["audit", "runs/pt", "--holdout-data", "csv:nope.csv"],
           "--holdout-data csv:nope.csv: nope.csv does not exist", "check the path given to --holdout-data")
    pd.read_csv(here / "hold.csv").head(1).to_csv(here / "one.csv", index=False)
    _fails(capsys, ["downstream", "runs/pt", "--holdout-data", "csv:one.csv"],
           "--holdout-data csv:one.csv has 1 row; a holdout needs at least 2 rows")


def test_downstream_without_a_class_says_to_retrain_with_a_target(here, capsys):
    err = _fails(capsys, ["downstream", "runs/num"], "no categorical or boolean column to predict",
                 "train again with --set data.target=COLUMN")
    assert "--target COLUMN" not in err  # downstream has no --target
