"""The image-to-image objectives: conditional adversarial terms on patch logits, L1, cycle, identity.

pix2pix (Isola et al. 2017): D judges (input, output) pairs, the input concatenated to the
image along the channels, so it learns whether an output fits *its* input, not only whether
it looks real; G adds ``lambda * |G(a) - b|_1`` (lambda = 100), which gets the low
frequencies right while the adversarial term keeps the result sharp.

CycleGAN (Zhu et al. 2017): no pairs; each G is pushed by the other domain's D, and
``|G_BA(G_AB(a)) - a|_1`` (lambda = 10, both ways) forbids throwing the input away. The
identity term ``|G_AB(b) - b|_1`` (0.5 lambda) asks G to leave an image already in its target
domain alone, which stops needless remapping (e.g. colour inversion early in training).

The adversarial criteria are the one registry's (:mod:`.losses`, ``loss.d`` / ``loss.g``), as in every
recipe. The reference implementations' ``GANLoss`` is the per-element mean of ``nn.BCEWithLogitsLoss``
for ``minimax`` / ``non-saturating`` (the engine's own losses already are) and, for ``GANLoss('lsgan')``,
of ``nn.MSELoss``: the registry's ``mse``, which the CycleGAN presets name. It is not ``least-squares``,
the LSGAN paper's form with its 1/2 factors, which means the same here as in the noise-to-image recipes:
CycleGAN's G minimises ``mean((D(G(x)) - 1)^2)`` (Zhu et al. sec. 4), with no 1/2, and its cycle (10) and
identity (5) weights are set against that, so a preset that wants the reference's balance says ``mse``.
They are applied at every patch of every scale and averaged over scales. D's loss is
``0.5 * (real + fake)``, halved as both reference implementations do, which slows D
relative to G.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ganforge.objectives.losses import DLoss, GLoss, d_loss_for, g_loss_without_real

Tensor = torch.Tensor
D_HALF = 0.5  # the reference code's (real + fake) * 0.5


def translation_d_loss(name: str, real_label: float) -> DLoss:
    """D's criterion for ``loss.d`` in a translation recipe, with ``loss.real_label`` as its real target: the
    registry's, as in every recipe (:func:`d_patch_loss` halves it as the reference does)."""
    return d_loss_for(name, real_label)


def translation_g_loss(name: str, recipe: str) -> GLoss:
    """G's criterion for ``loss.g`` in a translation recipe: the registry's, refused, as everywhere, if it needs
    real logits (a translation G term has none to give it)."""
    return g_loss_without_real(name, recipe)


def patch_logits(D: torch.nn.Module, x: Tensor) -> list[Tensor]:
    """D's logits at every patch of every scale (PatchGAN, multi-scale), or its one logit per image."""
    if hasattr(D, "patches"):
        return [p.float() for p in D.patches(x)]
    return [D(x).float()]


def d_patch_loss(d_loss: DLoss, real: list[Tensor], fake: list[Tensor]) -> Tensor:
    """D's loss on real and fake patch logits, averaged over scales, halved: ``0.5 * (real + fake)``, the
    reference implementations' D loss (with ``mse``, their ``GANLoss('lsgan')``)."""
    return D_HALF * sum(d_loss(r, f) for r, f in zip(real, fake)) / len(real)


def g_patch_loss(g_loss: Callable[[Tensor], Tensor], fake: list[Tensor]) -> Tensor:
    """G's adversarial loss on its outputs' patch logits, averaged over scales."""
    return sum(g_loss(f) for f in fake) / len(fake)


def shown(d_loss: DLoss, logits: list[Tensor]) -> Tensor:
    """D's mean output as the log shows it (a probability for the vanilla loss)."""
    return torch.stack([d_loss.shown(p).mean() for p in logits]).mean().detach()


def conditioned(a: Tensor, image: Tensor, conditional: bool) -> Tensor:
    """What a pix2pix D sees: (input, image) along the channels, or the image alone."""
    return torch.cat([a, image], 1) if conditional else image


def l1(x: Tensor, y: Tensor) -> Tensor:
    """Mean absolute difference, in G's output range (-1, 1), as both papers compute it."""
    return (x.float() - y.float()).abs().mean()
