"""ACGAN's auxiliary classifier (Odena et al. 2017): D also names the class; G is rewarded when it can.

Applies whenever D was built with a classifier head (``model.d.aux_classifier: true``);
``reg.aux_weight`` scales both terms and ``reg.aux_on_fake`` says whether D also learns the
classes of generated samples, as published.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ganforge.errors import ConfigError
from ganforge.objectives.registry import TermPlan, register

if TYPE_CHECKING:  # annotations only: the config imports objectives to validate itself
    from ganforge.config import RunConfig

Tensor = torch.Tensor


def _cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """The batch's mean cross-entropy; a zero on the graph for an empty batch (a private D's Poisson draw may hold
    no image: :func:`ganforge.objectives.losses.batch_mean`), where the mean would be NaN."""
    return F.cross_entropy(logits, y) if len(y) else logits.sum()


def aux_classifier_d(weight: float, on_fake: bool, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """Cross-entropy of D's class head on the real (and generated) features the adversarial term shared."""
    D, s = ctx.nets["D"], ctx.shared
    loss = _cross_entropy(D.classify(s.f_real), s.y_real)
    if on_fake:
        loss = loss + _cross_entropy(D.classify(s.f_fake), s.y_fake)
    return weight * loss, {"aux_D": loss.detach()}


def aux_classifier_g(weight: float, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """G is rewarded when D recognises the class it was asked for."""
    loss = F.cross_entropy(ctx.nets["D"].classify(ctx.shared.f_fake), ctx.shared.y_fake)
    return weight * loss, {"aux_G": loss.detach()}


@register("aux_classifier", reads={"reg": {"aux_weight", "aux_on_fake"}})
def attach(cfg: RunConfig, plan: TermPlan) -> None:
    if not hasattr(plan.nets[plan.d], "classify"):
        r = cfg.reg
        stated = [(k, v) for k, v, default in (("aux_weight", r.aux_weight, 1.0), ("aux_on_fake", r.aux_on_fake, True))
                  if v != default]
        if stated:  # the terms below are never added, so the setting would change nothing
            key, value = stated[0]
            raise ConfigError(f"reg.{key}={str(value).lower()} sets ACGAN's classifier terms, and D (arch "
                              f"'{cfg.model.d.arch}') has no classifier head, so it would change nothing; set "
                              f"model.d.aux_classifier=true, or remove reg.{key}")
        return
    plan.add_term(plan.d, partial(aux_classifier_d, cfg.reg.aux_weight, cfg.reg.aux_on_fake))
    plan.add_term(plan.g, partial(aux_classifier_g, cfg.reg.aux_weight))
