"""R1 (Mescheder et al. 2018): the squared gradient norm of D on real data, optionally lazy.

Config: ``reg.r1`` (gamma; 0 = off) and ``reg.r1_every`` (lazy regularisation, StyleGAN2:
a phase of its own every k steps, weighted by the D updates between two of them, k * ``train.d_steps``,
so the average strength per D update is gamma/2 as at k = 1: StyleGAN2's gain is its interval in
D updates, and weighting by k alone made R1 d_steps times weaker with d_steps > 1).

At ``reg.r1_every=1`` (the default) R1 is Mescheder et al.'s single loss, L_D + gamma/2 * R1: a term
of D's own update, on the real batch that update judged, so D takes one optimiser step per D step.
Before round 18 it was a D phase of its own there too, so D took two (the adversarial one, then R1's,
on a fresh batch) with no lr/beta correction; the figures measured that way say so where they appear.
At k > 1 (every StyleGAN/ProGAN preset) it is StyleGAN2's lazy phase, with its lr/beta correction.
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


def r1_term(weight: float, gain: int, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """Lazy R1 on a fresh real batch, times ``gain``: the D updates since the last R1 phase."""
    real, y = ctx.real.next()
    r1 = r1_penalty(ctx.d_logits, real, y if ctx.labels_to_d else None)
    return (weight / 2) * gain * r1, {"r1": r1.detach()}


def r1_on_d_batch(weight: float, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """Non-lazy R1, a term of D's own update: gamma/2 * R1 on the real batch D's loss judged (``ctx.shared``)."""
    s = ctx.shared
    r1 = r1_penalty(ctx.d_logits, s.real, s.y_real if ctx.labels_to_d else None)
    return (weight / 2) * r1, {"r1": r1.detach()}


@register("r1", reads={"reg": {"r1", "r1_every"}, "train": {"d_steps"}})
def attach(cfg: RunConfig, plan: TermPlan) -> None:
    r = cfg.reg
    if r.r1 > 0 and r.r1_every == 1:
        plan.add_term(plan.d, partial(r1_on_d_batch, r.r1))
    elif r.r1 > 0:
        gain = r.r1_every * cfg.train.d_steps  # the D updates per R1 phase (as lazy_corrected counts them)
        plan.extra_phases.append(ExtraPhase(f"{plan.d}_r1", plan.d, [partial(r1_term, r.r1, gain)],
                                            after=plan.d, every=r.r1_every, log_loss=False))


@lazy
def interval(cfg: RunConfig) -> tuple[str, int] | None:
    """R1 runs on D every ``reg.r1_every`` steps (with ``train.d_steps`` D updates each, which
    ``registry.lazy_corrected`` counts)."""
    return ("d", cfg.reg.r1_every) if cfg.reg.r1 > 0 else None
