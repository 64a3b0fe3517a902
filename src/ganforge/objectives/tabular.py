"""CTGAN's loss terms (Xu et al. 2019): the adversarial terms on (row ++ conditional vector), WGAN-GP
over packed groups, and G's conditional cross-entropy.

The terms are functions of a step context (:class:`ganforge.recipes.tabular.TableContext`), as
every term in :mod:`ganforge.objectives` is; they read the context's ``draw`` (a conditional
vector, its mask and the real rows that match it), ``generate`` and ``critic``, and leave what
later terms of the same update need in ``ctx.shared`` (a :class:`TableShared`).

- **Conditional cross-entropy** (the paper's section 4.3): G is asked for a category through
  the conditional vector and is penalised by the cross-entropy between its (pre-activation)
  softmax block for that column and the asked-for category, only for the column the mask
  picks, so G cannot ignore the condition.
- **WGAN-GP on packed inputs**: with PacGAN packing, D scores groups of ``pack`` rows; the
  penalty's interpolates are drawn per group (one weight per group) and the gradient norm is
  taken over the whole group, which is the penalty of the packed critic as a function of its
  packed input. The maths is :func:`ganforge.objectives.gradient_penalty.gradient_penalty`'s,
  called on the packed view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.objectives.gradient_penalty import gradient_penalty

Tensor = torch.Tensor


@dataclass(slots=True)
class TableShared:
    """What CTGAN's terms leave for the later terms of the same update (``ctx.shared``, training/phases.py)."""

    real_in: Tensor | None = None  # real rows ++ their conditions, as D judged them (the GP's real side)
    fake_in: Tensor | None = None  # G's rows ++ their conditions (the GP's fake side)
    raw: Tensor | None = None  # G's output before its activations (the conditional CE reads its blocks)
    cond: Tensor | None = None  # the conditions G was asked for ...
    mask: Tensor | None = None  # ... and which column each is about


def conditional_cross_entropy(raw: Tensor, cond: Tensor, mask: Tensor, blocks: Sequence[tuple[int, int]]) -> Tensor:
    """Sum over the discrete columns of CE(G's block, the asked category) x mask, averaged over rows.

    ``raw``: G's output before activations (N, D); ``cond``: the conditional vectors (N, C), the
    one-hot blocks of the discrete columns side by side in the order of ``blocks``; ``mask``
    (N, K): 1 for the column each row's condition is about; ``blocks``: (start, width) of each
    discrete column's softmax block in G's output, in the conditional vector's order.
    """
    losses, at = [], 0
    for start, width in blocks:
        target = cond[:, at:at + width].argmax(dim=1)
        losses.append(F.cross_entropy(raw[:, start:start + width], target, reduction="none"))
        at += width
    if not losses:
        return raw.new_zeros(())
    return (torch.stack(losses, dim=1) * mask).sum() / raw.shape[0]


def packed(x: Tensor, pack: int) -> Tensor:
    """(N, F) rows as (N / pack, pack * F) groups, the way PackedDiscriminator groups them."""
    return x.reshape(x.shape[0] // pack, pack * x.shape[1])


def packed_gradient_penalty(critic, real: Tensor, fake: Tensor, pack: int, eps: Tensor) -> Tensor:
    """WGAN-GP of a critic over groups of ``pack`` rows: one interpolation weight and one gradient norm per
    group. ``critic`` maps (N, F) rows to one score per group; ``eps`` holds N / pack weights in [0, 1)."""
    width = real.shape[1]
    return gradient_penalty(lambda x, y: critic(x.reshape(-1, width)), packed(real, pack), packed(fake, pack),
                            eps=eps)


def d_term(ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """D's adversarial loss (ctx.d_loss) on real rows with their conditions against G's rows for the same
    conditions (shuffled into other groups, as the paper's code does)."""
    draw = ctx.draw()
    with torch.no_grad():
        fake = ctx.generate(draw.cond)
    real_in, fake_in = ctx.with_cond(draw.real, draw.real_cond), ctx.with_cond(fake, draw.cond)
    real_logits, fake_logits = ctx.critic(real_in), ctx.critic(fake_in)
    ctx.shared.real_in, ctx.shared.fake_in = real_in, fake_in
    return ctx.d_loss(real_logits, fake_logits), {"D_real": ctx.d_loss.shown(real_logits.detach()).mean(),
                                                  "D_fake": ctx.d_loss.shown(fake_logits.detach()).mean()}


def gp_term(weight: float, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """WGAN-GP on the packed real and fake inputs D's term left in ``ctx.shared`` (weights from the noise stream)."""
    real, fake = ctx.shared.real_in, ctx.shared.fake_in
    gp = packed_gradient_penalty(ctx.critic, real, fake, ctx.pack, ctx.noise.uniform(real.shape[0] // ctx.pack))
    return weight * gp, {"gp": gp.detach()}


def g_term(ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """G's adversarial loss (ctx.g_loss) on a fresh draw of conditions; keeps G's logits for the CE term."""
    draw = ctx.draw(real=False)
    fake, raw = ctx.generate(draw.cond, with_logits=True)
    ctx.shared.raw, ctx.shared.cond, ctx.shared.mask = raw, draw.cond, draw.mask
    return ctx.g_loss(ctx.critic(ctx.with_cond(fake, draw.cond))), {}


def cond_term(weight: float, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """The conditional cross-entropy on G's update (after :func:`g_term`, whose logits it reads)."""
    c = ctx.shared
    ce = conditional_cross_entropy(c.raw, c.cond, c.mask, ctx.cond_blocks)
    return weight * ce, {"cond_ce": ce.detach()}


__all__ = ["TableShared", "cond_term", "conditional_cross_entropy", "d_term", "g_term", "gp_term", "packed",
           "packed_gradient_penalty"]
