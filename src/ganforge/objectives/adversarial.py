"""The adversarial terms of a noise-to-image GAN: D on a real and a generated batch, G through D.

They leave the batches, labels and D's features in ``ctx.cache`` so later terms of the same
update (the gradient penalty, the ACGAN classifier) reuse them instead of running D again.
The losses themselves are pure functions of logits (:mod:`ganforge.objectives.losses`).
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def d_adversarial(ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """D's objective on a fresh real minibatch and a fresh generated one."""
    real, y_real = ctx.real.next()
    with torch.no_grad():
        fake, y_fake = ctx.generate(ctx.batch_size)
    f_real, real_logits = ctx.discriminate(real, y_real)
    f_fake, fake_logits = ctx.discriminate(fake, y_fake)
    ctx.cache.update(real=real, fake=fake, y_real=y_real, y_fake=y_fake, f_real=f_real, f_fake=f_fake)
    return ctx.d_loss(real_logits, fake_logits), {"D_real": ctx.d_loss.shown(real_logits.detach()).mean(),
                                                  "D_fake": ctx.d_loss.shown(fake_logits.detach()).mean()}


def g_adversarial(ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """G's objective: how D judges a fresh batch of samples, gradients through D into G."""
    fake, y_fake = ctx.generate(ctx.batch_size)
    f_fake, fake_logits = ctx.discriminate(fake, y_fake)
    ctx.cache.update(fake=fake, y_fake=y_fake, f_fake=f_fake)
    return ctx.g_loss(fake_logits), {}
