"""Membership inference: AUROC and its interval on known answers, and a black-box attacker who
was handed every member's copy, and the white-box (LOGAN) attack on an overfit D the right way round."""

from functools import partial

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.data import Dataset, load_dataset
from ganforge.privacy import audit, membership
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


class Memorising(nn.Module):
    """An overfit D in the extreme: its realness is minus the distance to the nearest training image."""

    def __init__(self, members: np.ndarray):
        super().__init__()
        self.register_buffer("members", torch.as_tensor(members).float().flatten(1) / 255 * 2 - 1)
        self.unused = nn.Parameter(torch.zeros(()))  # d_scores reads the device from a parameter

    def features(self, x):
        return -torch.cdist(x.flatten(1), self.members).min(1).values.unsqueeze(1)

    def head(self, f, y=None):
        return f.squeeze(1)


def test_logan_calls_the_training_images_members_for_an_overfit_d(digits, monkeypatch):
    """Members score higher than held-out images under an overfit D, so the AUROC is well above 0.5 (below
    it if members and non-members were swapped anywhere between the audit and the score)."""
    monkeypatch.setattr(membership, "auroc_ci", partial(membership.auroc_ci, boot=50))  # the interval is not tested
    train, holdout = digits
    members, nonmembers = train.x[:150].numpy(), holdout.x[:150].numpy()
    D = Memorising(members)
    direct = membership.white_box(D, (members, None), (nonmembers, None), (-1.0, 1.0), False)
    assert direct["auroc"] > 0.95 and direct["members"] == 150
    member_set = Dataset("digits", "image", train.x[:150], train.y[:150], 10)
    held_out = Dataset("digits", "image", holdout.x[:150], holdout.y[:150], 10)
    result, _ = audit.audit_arrays(holdout.x[150:250].numpy(), member_set, held_out, d=D, output_range=(-1.0, 1.0),
                                   n_members=150)
    assert result["membership"]["white_box_d"]["auroc"] > 0.95
