import math

import torch

from ganforge.objectives import losses


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
