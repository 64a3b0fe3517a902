"""The translation objectives: the conditional D's input, patch losses averaged over scales, L1 in G's range."""

from dataclasses import replace

import pytest
import torch

from ganforge.errors import ConfigError
from ganforge.objectives import D_LOSSES, G_LOSSES
from ganforge.objectives import translation as tr


def test_a_conditional_d_sees_input_and_image_together():
    a, b = torch.zeros(2, 1, 4, 4), torch.ones(2, 3, 4, 4)
    assert tr.conditioned(a, b, True).shape == (2, 4, 4, 4) and tr.conditioned(a, b, False) is b


def test_patch_losses_weigh_each_scale_the_same_and_mse_is_the_reference_criterion():
    """CycleGAN's LSGAN is the reference code's GANLoss with nn.MSELoss (Zhu et al. sec. 4: G minimises
    E[(D(G(x)) - 1)^2], no 1/2), against which cycle 10 and identity 5 are set; D's loss is
    0.5 * (MSE(D(real), 1) + MSE(D(fake), 0)). That is the registry's mse; least-squares keeps the LSGAN
    paper's 1/2 factors in every recipe (a 1/2 on G would double the cycle and identity weights relative to it)."""
    fine_real, coarse_real = torch.full((2, 1, 8, 8), 2.0), torch.full((2, 1, 2, 2), 2.0)
    fine_fake, coarse_fake = torch.full((2, 1, 8, 8), -2.0), torch.zeros(2, 1, 2, 2)
    d = tr.translation_d_loss("mse", 1.0)
    got = tr.d_patch_loss(d, [fine_real, coarse_real], [fine_fake, coarse_fake])
    # per scale: 0.5 * (MSE(2, 1) + MSE(fake, 0)) = 0.5 * (1 + 4) fine, 0.5 * (1 + 0) coarse; scales averaged
    assert got.item() == pytest.approx((0.5 * (1 + 4) + 0.5 * (1 + 0)) / 2)
    mse = torch.nn.functional.mse_loss
    assert got.item() == pytest.approx(sum(0.5 * (mse(r, torch.ones_like(r)) + mse(f, torch.zeros_like(f))).item()
                                           for r, f in [(fine_real, fine_fake), (coarse_real, coarse_fake)]) / 2)
    # G: MSE(D(G), 1) per scale = (-2 - 1)^2 = 9 fine, (0 - 1)^2 = 1 coarse; averaged over scales
    g = tr.translation_g_loss("mse", "cycle-translation")
    assert tr.g_patch_loss(g, [fine_fake, coarse_fake]).item() == pytest.approx((9 + 1) / 2)
    # least-squares is the LSGAN paper's, with its 1/2 factors, in a translation recipe too
    ls_d = tr.translation_d_loss("least-squares", 1.0)
    ls_g = tr.translation_g_loss("least-squares", "cycle-translation")
    assert tr.d_patch_loss(ls_d, [fine_real], [fine_fake]).item() == pytest.approx(0.5 * (0.5 * 1 + 0.5 * 4))
    assert tr.g_patch_loss(ls_g, [fine_fake]).item() == pytest.approx(0.5 * 9)
    assert G_LOSSES["least-squares"](fine_fake).item() == pytest.approx(4.5)


def test_translation_recipes_read_the_one_registry_and_keep_no_table_of_their_own():
    """One name, one loss: every loss.d / loss.g a translation recipe can name is the registry's entry (the
    real target aside), so no name means one thing here and another in the noise-to-image recipes."""
    assert not [name for name in vars(tr) if name.startswith("TRANSLATION_")]
    for name, entry in D_LOSSES.items():
        assert tr.translation_d_loss(name, 0.9) == replace(entry, real_label=0.9), name
    for name, entry in G_LOSSES.items():
        if not entry.needs_real:
            assert tr.translation_g_loss(name, "paired-translation") is entry, name
    with pytest.raises(ConfigError, match="loss.g=relativistic compares G's samples"):
        tr.translation_g_loss("relativistic", "cycle-translation")


def test_pix2pix_bce_criteria_are_the_engines_and_already_the_references():
    """pix2pix's vanilla GAN: the reference's 0.5 * (BCE(D(real), 1) + BCE(D(fake), 0)) for D and BCE(D(G), 1)
    for G are the engine's minimax / non-saturating losses halved / as they are: the same objects, so the
    pix2pix numbers stay bit-identical."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    real, fake = torch.randn(2, 1, 6, 6, generator=torch.Generator().manual_seed(0)), torch.randn(2, 1, 6, 6)
    for name in ("minimax", "wasserstein", "hinge"):
        assert tr.translation_d_loss(name, 1.0) == D_LOSSES[name]
    for name in ("minimax", "non-saturating", "wasserstein", "hinge"):
        assert tr.translation_g_loss(name, "paired-translation") is G_LOSSES[name]
    d = tr.d_patch_loss(tr.translation_d_loss("minimax", 1.0), [real], [fake])
    want = 0.5 * (bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake)))
    assert d.item() == pytest.approx(want.item(), rel=1e-6)
    g = tr.g_patch_loss(tr.translation_g_loss("non-saturating", "paired-translation"), [fake])
    assert g.item() == pytest.approx(bce(fake, torch.ones_like(fake)).item(), rel=1e-6)
    assert tr.translation_d_loss("minimax", 0.9).real_label == 0.9  # label smoothing reaches the criterion


def test_l1_is_the_mean_absolute_difference():
    assert tr.l1(torch.full((2, 1, 3, 3), 0.5), torch.full((2, 1, 3, 3), -0.5)).item() == pytest.approx(1.0)


def test_a_d_without_patches_gives_one_logit_per_image():
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1), torch.nn.Flatten(0))
    (logits,) = tr.patch_logits(D, torch.zeros(3, 1, 2, 2))
    assert logits.shape == (3,)
