"""BigGAN's orthogonal regularisation of G (Brock et al. 2019), off-diagonal form.

Config: ``reg.ortho`` (the weight; 0 = off), added to G's update as beta * ||W W^T * (1 - I)||_F^2, the
paper's R_beta(W). BigGAN-PyTorch's ``utils.ortho`` adds 2 beta (W W^T * (1 - I)) W to the gradient, half
of this loss's gradient, so its beta 1e-4 is this reg.ortho 5e-5.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn.utils import parametrize

from ganforge.objectives.registry import TermPlan, register

if TYPE_CHECKING:  # annotations only: the config imports objectives to validate itself
    from ganforge.config import RunConfig

Tensor = torch.Tensor


def weight_matrices(module: nn.Module) -> list[Tensor]:
    """Weights of the linear and convolutional layers, as (out, in * k * k) matrices: the parameters
    themselves, under spectral norm too. ``m.weight`` would be W / sigma, which changes the penalty (about
    20x at BigGAN's widths), sends its gradient through sigma, and steps the power iteration once more per
    call; BigGAN-PyTorch's ``ortho`` reads the raw parameter, as the paper's R_beta(W) is on W."""
    mats = []
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d | nn.ConvTranspose2d):
            w = m.parametrizations.weight.original if parametrize.is_parametrized(m, "weight") else m.weight
            if isinstance(m, nn.ConvTranspose2d):
                w = w.transpose(0, 1)
            mats.append(w.reshape(w.shape[0], -1))
    return mats


def orthogonal_penalty(module: nn.Module) -> Tensor:
    """Sum over weight matrices of ||W W^T * (1 - I)||_F^2.

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


def orthogonal_term(weight: float, net: str, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    ortho = orthogonal_penalty(ctx.nets[net])
    return weight * ortho, {"ortho": ortho.detach()}


@register("orthogonal", reads={"reg": {"ortho"}})
def attach(cfg: RunConfig, plan: TermPlan) -> None:
    if cfg.reg.ortho > 0:
        plan.add_term(plan.g, partial(orthogonal_term, cfg.reg.ortho, plan.g))
