"""WGAN's weight clipping (Arjovsky et al. 2017): D's weights clamped to [-c, c] after each update.

Config: ``reg.clip`` (c; null = off). A crude Lipschitz constraint, kept for the original WGAN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from ganforge.objectives.registry import TermPlan, register

if TYPE_CHECKING:  # annotations only: the config imports objectives to validate itself
    from ganforge.config import RunConfig


def clipper(net: nn.Module, bound: float) -> Callable[[], None]:
    @torch.no_grad()
    def clip() -> None:
        for p in net.parameters():
            p.clamp_(-bound, bound)

    return clip


@register("weight_clipping", reads={"reg": {"clip"}})
def attach(cfg: RunConfig, plan: TermPlan) -> None:
    if cfg.reg.clip is not None:
        plan.add_hook(plan.d, clipper(plan.nets[plan.d], cfg.reg.clip))
