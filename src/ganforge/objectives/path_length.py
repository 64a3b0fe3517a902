"""Path-length regularisation (StyleGAN2, Karras et al. 2020), lazy: a G phase of its own every k steps.

A fixed-size step in w should change the image by a fixed amount, whatever the w: the
penalty is ``(|J_w^T y| - a)^2`` with ``J_w`` the Jacobian of the image with respect to the
per-layer latents, ``y`` random image-space directions scaled by 1/sqrt(H*W), and ``a`` a
running mean of the lengths (decay ``reg.path_length_decay``). It makes G smoother in W, which
the paper found to go with better images and easier inversion.

Config: ``reg.path_length`` (the weight; the paper's 2, 0 = off), ``reg.path_length_every``
(lazy: every k G steps, weighted by k; the paper's 4), ``reg.path_length_decay``. The batch is
half of the training batch, as in the paper's code. The running mean ``a`` is checkpointed
(``path_length_G``), so resume is exact. Needs a style-based G (one with ``styles`` and
``synthesis``: ``model.g.arch: stylegan2``).
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

import torch

from ganforge.errors import ConfigError
from ganforge.objectives.registry import ExtraPhase, TermPlan, lazy, register

if TYPE_CHECKING:  # annotations only: the config imports objectives to validate itself
    from ganforge.config import RunConfig

Tensor = torch.Tensor


class PathLengthMean:
    """The running mean of path lengths ``a``, as a checkpointed component."""

    enabled_by = "reg.path_length"  # the config key that adds it (named when a resume would add it: engine/state.py)

    def __init__(self, device: torch.device):
        self.mean = torch.zeros((), device=device)

    def state_tensors(self) -> dict[str, Tensor]:
        return {"mean": self.mean}

    def load_state_tensors(self, tensors: dict[str, Tensor]) -> None:
        self.mean.copy_(tensors["mean"])


def path_lengths(G, z: Tensor) -> Tensor:
    """|J_w^T y| per sample, y ~ N(0, I / (H*W)) drawn from the global generator; kept in the graph.
    ``G`` is the generator or its DDP wrapper (called as ``G(z, None, return_styles=True)``)."""
    img, ws = G(z, None, return_styles=True)
    directions = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
    (grad,) = torch.autograd.grad((img * directions).sum(), ws, create_graph=True)
    return grad.pow(2).sum(2).mean(1).sqrt()


def path_length_term(weight: float, every: int, decay: float, state: PathLengthMean, g: str, ctx
                     ) -> tuple[Tensor, dict[str, Tensor]]:
    lengths = path_lengths(ctx.forward_net(g), ctx.noise(max(ctx.batch_size // 2, 1)))
    with torch.no_grad():
        state.mean.lerp_(lengths.mean().float(), decay)
    penalty = (lengths - state.mean).pow(2).mean()
    return weight * every * penalty, {"path_length": lengths.mean().detach(), "pl_penalty": penalty.detach()}


@register("path_length", reads={"reg": {"path_length", "path_length_every", "path_length_decay"}})
def attach(cfg: RunConfig, plan: TermPlan) -> None:
    r = cfg.reg
    if r.path_length <= 0:
        return
    G = plan.nets[plan.g]
    if not (hasattr(G, "styles") and hasattr(G, "synthesis")):
        raise ConfigError(f"reg.path_length needs a style-based generator (model.g.arch stylegan2), not "
                          f"'{cfg.model.g.arch}'; set reg.path_length=0")
    state = PathLengthMean(next(G.parameters()).device)
    plan.stateful[f"path_length_{plan.g}"] = state
    term = partial(path_length_term, r.path_length, r.path_length_every, r.path_length_decay, state, plan.g)
    plan.extra_phases.append(ExtraPhase(f"{plan.g}_pl", plan.g, [term], after=plan.g, every=r.path_length_every,
                                        log_loss=False))


@lazy
def interval(cfg: RunConfig) -> tuple[str, int] | None:
    """The path-length phase runs on G every ``reg.path_length_every`` G steps."""
    return ("g", cfg.reg.path_length_every) if cfg.reg.path_length > 0 else None
