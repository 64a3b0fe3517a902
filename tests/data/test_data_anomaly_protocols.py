"""The anomaly protocols: splits match their definitions, never overlap, and keep the test split out
of training and selection (on a small fake MNIST, so no download is needed)."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import Dataset, anomaly_protocols, load_dataset
from ganforge.data.anomaly_protocols import is_anomaly, split_indices
from ganforge.errors import DataError

PER_DIGIT_TRAIN, PER_DIGIT_TEST = 60, 10


def _labels():
    train = np.repeat(np.arange(10), PER_DIGIT_TRAIN)
    test = np.repeat(np.arange(10), PER_DIGIT_TEST)
    return np.concatenate([train, test]), np.arange(len(train) + len(test)) >= len(train)


@pytest.mark.parametrize("digit", [0, 7])
def test_one_normal_trains_on_the_digit_and_tests_on_the_official_test_set(digit):
    labels, official_test = _labels()
    s = split_indices("mnist-one-normal", digit, labels, official_test)
    assert set(labels[s["train"]]) == set(labels[s["valid"]]) == {digit}
    assert len(s["train"]) + len(s["valid"]) == PER_DIGIT_TRAIN and len(s["valid"]) == 6  # 10% held out
    assert not official_test[s["train"]].any() and not official_test[s["valid"]].any()
    assert np.array_equal(s["test"], np.flatnonzero(official_test))  # all 10 digits, 9 of them anomalies
    assert not set(s["train"]) & set(s["valid"])


@pytest.mark.parametrize("digit", [0, 7])
def test_one_anomalous_pools_the_other_nine_80_20_and_puts_every_anomaly_in_test(digit):
    labels, official_test = _labels()
    s = split_indices("mnist-one-anomalous", digit, labels, official_test)
    normal_total = 9 * (PER_DIGIT_TRAIN + PER_DIGIT_TEST)
    assert digit not in set(labels[s["train"]]) | set(labels[s["valid"]])
    test_normal = (labels[s["test"]] != digit).sum()
    assert test_normal == int(np.ceil(0.2 * normal_total))  # the 20% of pooled normals
    assert (labels[s["test"]] == digit).sum() == PER_DIGIT_TRAIN + PER_DIGIT_TEST  # every anomaly, both sources
    assert len(s["train"]) + len(s["valid"]) + test_normal == normal_total
    parts = [set(s[k]) for k in ("train", "valid", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set().union(*parts) == set(range(len(labels)))


def test_the_splits_do_not_depend_on_anything_but_the_protocol():
    labels, official_test = _labels()
    a = split_indices("mnist-one-anomalous", 3, labels, official_test)
    b = split_indices("mnist-one-anomalous", 3, labels, official_test)
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture
def fake_mnist(monkeypatch):
    """MNIST stand-in: every image unique (its index written into its pixels), labels in blocks."""
    labels, official_test = _labels()
    n = len(labels)
    x = np.zeros((n, 1, 28, 28), np.uint8)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = np.arange(n) % 256, np.arange(n) // 256
    real = anomaly_protocols.load_dataset

    def fake(name, split="train", **kw):
        if name != "mnist":
            return real(name, split=split, **kw)
        pick = official_test if split == "test" else ~official_test
        return Dataset("mnist", "image", torch.from_numpy(x[pick]), torch.from_numpy(labels[pick]), 10,
                       {"sha256": "fake"})

    monkeypatch.setattr(anomaly_protocols, "load_dataset", fake)


def _ids(ds):
    return set((ds.x[:, 0, 0, 0].long() + 256 * ds.x[:, 0, 0, 1].long()).tolist())


@pytest.mark.parametrize("protocol", ["mnist-one-normal", "mnist-one-anomalous"])
def test_no_test_image_is_seen_in_training_or_selection(fake_mnist, protocol):
    train, valid, test = (load_dataset(protocol, split=s, digit=4) for s in ("train", "valid", "test"))
    assert not _ids(train) & _ids(test) and not _ids(valid) & _ids(test) and not _ids(train) & _ids(valid)
    assert not is_anomaly(train).any() and not is_anomaly(valid).any()  # selection sees normal images only
    anomalous = is_anomaly(test)
    if protocol == "mnist-one-normal":
        assert (test.y[~anomalous] == 4).all() and anomalous.sum() == 90
    else:
        assert (test.y[anomalous] == 4).all() and anomalous.sum() == 70
    assert test.meta["protocol"] == protocol and test.meta["digit"] == 4


def test_a_protocol_without_a_digit_and_a_digit_without_a_protocol_are_one_line(fake_mnist, one_line):
    with pytest.raises(DataError) as e:
        load_dataset("mnist-one-normal")
    assert "set data.digit" in one_line(e)
    with pytest.raises(DataError) as e:
        load_dataset("digits", digit=3)
    assert "remove data.digit" in one_line(e)


def _png(folder, n, value):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("L", (8, 8), color=value + i).save(folder / f"{i}.png")


def test_an_mvtec_style_folder_gives_normal_train_and_valid_and_a_labelled_test(tmp_path, one_line):
    _png(tmp_path / "train", 20, 0)
    _png(tmp_path / "test" / "good", 3, 100)
    _png(tmp_path / "test" / "scratch", 2, 200)
    _png(tmp_path / "test" / "hole", 4, 150)
    name = f"anomaly-folder:{tmp_path}"
    train, valid, test = (load_dataset(name, split=s) for s in ("train", "valid", "test"))
    assert (len(train), len(valid), len(test)) == (18, 2, 9)
    assert not set(train.x[:, 0, 0, 0].tolist()) & set(valid.x[:, 0, 0, 0].tolist())
    assert is_anomaly(test).sum() == 6 and test.meta["class_names"] == ["good", "hole", "scratch"]
    (tmp_path / "test" / "good").rename(tmp_path / "test" / "fine")
    with pytest.raises(DataError) as e:
        load_dataset(name, split="test")
    assert "good/ or normal/" in one_line(e)
