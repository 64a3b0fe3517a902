"""``ganforge classify`` / ``features`` / ``eval`` on a semi-supervised run: predictions and probabilities
written by the output rule, features of the expected width, accuracy named with its protocol."""

import json
from pathlib import Path

import numpy as np

from ganforge.cli import main
from ganforge.data import load_dataset

TINY = ["--steps", "2", "--set", "data.name=digits", "--set", "data.labels_per_class=3", "--set", "train.batch_size=30",
        "--set", "model.g.hidden=[16]", "--set", "model.d.hidden=[32,16]", "--set", "log.tensorboard=false",
        "--set", "log.progress=false"]


def test_classify_features_and_eval_on_a_semi_supervised_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "ssgan-mnist-100", "--out", "r", *TINY]) == 0
    x = load_dataset("digits", split="test").x.numpy()[:7]
    np.save("x.npy", x)
    assert main(["classify", "r", "--input", "x.npy", "--out", "p.npy", "--probs"]) == 0
    pred, probs = np.load("p.npy"), np.load("p.probs.npy")
    assert pred.shape == (7,) and pred.dtype == np.int64 and probs.shape == (7, 10)
    assert np.allclose(probs.sum(1), 1, atol=1e-5) and np.array_equal(probs.argmax(1), pred)
    assert main(["classify", "r", "--input", "x.npy", "--out", "p.npy"]) == 2  # never overwritten silently
    assert main(["features", "r", "--input", "x.npy", "--out", "f.npy"]) == 0
    assert np.load("f.npy").shape == (7, 16)
    capsys.readouterr()
    assert main(["eval", "r"]) == 0
    assert "acc_test_30labels_seed0" in capsys.readouterr().out
    report = json.loads(next(Path("r/eval").glob("*.json")).read_text())
    assert 0 <= report["metrics"]["acc_test_30labels_seed0"] <= 1
    kept = next(Path("r/eval").glob("*.json"))  # digits has no valid split: an earlier valid figure, as written
    kept.write_text(json.dumps({**report, "metrics": {**report["metrics"], "acc_valid_30labels_seed0": 0.5}}))
    assert main(["eval", "r", "--metrics", "ACC_TEST"]) == 0  # names are read in any case
    merged = json.loads(kept.read_text())["metrics"]
    assert merged["acc_valid_30labels_seed0"] == 0.5  # an accuracy not measured again stays (it was dropped)
    assert merged["acc_test_30labels_seed0"] == report["metrics"]["acc_test_30labels_seed0"]
    capsys.readouterr()
    for argv, said in ((["--metrics", ","], "--metrics names no metric"), (["--n", "50"], "draws no samples; drop --n"),
                       (["--seed", "3"], "drop --seed"), (["--inception-weights", "w.pth"], "drop --inception-weights")):
        assert main(["eval", "r", *argv]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and said in err, err
    assert json.loads(next(Path("r/eval").glob("*.json")).read_text())["metrics"] == merged  # untouched
