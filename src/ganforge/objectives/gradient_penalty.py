"""WGAN-GP's gradient penalty (Gulrajani et al. 2017): the maths, D's term, and when it applies.

Config: ``reg.gp`` (the weight; 0 = off). The penalty is added to every D update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from functools import partial

import torch

from ganforge.objectives.registry import TermPlan, register

if TYPE_CHECKING:  # annotations only: the config imports objectives to validate itself
    from ganforge.config import RunConfig

Tensor = torch.Tensor
Logits = Callable[[Tensor, Tensor | None], Tensor]


def input_gradient(D: Logits, x: Tensor, y: Tensor | None) -> Tensor:
    """d(sum of D's logits)/dx per sample, flattened, kept in the graph (the penalty is trained through)."""
    x = x.detach().requires_grad_(True)
    out = D(x, y)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1)


def gradient_penalty(D: Logits, real: Tensor, fake: Tensor, y: Tensor | None = None,
                     generator: torch.Generator | None = None, eps: Tensor | None = None) -> Tensor:
    """Mean of (||grad_x D(x_hat)|| - 1)^2 at uniform random interpolates x_hat of real and fake.

    Zero exactly when the critic's gradient has norm 1 along those lines, which is what a
    1-Lipschitz optimal critic satisfies (Gulrajani et al. 2017, Prop. 1). ``eps`` (one
    U[0, 1) weight per sample) may be given; otherwise it is drawn from ``generator``.
    """
    if eps is None:
        eps = torch.rand(real.shape[0], device=real.device, generator=generator)
    eps = eps.view(real.shape[0], *([1] * (real.dim() - 1)))
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    return (input_gradient(D, x_hat, y).norm(2, dim=1) - 1).pow(2).mean()


def gradient_penalty_term(weight: float, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """On the real and fake batches the adversarial term left in ``ctx.shared``."""
    s = ctx.shared
    y = s.y_real if ctx.labels_to_d else None  # interpolates carry the real batch's labels
    # The interpolation weights come from the noise stream, so they are resumed and shared out like z.
    gp = gradient_penalty(ctx.d_logits, s.real, s.fake, y, eps=ctx.noise.uniform(len(s.real)))
    return weight * gp, {"gp": gp.detach()}


@register("gradient_penalty", reads={"reg": {"gp"}})
def attach(cfg: RunConfig, plan: TermPlan) -> None:
    if cfg.reg.gp > 0:
        plan.add_term(plan.d, partial(gradient_penalty_term, cfg.reg.gp))
