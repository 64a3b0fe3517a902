"""Train-on-synthetic scores on scikit-learn digits: real data in place of samples must score like
the real baseline, shuffled labels like chance, and added real data must help a small training set."""

import numpy as np
import pytest

from ganforge.data import load_dataset
from ganforge.synthetic import classifier, scores


@pytest.fixture(scope="module")
def digits():
    train, test = load_dataset("digits", split="train"), load_dataset("digits", split="test")
    return train.x.numpy(), train.y.numpy(), test.x.numpy(), test.y.numpy()


RECIPE = classifier.RECIPES["cnn-digits"]


def test_cas_on_real_data_equals_the_real_baseline_within_the_seeds_spread(digits):
    rx, ry, tx, ty = digits
    order = np.random.default_rng(5).permutation(len(rx))  # the same images, as a sampler would hand them over
    r = scores.cas(rx[order], ry[order], rx, ry, tx, ty, RECIPE)
    assert r["name"] == "cas1500_test"
    assert r["real"]["top1_mean"] > 0.9  # the recipe works at all
    spread = max(r["real"]["top1_std"], r["synthetic"]["top1_std"])
    assert abs(r["gap"]) <= 3 * spread + 1.5 / len(tx), r  # within the seeds' spread (plus one test image)
    assert len(r["synthetic"]["per_class_mean"]) == 10 and r["synthetic"]["seeds"] == [0, 1, 2]


def test_cas_on_label_shuffled_real_data_is_near_chance(digits):
    rx, ry, tx, ty = digits
    shuffled = np.random.default_rng(0).permutation(ry)
    r = scores.cas(rx, shuffled, rx, ry, tx, ty, RECIPE)
    assert r["synthetic"]["top1_mean"] < 0.25  # chance is 0.10 for 10 classes
    assert r["gap"] > 0.6


def test_augmentation_with_useful_data_helps_a_small_training_set(digits):
    rx, ry, tx, ty = digits
    extra_x, extra_y = rx[::2], ry[::2]  # real images standing in for perfect synthetic ones
    r = scores.augmentation(extra_x, extra_y, rx, ry, tx, ty, RECIPE, fractions=(0.02,))
    row = r["rows"][0]
    assert row["real_only"]["real_size"] == sum(max(1, round((ry == c).sum() * 0.02)) for c in range(10))
    assert row["with_synthetic"]["synthetic_size"] == len(extra_x)
    assert row["change"] > 0.1, row  # 30 images -> 780: a large gain


def test_gan_test_scores_samples_against_their_requested_class(digits):
    rx, ry, tx, ty = digits
    good = scores.gan_test(tx, ty, rx, ry, RECIPE, seeds=(0, 1, 2))
    wrong = scores.gan_test(tx, (ty + 1) % 10, rx, ry, RECIPE, seeds=(0, 1, 2))
    assert good["top1_mean"] > 0.9 and wrong["top1_mean"] < 0.1