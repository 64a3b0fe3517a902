"""The adversarial terms of a noise-to-image GAN: D on a real and a generated batch, G through D.

They leave the batches, labels and D's features in ``ctx.shared`` (an :class:`AdversarialShared`)
so later terms of the same update (the gradient penalty, the ACGAN classifier, feature matching,
drift, ADA) reuse them instead of running D again.
The losses themselves are pure functions of logits (:mod:`ganforge.objectives.losses`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


Tensor = torch.Tensor


@dataclass(slots=True)
class AdversarialShared:
    """What D's and G's adversarial terms leave for the other terms of the same update: the
    ``ctx.shared`` of a noise-to-image step (training/phases.py). Slots: a misspelt field is an error."""

    real: Tensor | None = None  # the real batch D judged
    fake: Tensor | None = None  # the generated batch D (or G's term) judged
    y_real: Tensor | None = None  # their labels (None for unlabelled data)
    y_fake: Tensor | None = None
    f_real: Tensor | None = None  # D's penultimate features of each
    f_fake: Tensor | None = None


def d_adversarial(ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """D's objective on a fresh real minibatch and a fresh generated one."""
    real, y_real = ctx.real.next()
    with torch.no_grad():
        fake, y_fake = ctx.generate(ctx.batch_size)
    real_logits, fake_logits = judge_both(ctx, real, y_real, fake, y_fake)
    return ctx.d_loss(real_logits, fake_logits), d_shown(ctx, real_logits, fake_logits)


def judge_both(ctx, real: Tensor, y_real: Tensor | None, fake: Tensor,
               y_fake: Tensor | None) -> tuple[Tensor, Tensor]:
    """D's logits on a real and a generated batch, with both batches, their labels and D's features left in
    ``ctx.shared`` for the update's other terms. Every D term that draws its own batches calls it."""
    f_real, real_logits = ctx.discriminate(real, y_real)
    f_fake, fake_logits = ctx.discriminate(fake, y_fake)
    s = ctx.shared
    s.real, s.fake, s.y_real, s.y_fake, s.f_real, s.f_fake = real, fake, y_real, y_fake, f_real, f_fake
    return real_logits, fake_logits


def d_loss_of_draw(ctx, real_logits: Tensor, fake_logits: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """D's loss on a private recipe's Poisson draw (real sample i beside generated sample i). An empty draw is an
    update with no sample: a zero still on D's graph, so Opacus's optimiser steps on the noise alone (as for an
    empty batch of its Poisson data loader) and the accountant counts it; nothing is logged for it."""
    if not len(real_logits):
        return real_logits.sum() + fake_logits.sum(), {}
    return ctx.d_loss(real_logits, fake_logits), d_shown(ctx, real_logits, fake_logits)


def d_shown(ctx, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
    """What D's update logs: its mean view of the real and the generated batch."""
    return {"D_real": ctx.d_loss.shown(real_logits.detach()).mean(),
            "D_fake": ctx.d_loss.shown(fake_logits.detach()).mean()}


def g_adversarial(ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """G's objective: how D judges a fresh batch of samples, gradients through D into G."""
    fake, y_fake = ctx.generate(ctx.batch_size)
    f_fake, fake_logits = ctx.discriminate(fake, y_fake)
    ctx.shared.fake, ctx.shared.y_fake, ctx.shared.f_fake = fake, y_fake, f_fake
    real_logits = None
    if ctx.g_loss.needs_real:  # a relativistic G loss also needs D's view of a real batch (no gradient to G)
        real, y_real = ctx.real.next()
        with torch.no_grad():
            real_logits = ctx.discriminate(real, y_real)[1]
    return ctx.g_loss(fake_logits, real_logits), {}
