"""Regularisers: penalties added to a phase's loss, as functions of networks and batches.

Like the losses, none of these steps an optimiser; a phase adds them to its sum.
"""

from __future__ import annotations

import torch
from torch import nn

Tensor = torch.Tensor


def _input_grad(D: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
    x = x.detach().requires_grad_(True)
    out = D(x, y)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1)


def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None = None,
                     generator: torch.Generator | None = None, eps: Tensor | None = None) -> Tensor:
    """WGAN-GP: mean of (||grad_x D(x_hat)|| - 1)^2 at uniform random interpolates x_hat of real and fake.

    Zero exactly when the critic's gradient has norm 1 along those lines, which is what a
    1-Lipschitz optimal critic satisfies (Gulrajani et al. 2017, Prop. 1). ``eps`` (one
    U[0, 1) weight per sample) may be given; otherwise it is drawn from ``generator``.
    """
    if eps is None:
        eps = torch.rand(real.shape[0], device=real.device, generator=generator)
    eps = eps.view(real.shape[0], *([1] * (real.dim() - 1)))
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    return (_input_grad(D, x_hat, y).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(D: nn.Module, real: Tensor, y: Tensor | None = None) -> Tensor:
    """R1: mean of ||grad_x D(x)||^2 on real data (Mescheder et al. 2018); callers scale by gamma/2."""
    return _input_grad(D, real, y).pow(2).sum(1).mean()


def weight_matrices(module: nn.Module) -> list[Tensor]:
    """Weights of the linear and convolutional layers, as (out, in * k * k) matrices."""
    mats = []
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d | nn.ConvTranspose2d):
            w = m.weight
            if isinstance(m, nn.ConvTranspose2d):
                w = w.transpose(0, 1)
            mats.append(w.reshape(w.shape[0], -1))
    return mats


def orthogonal_penalty(module: nn.Module) -> Tensor:
    """BigGAN's orthogonal regulariser: sum over weight matrices of ||W W^T * (1 - I)||_F^2.

    Only the off-diagonal terms count, so filters are pushed apart without fixing their norms.
    """
    total = None
    for w in weight_matrices(module):
        gram = w @ w.t()
        off = gram * (1 - torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype))
        term = off.pow(2).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("orthogonal regularisation needs a network with linear or convolutional layers")
    return total


def feature_matching(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """||mean f(x) - mean f(G(z))||^2 on D's penultimate features (Salimans et al. 2016)."""
    return (real_features.detach().mean(0) - fake_features.mean(0)).pow(2).sum()


class HistoricalAverage:
    """||theta - running mean of past theta||^2 (Salimans et al. 2016), for one network.

    The running mean is state that a resumed run must restore, so it travels in checkpoints.
    """

    def __init__(self, net: nn.Module):
        self.net = net
        self.count = 0
        self.means = [p.detach().clone() for p in net.parameters()]

    def penalty(self) -> Tensor:
        return sum((p - m).pow(2).sum() for p, m in zip(self.net.parameters(), self.means))

    @torch.no_grad()
    def update(self) -> None:
        self.count += 1
        for p, m in zip(self.net.parameters(), self.means):
            m.add_(p.detach() - m, alpha=1.0 / self.count)

    def state_tensors(self) -> dict[str, Tensor]:
        return {f"{i}": m for i, m in enumerate(self.means)} | {"count": torch.tensor(self.count)}

    def load_state_tensors(self, tensors: dict[str, Tensor]) -> None:
        self.count = int(tensors["count"])
        for i, m in enumerate(self.means):
            m.copy_(tensors[f"{i}"])
