"""GANomaly's D loss is the registry's minimax entry, bit for bit the cross-entropy it wrote by hand before (so
its golden samples cannot move), with images as real and reconstructions as fake."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.objectives import D_LOSSES
from ganforge.recipes import ganomaly
from ganforge.training.step_batch import StepBatch


class Reconstructor(nn.Module):
    """An encoder-decoder-encoder of 1x1 convs, (x_hat, z, z_hat) as nets/encoder.py's."""

    def __init__(self):
        super().__init__()
        self.encode, self.decode = nn.Conv2d(1, 2, 1), nn.Conv2d(2, 1, 1)

    def forward(self, x):
        z = self.encode(x)
        x_hat = torch.tanh(self.decode(z))
        return x_hat, z, self.encode(x_hat)


def _ctx(seed):
    torch.manual_seed(seed)
    D = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten(), nn.LazyLinear(1), nn.Flatten(0))
    x = torch.rand(8, 1, 6, 6) * 2 - 1
    D(x)  # materialise the lazy layer
    with torch.no_grad():  # logits far from 0 too, where softplus saturates
        for p in D.parameters():
            p.mul_(4.0)
    nets = {"G": Reconstructor(), "D": D}
    ctx = ganomaly.GanomalyContext(nets=nets, optimizers={}, schedules={}, drawn=StepBatch(lambda: (x, None)))
    return ctx, nets, x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ganomaly_d_loss_is_the_minimax_entry_and_bitwise_the_hand_written_cross_entropy(seed):
    ctx, nets, x = _ctx(seed)
    loss, stats = ganomaly.d_term(ctx)
    (got,) = torch.autograd.grad(loss, [nets["D"][0].weight])
    real, fake = nets["D"](x).float(), nets["D"](nets["G"](x)[0].detach()).float()
    by_hand = F.softplus(-real).mean() + F.softplus(fake).mean()  # the recipe's formula before the registry's
    (want,) = torch.autograd.grad(by_hand, [nets["D"][0].weight], retain_graph=True)
    assert torch.equal(loss, by_hand) and torch.equal(got, want)
    assert torch.equal(loss, D_LOSSES["minimax"](real, fake))
    assert not torch.equal(loss, D_LOSSES["minimax"](fake, real))  # images real, reconstructions fake
    assert torch.equal(stats["D_real"], torch.sigmoid(real).mean()) and stats["D_fake"] < 1
