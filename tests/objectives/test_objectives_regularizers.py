import math

import pytest
import torch
from torch import nn

from ganforge.objectives import losses
from ganforge.objectives.feature_matching import feature_matching
from ganforge.objectives.gradient_penalty import gradient_penalty
from ganforge.objectives.historical import HistoricalAverage
from ganforge.objectives.orthogonal import orthogonal_penalty
from ganforge.objectives.r1 import r1_penalty


class Linear(nn.Module):
    """A critic D(x) = w . x, whose input gradient is w everywhere."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x, y=None):
        return x.flatten(1) @ self.w


def test_gradient_penalty_is_zero_for_unit_gradient_norm_and_grows_otherwise():
    real, fake = torch.randn(16, 1, 2, 2), torch.randn(16, 1, 2, 2)
    w = torch.randn(4)
    unit = Linear(w / w.norm())
    assert gradient_penalty(unit, real, fake).abs() < 1e-10
    double = Linear(2 * w / w.norm())
    assert math.isclose(gradient_penalty(double, real, fake).item(), 1.0, rel_tol=1e-5)


def test_gradient_penalty_reaches_the_critic_parameters():
    D = Linear(torch.randn(4))
    gp = gradient_penalty(D, torch.randn(8, 4), torch.randn(8, 4))
    gp.backward()
    assert D.w.grad is not None and D.w.grad.abs().sum() > 0


def test_r1_is_the_squared_gradient_norm_on_real_data():
    w = torch.tensor([3.0, 4.0])
    assert math.isclose(r1_penalty(Linear(w), torch.randn(5, 2)).item(), 25.0, rel_tol=1e-6)


def test_orthogonal_penalty_is_zero_for_orthogonal_rows_only():
    lin = nn.Linear(4, 3, bias=False)
    q, _ = torch.linalg.qr(torch.randn(4, 3))
    with torch.no_grad():
        lin.weight.copy_(q.t() * torch.tensor([[1.0], [2.0], [3.0]]))  # orthogonal rows, any norms
    assert orthogonal_penalty(lin) < 1e-10
    with torch.no_grad():
        lin.weight[1] = lin.weight[0]
    assert orthogonal_penalty(lin) > 0.1


def test_orthogonal_penalty_reads_the_parameter_under_spectral_norm():
    """Under spectral norm ``weight`` is W / sigma: the penalty is on W, as the paper's and BigGAN-PyTorch's."""
    torch.manual_seed(0)
    lin = nn.Linear(16, 8)
    plain = orthogonal_penalty(lin).item()
    nn.utils.parametrizations.spectral_norm(lin)
    u = lin.parametrizations.weight[0]._u.clone()
    assert math.isclose(orthogonal_penalty(lin).item(), plain, rel_tol=1e-6)
    assert torch.equal(u, lin.parametrizations.weight[0]._u)  # no extra power iteration


def test_feature_matching_is_zero_at_equal_means():
    f = torch.randn(32, 6)
    assert feature_matching(f, f[torch.randperm(32)]) < 1e-10
    assert math.isclose(feature_matching(f, f + 1).item(), 6.0, rel_tol=1e-5)


def test_historical_average_is_the_mean_of_past_parameters():
    net = nn.Linear(2, 1)
    avg = HistoricalAverage(net)
    values = [torch.full_like(net.weight, v) for v in (1.0, 2.0, 6.0)]
    for v in values:
        with torch.no_grad():
            net.weight.copy_(v)
        avg.update()
    assert torch.allclose(avg.means[0], torch.full_like(net.weight, 3.0))
    with torch.no_grad():
        net.weight.fill_(3.0)
    assert avg.penalty() < 1e-10


def test_one_sided_label_smoothing_changes_only_the_real_target():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(10, generator=g, dtype=torch.float64), torch.randn(10, generator=g, dtype=torch.float64)
    other_fake = torch.randn(10, generator=g, dtype=torch.float64) * 3
    gap = losses.d_minimax(real, fake, real_label=0.9) - losses.d_minimax(real, fake)
    gap_other = losses.d_minimax(real, other_fake, real_label=0.9) - losses.d_minimax(real, other_fake)
    assert torch.allclose(gap, gap_other)  # the fake term is untouched
    # softplus(l) - softplus(-l) = l, so smoothing to 0.9 adds exactly 0.1 * mean(real logits)
    assert torch.allclose(gap, 0.1 * real.mean()) and abs(gap.item()) > 1e-3
    # the smoothed real term is BCE against 0.9: minimised at D(x) = 0.9, not 1
    logit = torch.tensor([math.log(9.0)], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(losses.d_minimax(logit, torch.tensor([-50.0], dtype=torch.float64),
                                                   real_label=0.9), logit)
    assert abs(grad.item()) < 1e-12


@pytest.mark.parametrize("name", ["wasserstein", "hinge", "least-squares"])
def test_successor_losses_match_their_papers(name):
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-1.5, 0.3])
    expected_d = {
        "wasserstein": fake.mean() - real.mean(),
        "hinge": torch.relu(1 - real).mean() + torch.relu(1 + fake).mean(),
        "least-squares": 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean(),
    }[name]
    expected_g = {"wasserstein": -fake.mean(), "hinge": -fake.mean(),
                  "least-squares": 0.5 * ((fake - 1) ** 2).mean()}[name]
    assert torch.allclose(losses.D_LOSSES[name](real, fake), expected_d)
    assert torch.allclose(losses.G_LOSSES[name](fake), expected_g)
