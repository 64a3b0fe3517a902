"""Mode coverage: 2-D mixtures by distance to the centres, Stacked MNIST through a judge."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.data import load_dataset
from ganforge.errors import DataError
from ganforge.metrics import evaluate
from ganforge.metrics.judges import combine_channel_logits
from ganforge.metrics.modes import class_coverage


def test_true_ring_samples_cover_all_modes_with_high_quality():
    values = evaluate(load_dataset("ring8", split="test", size=2500).x.numpy(), "ring8")
    assert values["modes2500_3std"] == 8
    assert values["modes2500_3std.high_quality"] > 0.98  # 1 - exp(-4.5) of 2-D Gaussian mass is within 3 std
    assert values["modes2500_3std.reverse_kl"] < 0.01


def test_a_collapsed_generator_covers_one_mode():
    ds = load_dataset("ring8", split="test", size=10)
    centre = np.asarray(ds.meta["centers"][2], dtype=np.float32)
    collapsed = centre + 0.005 * np.random.default_rng(0).standard_normal((2500, 2)).astype(np.float32)
    values = evaluate(collapsed, "ring8", ["modes"])
    assert values["modes2500_3std"] == 1 and values["modes2500_3std.high_quality"] == 1.0
    assert values["modes2500_3std.reverse_kl"] == pytest.approx(np.log(8))


def test_threshold_is_part_of_the_protocol():
    pts = load_dataset("grid25", split="test", size=1000).x.numpy()
    strict = evaluate(pts, "grid25", ["modes1k_1std"])
    assert strict["modes1k_1std.high_quality"] < 0.5 < evaluate(pts, "grid25", ["modes1k"])["modes1k_3std.high_quality"]


def test_class_coverage():
    out = class_coverage(np.array([0, 1, 2, 2]), 4)
    assert out["modes"] == 3 and out["counts"] == [1, 1, 2, 0]
    assert out["reverse_kl"] == pytest.approx(0.5 * np.log(0.25 * 4) + 0.5 * np.log(0.5 * 4))
    assert class_coverage(np.arange(10), 10)["reverse_kl"] == pytest.approx(0.0)


def test_channel_logits_combine_into_100r_10g_b():
    logits = torch.full((1, 3, 10), -30.0)
    for c, digit in enumerate((4, 0, 7)):
        logits[0, c, digit] = 30.0
    joint = combine_channel_logits(logits)
    assert joint.shape == (1, 1000) and int(joint.argmax()) == 407
    assert torch.logsumexp(joint, 1).item() == pytest.approx(0.0, abs=1e-5)  # a distribution


def test_stacked_mnist_dataset(fake_mnist):
    payload = fake_mnist(n_train=200, n_valid=50, n_test=100)
    ds = load_dataset("stacked-mnist", split="test", size=500, seed=3)
    assert ds.x.shape == (500, 3, 28, 28) and ds.x.dtype == torch.uint8 and ds.num_classes == 1000
    # every channel is one of the pool's digits, and the label spells the three digits
    pool = {img.tobytes(): int(lab) for img, lab in zip(payload["x_test"], payload["y_test"])}
    for img, lab in zip(ds.x[:20].numpy(), ds.y[:20].tolist()):
        digits = [pool[img[c].tobytes()] for c in range(3)]
        assert lab == 100 * digits[0] + 10 * digits[1] + digits[2]
    again = load_dataset("stacked-mnist", split="test", size=500, seed=3)
    assert torch.equal(ds.x, again.x)
    assert not torch.equal(ds.x, load_dataset("stacked-mnist", split="test", size=500, seed=4).x)
    train = load_dataset("stacked-mnist", size=50)  # train draws from all 250 training images
    assert len(train) == 50 and train.meta["source"].startswith("mnist/train60k")
    with pytest.raises(DataError, match="channels"):
        load_dataset("stacked-mnist", channels=1)


def test_stacked_mnist_metric_finds_all_1000_modes_on_real_data(fake_mnist, exact_lenet):
    fake_mnist(n_train=200, n_valid=50, n_test=100)
    ds = load_dataset("stacked-mnist", split="train", size=26_000, seed=1)
    real = ds.x.numpy()
    values = evaluate(real, "stacked-mnist", ["modes"])
    assert values["modes26k_lenet"] >= 995
    truth = class_coverage(ds.y.numpy(), 1000)  # the judge is exact, so the metric sees the true labels
    assert values["modes26k_lenet"] == truth["modes"]
    assert values["modes26k_lenet.reverse_kl"] == pytest.approx(truth["reverse_kl"])
    assert values["modes26k_lenet.reverse_kl"] < 0.1  # the fake pool's digits are only roughly balanced
    one_digit = real.copy()
    one_digit[:, 1:] = real[:1, 1:]  # green and blue collapsed to one digit each
    collapsed = evaluate(one_digit, "stacked-mnist", ["modes26k_lenet"])
    assert collapsed["modes26k_lenet"] == 10
