"""The translation objectives: the conditional D's input, patch losses averaged over scales, L1 in G's range."""

import pytest
import torch

from ganforge.objectives import D_LOSSES, G_LOSSES
from ganforge.objectives import translation as tr


def test_a_conditional_d_sees_input_and_image_together():
    a, b = torch.zeros(2, 1, 4, 4), torch.ones(2, 3, 4, 4)
    assert tr.conditioned(a, b, True).shape == (2, 4, 4, 4) and tr.conditioned(a, b, False) is b


def test_patch_losses_weigh_each_scale_the_same_and_d_is_halved():
    fine_real, coarse_real = torch.full((2, 1, 8, 8), 2.0), torch.full((2, 1, 2, 2), 2.0)
    fine_fake, coarse_fake = torch.full((2, 1, 8, 8), -2.0), torch.zeros(2, 1, 2, 2)
    d = D_LOSSES["least-squares"]
    got = tr.d_patch_loss(d, [fine_real, coarse_real], [fine_fake, coarse_fake])
    want = 0.5 * (d(fine_real, fine_fake) + d(coarse_real, coarse_fake)) / 2
    assert got.item() == pytest.approx(want.item())
    assert tr.g_patch_loss(G_LOSSES["least-squares"], [fine_fake, coarse_fake]).item() == pytest.approx((4.5 + 0.5) / 2)


def test_l1_is_the_mean_absolute_difference():
    assert tr.l1(torch.full((2, 1, 3, 3), 0.5), torch.full((2, 1, 3, 3), -0.5)).item() == pytest.approx(1.0)


def test_a_d_without_patches_gives_one_logit_per_image():
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1), torch.nn.Flatten(0))
    (logits,) = tr.patch_logits(D, torch.zeros(3, 1, 2, 2))
    assert logits.shape == (3,)
