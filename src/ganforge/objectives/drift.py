"""ProGAN's drift penalty (Karras et al. 2018): ``epsilon * mean(D(x)^2)`` on real data.

A Wasserstein critic's outputs are defined only up to a constant, so they can drift far from
zero while the loss stays the same; that large offset costs float precision and destabilises
training. The paper adds this small term (epsilon = 0.001) to D's loss to keep the real logits
near zero. Config: ``reg.drift`` (epsilon; 0 = off).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import torch

from ganforge.objectives.losses import batch_mean
from ganforge.objectives.registry import TermPlan, register

if TYPE_CHECKING:  # annotations only: the config imports objectives to validate itself
    from ganforge.config import RunConfig

Tensor = torch.Tensor


def drift_term(weight: float, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """On the real batch the adversarial term left in ``ctx.shared`` (D run again: DDP sees the forward)."""
    y = ctx.shared.y_real if ctx.labels_to_d else None
    drift = batch_mean(ctx.d_logits(ctx.shared.real, y).pow(2))
    return weight * drift, {"drift": drift.detach()}


@register("drift", reads={"reg": {"drift"}})
def attach(cfg: RunConfig, plan: TermPlan) -> None:
    if cfg.reg.drift > 0:
        plan.add_term(plan.d, partial(drift_term, cfg.reg.drift))
