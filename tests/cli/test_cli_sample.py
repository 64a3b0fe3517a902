"""``ganforge sample``: options that cannot be honoured are one line and exit 2, before anything is written."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganforge.cli import main

TABLE_TRAIN = ["--steps", "2", "--set", "train.batch_size=50", "--set", "model.d.pack=5", "--set",
               "log.tensorboard=false", "--set", "log.progress=false"]


def test_a_second_condition_is_refused_not_dropped(tmp_path, capsys):
    """--condition used to keep only the last of two; G is conditioned on one column at a time."""
    rng = np.random.default_rng(0)
    src = tmp_path / "t.csv"
    pd.DataFrame({"x": rng.normal(size=100).round(2), "cat": rng.choice(list("abc"), 100),
                  "label": rng.choice(["yes", "no"], 100)}).to_csv(src, index=False)
    run, out = tmp_path / "run", tmp_path / "s.csv"
    assert main(["train", "ctgan-fast", "--out", str(run), "--set", f"data.name=csv:{src}", *TABLE_TRAIN]) == 0
    capsys.readouterr()
    code = main(["sample", str(run), "--n", "10", "--out", str(out), "--condition", "cat=a", "--condition", "label=yes"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "--condition was given 2 times (cat=a, label=yes)" in err and "give one --condition" in err
    assert not out.exists()
    assert main(["sample", str(run), "--n", "10", "--out", str(out), "--condition", "cat=a"]) == 0  # one still works
    assert set(pd.read_csv(out)["cat"]) == {"a"}


TINY = ["--steps", "2", "--set", "log.tensorboard=false", "--set", "log.progress=false", "--set",
        "model.g.hidden=[16]", "--set", "model.d.hidden=[8]"]


def test_samples_of_a_run_without_classes_never_sit_beside_an_older_labels_file(tmp_path, capsys):
    """A conditional run's sample left L.labels.npy; an unconditional run's `sample --out L.npy --force` kept
    it, and `eval --samples L.npy --labels L.labels.npy` scored the new samples as the old classes."""
    cond, plain, out = tmp_path / "cond", tmp_path / "plain", tmp_path / "L.npy"
    assert main(["train", "gan2014-digits", "--out", str(cond), *TINY, "--set", "model.g.conditioning=concat",
                 "--set", "model.d.conditioning=projection"]) == 0
    assert main(["train", "gan2014-digits", "--out", str(plain), *TINY]) == 0
    assert main(["sample", str(cond), "--n", "8", "--out", str(out), "--class", "1"]) == 0
    labels = tmp_path / "L.labels.npy"
    assert labels.exists()
    capsys.readouterr()
    out.unlink()  # only the labels file is left: still refused without --force
    assert main(["sample", str(plain), "--n", "8", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds the classes of earlier samples" in err and "--force" in err
    assert labels.exists() and not out.exists()
    assert main(["sample", str(plain), "--n", "8", "--out", str(out), "--force"]) == 0
    assert out.exists() and not labels.exists()
    assert "removed" in capsys.readouterr().out
