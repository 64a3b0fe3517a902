"""R1 (Mescheder et al. 2018): the squared gradient norm of D on real data, optionally lazy.

Config: ``reg.r1`` (gamma; 0 = off) and ``reg.r1_every`` (lazy regularisation, StyleGAN2:
a phase of its own every k steps, weighted by k so the average strength is unchanged).

Known deviation, kept for now: R1 is always a D phase of its own, also at ``reg.r1_every=1`` (the
default). There D takes two optimiser steps per D step, the adversarial one and then R1's, with no
lr/beta correction (``registry.lazy_corrected`` corrects k > 1 only): stylegan2-ada's phase form at
interval 1 uncorrected, not Mescheder et al.'s single loss L_D + gamma/2 * R1 (nor stylegan2-ada's
non-lazy 'Dboth'). Runs measured with it keep it until they are re-measured; the lazy form (k > 1,
every StyleGAN/ProGAN preset) is StyleGAN2's own.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import torch

from ganforge.objectives.gradient_penalty import Logits, input_gradient
from ganforge.objectives.registry import ExtraPhase, TermPlan, lazy, register

if TYPE_CHECKING:  # annotations only: the config imports objectives to validate itself
    from ganforge.config import RunConfig

Tensor = torch.Tensor


def r1_penalty(D: Logits, real: Tensor, y: Tensor | None = None) -> Tensor:
    """Mean of ||grad_x D(x)||^2 on real data; callers scale by gamma/2."""
    return input_gradient(D, real, y).pow(2).sum(1).mean()


def r1_term(weight: float, every: int, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    real, y = ctx.real.next()
    r1 = r1_penalty(ctx.d_logits, real, y if ctx.labels_to_d else None)
    return (weight / 2) * every * r1, {"r1": r1.detach()}


@register("r1", reads={"reg": {"r1", "r1_every"}})
def attach(cfg: RunConfig, plan: TermPlan) -> None:
    r = cfg.reg
    if r.r1 > 0:
        plan.extra_phases.append(ExtraPhase(f"{plan.d}_r1", plan.d, [partial(r1_term, r.r1, r.r1_every)],
                                            after=plan.d, every=r.r1_every, log_loss=False))


@lazy
def interval(cfg: RunConfig) -> tuple[str, int] | None:
    """R1 runs on D every ``reg.r1_every`` steps (with ``train.d_steps`` D updates each, which
    ``registry.lazy_corrected`` counts)."""
    return ("d", cfg.reg.r1_every) if cfg.reg.r1 > 0 else None
