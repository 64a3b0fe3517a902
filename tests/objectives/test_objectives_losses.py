"""The one adversarial-loss registry: each loss's formula, and SRGAN's losses as entries of it."""

import math

import pytest
import torch

from ganforge.errors import ConfigError
from ganforge.objectives import losses
from ganforge.objectives.losses import D_LOSSES, G_LOSSES
from ganforge.recipes.superres import ADVERSARIAL


def test_minimax_d_loss_is_the_negated_value_function():
    real, fake = torch.tensor([0.3, -1.2]), torch.tensor([2.0, -0.5])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    value = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()
    assert torch.allclose(losses.d_minimax(real, fake), -value)


def test_generator_losses_match_their_formulas():
    fake = torch.tensor([0.7, -3.0, 1.5])
    d = torch.sigmoid(fake)
    assert torch.allclose(losses.g_minimax(fake), torch.log(1 - d).mean())
    assert torch.allclose(losses.g_non_saturating(fake), -torch.log(d).mean())


def test_minimax_saturates_where_non_saturating_does_not():
    # D confidently rejects the fakes (D(G(z)) ~ 1e-4): the paper's reason for -log D(G(z)).
    fake = torch.full((4,), -9.0, requires_grad=True)
    (g1,) = torch.autograd.grad(losses.g_minimax(fake), fake)
    (g2,) = torch.autograd.grad(losses.g_non_saturating(fake), fake)
    assert g1.abs().max() < 1e-3 < g2.abs().min()


def test_optimum_of_d_loss_is_log4_at_equilibrium():
    # D = 1/2 everywhere (logit 0): the value function is -log 4, the paper's global optimum.
    zero = torch.zeros(3)
    assert math.isclose(losses.d_minimax(zero, zero).item(), math.log(4), rel_tol=1e-6)


def test_wasserstein_losses_match_their_formulas():
    # Critic: E[D(G(z))] - E[D(x)], an estimate of -W; G: -E[D(G(z))]. By hand: (-0.75) - 2 and 0.75.
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.5])
    assert losses.d_wasserstein(real, fake).item() == -2.75
    assert losses.D_LOSSES["wasserstein"](real, fake).item() == -2.75
    assert losses.G_LOSSES["wasserstein"](fake).item() == 0.75


def test_hinge_losses_match_their_formulas():
    # D: mean(max(0, 1 - real)) + mean(max(0, 1 + fake)) = (0 + 0.5 + 2)/3 + (0 + 0.5 + 2)/3; G: -mean(fake).
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, -0.5, 1.0])
    assert math.isclose(losses.D_LOSSES["hinge"](real, fake).item(), 5 / 3, rel_tol=1e-6)
    assert math.isclose(losses.G_LOSSES["hinge"](fake).item(), 2.5 / 3, rel_tol=1e-6)
    # Past the margin nothing changes: D is not pushed further.
    assert math.isclose(losses.d_hinge(real + torch.tensor([5.0, 0, 0]), fake - torch.tensor([5.0, 0, 0])).item(),
                        5 / 3, rel_tol=1e-6)


def test_least_squares_losses_match_their_formulas():
    # D: 1/2 mean((real - b)^2) + 1/2 mean(fake^2), b the real target; G: 1/2 mean((fake - 1)^2).
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    assert losses.D_LOSSES["least-squares"](real, fake).item() == 0.5 * (0 + 4) / 2 + 0.5 * (0 + 4) / 2  # 2.0
    assert losses.d_least_squares(real, fake, real_label=0.5).item() == 0.5 * (0.25 + 6.25) / 2 + 1.0  # 2.625
    assert losses.G_LOSSES["least-squares"](fake).item() == 0.5 * (1 + 9) / 2  # 2.5


def test_label_smoothing_reaches_the_losses_with_targets():
    real, fake = torch.tensor([0.4, -0.3]), torch.tensor([0.2, 1.0])
    smoothed = losses.DLoss(losses.d_minimax, real_label=0.9)
    sp = torch.nn.functional.softplus
    assert torch.allclose(smoothed(real, fake), (0.9 * sp(-real) + 0.1 * sp(real)).mean() + sp(fake).mean())
    assert torch.allclose(smoothed(real, fake, real_label=1.0), losses.d_minimax(real, fake))


def test_only_the_minimax_logit_is_shown_as_a_probability():
    logits = torch.tensor([-3.0, 0.0, 2.5])
    assert {"minimax", "wasserstein", "hinge", "least-squares"} <= set(losses.D_LOSSES)
    for name, loss in losses.D_LOSSES.items():
        expected = torch.sigmoid(logits) if name == "minimax" else logits
        assert torch.equal(loss.shown(logits), expected), name


# SRGAN's adversarial losses as objectives/superres.py computed them before they became entries of the one
# registry (issue 30 item 2): the "before" of the before/after check below.
def _sr_d_before(kind, real, fake):
    if kind == "relativistic":
        real, fake = real - fake.mean(), fake - real.mean()
    return torch.nn.functional.softplus(-real).mean() + torch.nn.functional.softplus(fake).mean()


def _sr_g_before(kind, real, fake):
    if kind == "relativistic":
        real, fake = real - fake.mean(), fake - real.mean()
        return torch.nn.functional.softplus(real).mean() + torch.nn.functional.softplus(-fake).mean()
    return torch.nn.functional.softplus(-fake).mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_srgan_losses_are_registry_entries_with_the_same_numbers_bit_for_bit(seed):
    g = torch.Generator().manual_seed(seed)
    real, fake = torch.randn(16, generator=g) * 3, torch.randn(16, generator=g) * 3
    for kind, (d_name, g_name) in ADVERSARIAL.items():
        assert torch.equal(D_LOSSES[d_name](real, fake), _sr_d_before(kind, real, fake)), kind
        assert torch.equal(G_LOSSES[g_name](fake, real), _sr_g_before(kind, real, fake)), kind
    assert set(ADVERSARIAL) == {"plain", "relativistic"}


def test_relativistic_losses_see_only_differences_between_real_and_fake_logits():
    real, fake = torch.randn(8), torch.randn(8)
    d, g = D_LOSSES["relativistic"], G_LOSSES["relativistic"]
    assert torch.allclose(d(real, fake), d(real + 3.0, fake + 3.0))
    assert torch.allclose(g(fake, real), g(fake + 3.0, real + 3.0))
    assert not torch.allclose(D_LOSSES["minimax"](real, fake), D_LOSSES["minimax"](real + 3.0, fake + 3.0))
    # G's loss falls as its samples' logits rise above the real ones'
    assert g(fake + 1.0, real) < g(fake, real) and g.needs_real and not G_LOSSES["non-saturating"].needs_real


def test_a_g_loss_that_needs_real_logits_refuses_to_run_without_them():
    with pytest.raises(ConfigError, match="compares G's samples with real data"):
        G_LOSSES["relativistic"](torch.randn(4))


def test_mse_is_the_reference_gan_loss_lsgan_without_the_papers_halves():
    """mse is pix2pix/CycleGAN's GANLoss('lsgan'), nn.MSELoss against targets real_label and 0 (and 1 for G),
    per-element means; least-squares keeps the LSGAN paper's 1/2 factors: the two differ by exactly 2."""
    g = torch.Generator().manual_seed(3)
    real, fake = torch.randn(4, 1, 5, 5, generator=g) * 2, torch.randn(4, 1, 5, 5, generator=g) * 2
    mse = torch.nn.functional.mse_loss
    for label in (1.0, 0.9):
        want = mse(real, torch.full_like(real, label)) + mse(fake, torch.zeros_like(fake))
        assert torch.allclose(losses.d_loss_for("mse", label)(real, fake), want, rtol=1e-6, atol=0)
        assert torch.allclose(D_LOSSES["mse"](real, fake, real_label=label),
                              2 * D_LOSSES["least-squares"](real, fake, real_label=label), rtol=1e-6, atol=0)
    assert torch.allclose(G_LOSSES["mse"](fake), mse(fake, torch.ones_like(fake)), rtol=1e-6, atol=0)
    assert torch.allclose(G_LOSSES["mse"](fake), 2 * G_LOSSES["least-squares"](fake), rtol=1e-6, atol=0)


@pytest.mark.parametrize("name, has_targets, per_sample", [
    ("minimax", True, True), ("least-squares", True, True), ("mse", True, True),
    ("wasserstein", False, True), ("hinge", False, True), ("relativistic", False, False)])
def test_each_d_loss_declares_its_targets_and_whether_it_is_a_per_sample_sum(name, has_targets, per_sample):
    """The facts config checks and DP ask of a loss (loss.real_label moves a target; DP-SGD clips per sample),
    declared where the loss is, and true of its maths: a target moves the loss, a per-sample loss's gradient
    for one sample does not depend on the others'."""
    loss = D_LOSSES[name]
    assert (loss.has_targets, loss.per_sample) == (has_targets, per_sample)
    real, fake = torch.tensor([0.4, -0.3, 1.1]), torch.tensor([0.2, 1.0, -0.7])
    assert (not torch.equal(loss(real, fake, real_label=0.8), loss(real, fake, real_label=1.0))) == has_targets

    def sample_0_gradient(real, fake):
        real, fake = real.clone().requires_grad_(), fake.clone().requires_grad_()
        return torch.stack([g[0] for g in torch.autograd.grad(loss(real, fake), [real, fake])])

    other = torch.tensor([0.0, 0.0, 2.0])  # sample 2 changes, real and fake
    unmoved = torch.allclose(sample_0_gradient(real, fake), sample_0_gradient(real + other, fake - other))
    assert unmoved == per_sample


def test_unknown_facts_default_to_the_safe_answer_and_shows_probability_is_the_sigmoid():
    """A loss nobody declared facts for is refused label smoothing and DP rather than let through."""
    plain = losses.DLoss(losses.d_hinge)
    assert not plain.has_targets and not plain.per_sample and not plain.shows_probability
    assert [n for n, entry in D_LOSSES.items() if entry.shows_probability] == ["minimax"]
    assert losses.d_losses_where(lambda entry: entry.has_targets) == ["minimax", "least-squares", "mse"]
    assert "relativistic" not in losses.d_losses_where(lambda entry: entry.per_sample)
