"""Membership inference: AUROC and its interval on known answers, and a black-box attacker who
was handed every member's copy."""

import numpy as np
import pytest

from ganforge.data import load_dataset
from ganforge.privacy import membership
from ganforge.privacy.distances import pixels


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", split="train"), load_dataset("digits", split="test")


def test_members_copied_into_the_samples_are_found_by_the_black_box_attack(digits):
    train, holdout = digits
    members, nonmembers = pixels(train.x[:200]), pixels(holdout.x[:200])
    leaky = membership.black_box(members, nonmembers, pixels(train.x[:300]))  # every member was published
    assert leaky["auroc"] > 0.95 and leaky["ci_low"] > 0.9


def test_auroc_interval_covers_its_estimate_and_separation_gives_one():
    r = membership.auroc_ci(np.arange(50) + 100.0, np.arange(50), boot=200)
    assert r["auroc"] == 1.0 and r["ci_low"] == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    r = membership.auroc_ci(rng.normal(size=300), rng.normal(size=300), boot=200)
    assert r["ci_low"] <= r["auroc"] <= r["ci_high"] and r["ci_high"] - r["ci_low"] < 0.2
