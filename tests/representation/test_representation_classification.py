"""evaluate_classifier on a split the run's dataset does not have: one line naming the dataset and its
splits, never the registry's hint at 'all' (the training images)."""

import numpy as np
import pytest
from PIL import Image

import ganforge
from ganforge.errors import GanforgeError
from ganforge.representation import evaluate_classifier


def _cfg(name, per_class, batch_size):
    return {"recipe": "semi-supervised", "seed": 0, "data": {"name": name, "labels_per_class": per_class},
            "model": {"z_dim": 8, "g": {"arch": "ssgan-mlp", "hidden": [16]}, "d": {"arch": "ssgan-mlp", "hidden": [16, 8]}},
            "train": {"batch_size": batch_size, "steps": 1},
            "log": {"tensorboard": False, "progress": False, "checkpoint_every": 100000, "sample_every": 100000}}


def test_a_valid_accuracy_needs_a_valid_split(tmp_path, one_line):
    run = ganforge.train(_cfg("digits", 2, 20), out=tmp_path / "r")
    with pytest.raises(GanforgeError) as excinfo:
        evaluate_classifier(run, "valid")
    msg = one_line(excinfo)
    assert msg.startswith("dataset 'digits' has no valid split (its splits: train, test, all), and checkpoint "
                          "selection needs a held-out labelled split") and "did you mean" not in msg, msg
    assert set(evaluate_classifier(run, "test")) == {"acc_test_20labels_seed0", "acc_test_20labels_seed0.error"}


def test_a_folder_run_has_no_test_split_to_measure(tmp_path, one_line):
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / "fold" / c).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(tmp_path / "fold" / c / f"{i}.png")
    run = ganforge.train(_cfg(f"folder:{tmp_path / 'fold'}", 2, 2), out=tmp_path / "r")
    with pytest.raises(GanforgeError) as excinfo:
        evaluate_classifier(run, "test")
    assert "has no test split (its splits: train, all), and accuracy needs held-out labelled images" in one_line(excinfo)
