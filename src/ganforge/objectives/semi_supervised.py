"""The semi-supervised GAN's D losses (Salimans et al. 2016, section 5), written to be numerically stable.

D has K class logits l(x); the (K+1)-th, "fake", logit is fixed at 0, so with Z(x) = sum_k exp l_k(x)

    p(real | x) = D(x) = Z / (Z + 1) = sigmoid(log Z),   log Z = logsumexp(l(x)).

D's loss is the labelled cross-entropy over the K classes plus the unlabelled GAN terms

    -log D(x)        = -log Z + softplus(log Z)       (x unlabelled real)
    -log(1 - D(G(z))) = softplus(log Z)                 (G(z) generated)

each averaged over its batch and halved, as in openai/improved-gan. Written with logsumexp and
softplus, nothing here overflows for large logits (the sigmoid-output ports' blow-ups). The
unlabelled term takes no labels at all: it cannot leak them.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

Tensor = torch.Tensor


def log_z(logits: Tensor) -> Tensor:
    """log Z = logsumexp of the K class logits: D's realness logit."""
    return torch.logsumexp(logits, dim=1)


def prob_real(logits: Tensor) -> Tensor:
    """D(x) = Z / (Z + 1), the probability that x is real (not generated)."""
    return torch.sigmoid(log_z(logits))


def labelled_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy over the K real classes (the fake class cannot be a label)."""
    return F.cross_entropy(logits, y)


def unlabelled_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """0.5 * (mean -log D(x) + mean -log(1 - D(G(z)))), from class logits alone."""
    lz_real, lz_fake = log_z(real_logits), log_z(fake_logits)
    real = -lz_real.mean() + F.softplus(lz_real).mean()
    fake = F.softplus(lz_fake).mean()
    return 0.5 * (real + fake)
