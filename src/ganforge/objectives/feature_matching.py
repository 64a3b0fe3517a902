"""Feature matching (Salimans et al. 2016): G matches the mean of D's features on real data.

Config: ``reg.feature_matching`` (the weight; 0 = off), added to G's update.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import torch

from ganforge.objectives.registry import TermPlan, register

if TYPE_CHECKING:  # annotations only: the config imports objectives to validate itself
    from ganforge.config import RunConfig

Tensor = torch.Tensor


def feature_matching(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """||mean f(x) - mean f(G(z))||^2 on D's penultimate features."""
    return (real_features.detach().mean(0) - fake_features.mean(0)).pow(2).sum()


def feature_matching_term(weight: float, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """On a fresh real batch and the generated batch G's adversarial term shared."""
    real, y = ctx.real.next()
    with torch.no_grad():
        f_real, _ = ctx.discriminate(real, y)
    fm = feature_matching(f_real.float(), ctx.shared.f_fake.float())
    return weight * fm, {"feature_matching": fm.detach()}


@register("feature_matching", reads={"reg": {"feature_matching"}})
def attach(cfg: RunConfig, plan: TermPlan) -> None:
    if cfg.reg.feature_matching > 0:
        plan.add_term(plan.g, partial(feature_matching_term, cfg.reg.feature_matching))
