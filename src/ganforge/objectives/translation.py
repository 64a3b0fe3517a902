"""The image-to-image objectives: conditional adversarial terms on patch logits, L1, cycle, identity.

pix2pix (Isola et al. 2017): D judges (input, output) pairs, the input concatenated to the
image along the channels, so it learns whether an output fits *its* input, not only whether
it looks real; G adds ``lambda * |G(a) - b|_1`` (lambda = 100), which gets the low
frequencies right while the adversarial term keeps the result sharp.

CycleGAN (Zhu et al. 2017): no pairs; each G is pushed by the other domain's D, and
``|G_BA(G_AB(a)) - a|_1`` (lambda = 10, both ways) forbids throwing the input away. The
identity term ``|G_AB(b) - b|_1`` (0.5 lambda) asks G to leave an image already in its target
domain alone, which stops needless remapping (e.g. colour inversion early in training).

The adversarial criteria are the reference implementations' (their ``GANLoss``): the per-element
mean of ``nn.BCEWithLogitsLoss`` for ``minimax`` / ``non-saturating`` (the engine's own losses
already are), and of ``nn.MSELoss`` for ``least-squares``, which differs from the engine's LSGAN
(``objectives.losses`` follows the LSGAN paper's 1/2 factors, right for the noise-to-image
recipes): CycleGAN's G minimises ``mean((D(G(x)) - 1)^2)`` (Zhu et al. sec. 4), with no 1/2,
and its cycle (10) and identity (5) weights are set against that. :data:`TRANSLATION_D` and
:data:`TRANSLATION_G` hold the criterion per loss name (a table, so no recipe tests a name).
They are applied at every patch of every scale and averaged over scales. D's loss is
``0.5 * (real + fake)``, halved as both reference implementations do, which slows D
relative to G.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from ganforge.objectives.losses import D_LOSSES, G_LOSSES, DLoss, GLoss, g_loss_without_real

Tensor = torch.Tensor
D_HALF = 0.5  # the reference code's (real + fake) * 0.5


def d_mse(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """The reference's ``MSELoss(D(real), 1) + MSELoss(D(fake), 0)``: per-element means, no LSGAN 1/2
    factors (:func:`d_patch_loss` halves the sum once, as the reference's ``(real + fake) * 0.5``)."""
    return ((real_logits - real_label) ** 2).mean() + (fake_logits ** 2).mean()


def g_mse(fake_logits: Tensor) -> Tensor:
    """The reference's ``MSELoss(D(G(x)), 1)``: CycleGAN's G term, ``E[(D(G(x)) - 1)^2]``, no 1/2."""
    return ((fake_logits - 1) ** 2).mean()


# The criterion of each loss name in the translation recipes: the engine's where it already equals the
# reference's GANLoss (BCE with logits for minimax / non-saturating; the others have no reference form
# and keep the engine's), the reference's nn.MSELoss where the engine's LSGAN has the paper's 1/2 factors.
TRANSLATION_D: dict[str, DLoss] = {**D_LOSSES, "least-squares": DLoss(d_mse)}
TRANSLATION_G: dict[str, GLoss] = {**G_LOSSES, "least-squares": GLoss(g_mse)}


def translation_d_loss(name: str, real_label: float) -> DLoss:
    """D's criterion for ``loss.d`` in a translation recipe, with ``loss.real_label`` as its real target."""
    return replace(TRANSLATION_D[name], real_label=real_label)


def translation_g_loss(name: str, recipe: str) -> GLoss:
    """G's criterion for ``loss.g`` in a translation recipe (refused, as everywhere, if it needs real logits)."""
    g_loss_without_real(name, recipe)
    return TRANSLATION_G[name]


def patch_logits(D: torch.nn.Module, x: Tensor) -> list[Tensor]:
    """D's logits at every patch of every scale (PatchGAN, multi-scale), or its one logit per image."""
    if hasattr(D, "patches"):
        return [p.float() for p in D.patches(x)]
    return [D(x).float()]


def d_patch_loss(d_loss: DLoss, real: list[Tensor], fake: list[Tensor]) -> Tensor:
    """D's loss on real and fake patch logits, averaged over scales, halved: ``0.5 * (real + fake)`` with
    a :data:`TRANSLATION_D` criterion, the reference implementations' D loss."""
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
