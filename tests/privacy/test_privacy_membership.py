"""Membership inference: AUROC and its interval on known answers, and a black-box attacker who
was handed every member's copy, and the white-box (LOGAN) attack on an overfit D the right way round."""

from functools import partial

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.data import Dataset, load_dataset
from ganforge.nets.layers import MinibatchStd, std_group
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


class StdD(nn.Module):
    """A D whose logit is its image's mean plus the minibatch std of its group of 4 (as StyleGAN2's D reads it)."""

    def __init__(self):
        super().__init__()
        self.std = MinibatchStd(4)
        self.w = nn.Parameter(torch.ones(()))

    def features(self, x):
        return self.std(x).flatten(1).mean(1, keepdim=True) * self.w

    def head(self, f, y=None):
        return f[:, 0]


def test_a_minibatch_std_d_scores_any_count_of_images_in_whole_groups():
    """297 members stopped the audit of a StyleGAN2 run ('does not split into groups of 4'): images are scored
    in whole groups in their order, the last completed with the set's first images, whose extra scores are
    dropped (batches of 50 become 48, whole groups)."""
    x = np.random.default_rng(0).integers(0, 256, (297, 1, 4, 4), dtype=np.uint8)
    D = StdD()
    assert std_group(D) == 4 and std_group(nn.Linear(2, 2)) == 1
    assert membership.d_scores(D, x, None, (-1.0, 1.0), False, batch_size=50).shape == (297,)
    scores = membership.d_scores(D, x, None, (-1.0, 1.0), False, batch_size=300)
    padded = np.r_[np.arange(297), np.arange(3)]
    assert np.array_equal(scores, membership.d_scores(D, x[padded], None, (-1.0, 1.0), False, batch_size=300)[:297])
