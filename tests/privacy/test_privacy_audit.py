"""The audit on data whose answer is known: an independent real split leaks nothing (ratio ~1,
AUROC ~0.5, ~1% near-copies); copies of training images are flagged."""

import numpy as np
import pytest
import torch

from ganforge.config import NetSpec
from ganforge.data import Dataset, load_dataset
from ganforge.nets import NetContext, build_discriminator
from ganforge.privacy import audit


def _part(d: Dataset, idx) -> Dataset:
    return Dataset("digits", "image", d.x[idx], d.y[idx], 10)


@pytest.fixture(scope="module")
def splits():
    all_ = load_dataset("digits", split="all")
    perm = np.random.default_rng(0).permutation(len(all_))
    return _part(all_, perm[:900]), _part(all_, perm[900:1350]), _part(all_, perm[1350:])


def _untrained_d():
    torch.manual_seed(0)
    return build_discriminator(NetSpec("dcgan", {"base_channels": 8, "norm": "layer"}),
                               NetContext(data_shape=(1, 8, 8), z_dim=8, num_classes=10)).eval()


def test_an_independent_real_split_shows_no_leak(splits):
    train, holdout, independent = splits
    result, _ = audit.audit_arrays(independent.x.numpy(), train, holdout, d=_untrained_d(), output_range=(-1, 1),
                                   n_members=400, seed=0)
    px = result["dcr"]["pixels"]
    assert 0.85 < px["ratio"] < 1.15, px
    assert px["exact_copies"] == 0 and px["near_copy_rate"] < 0.04
    for attack, r in result["membership"].items():
        assert abs(r["auroc"] - 0.5) < 0.08, (attack, r)
        assert r["ci_low"] < 0.5 < r["ci_high"] or abs(r["auroc"] - 0.5) < 0.05, (attack, r)
    assert result["flags"] == []


def test_copies_of_training_images_are_flagged(splits):
    train, holdout, independent = splits
    synthetic = independent.x.numpy().copy()
    synthetic[:60] = train.x.numpy()[:60]  # 60 exact copies among 447 samples
    result, report = audit.audit_arrays(synthetic, train, holdout, n_members=400, seed=0)
    px = result["dcr"]["pixels"]
    assert px["exact_copies"] == 60 and px["near_copies"] >= 60
    assert any("60 synthetic samples are exact copies" in f for f in result["flags"])
    s, nb, d = audit.closest_pairs(synthetic, train, report, count=10)
    assert np.array_equal(s, nb) and (d == 0).all()  # the figure shows the copies first

def test_near_copies_of_training_images_raise_the_near_copy_and_ratio_flags(splits):
    """Training images with a little noise (no exact copies) sit far nearer the training set than new real
    data: both the near-copy flag and the ratio flag fire."""
    train, holdout, _ = splits
    x = train.x.numpy()[:400].astype(np.int16)
    noise = np.random.default_rng(1).integers(-2, 3, size=x.shape)
    noise.reshape(len(x), -1)[:, 0] = np.where(x.reshape(len(x), -1)[:, 0] < 128, 1, -1)  # every image differs
    synthetic = np.clip(x + noise, 0, 255).astype(np.uint8)
    result, _ = audit.audit_arrays(synthetic, train, holdout, n_members=400, seed=0)
    px = result["dcr"]["pixels"]
    assert px["exact_copies"] == 0 and px["near_copy_rate"] > 0.5 and px["ratio"] < 0.5, px
    assert any("near-copies in pixels" in f for f in result["flags"]), result["flags"]
    assert any("closer to the training set than new real data (pixels ratio" in f for f in result["flags"]), \
        result["flags"]
