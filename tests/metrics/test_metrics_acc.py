"""The class-conditional accuracy metric: the judge reads the class each sample was asked to be."""

import numpy as np

from ganforge.cli import main
from ganforge.data import load_dataset


def test_acc_of_real_images_with_true_and_wrong_labels(tmp_path, fast_judges, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    test = load_dataset("digits", split="test")
    np.save("x.npy", test.x.numpy())
    np.save("y.npy", test.y.numpy())
    np.save("wrong.npy", (test.y.numpy() + 1) % 10)
    assert main(["eval", "--samples", "x.npy", "--dataset", "digits", "--metrics", "acc", "--labels", "y.npy",
                 "--json", "right.json"]) == 0
    assert main(["eval", "--samples", "x.npy", "--dataset", "digits", "--metrics", "acc", "--labels", "wrong.npy",
                 "--json", "wrong.json"]) == 0
    import json

    right = json.loads((tmp_path / "right.json").read_text())["values"]
    wrong = json.loads((tmp_path / "wrong.json").read_text())["values"]
    key = next(k for k in right if k.startswith("acc") and "." not in k)
    assert right[key] > 0.8 and right[f"{key}.worst_class"] > 0.5  # the judge's own accuracy, roughly
    assert wrong[key] < 0.1


def test_acc_without_labels_is_a_clear_error(tmp_path, fast_judges, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("x.npy", load_dataset("digits", split="test").x.numpy())
    assert main(["eval", "--samples", "x.npy", "--dataset", "digits", "--metrics", "acc"]) == 2
    err = capsys.readouterr().err
    assert "acc needs the class each sample was generated for" in err and len(err.strip().splitlines()) == 1
