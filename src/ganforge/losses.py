"""Adversarial objectives as pure functions of discriminator logits.

A loss never touches an optimiser or a network: it maps D's logits to a scalar to
minimise, so phases can combine it with regularisers freely. With D(x) =
sigmoid(logit), ``softplus(-l) = -log D`` and ``softplus(l) = -log(1 - D)``, which
stay finite where D saturates.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def d_minimax(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-[log D(x) + log(1 - D(G(z)))]: D's side of the 2014 value function."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_minimax(fake_logits: Tensor) -> Tensor:
    """log(1 - D(G(z))): the paper's equation; its gradient vanishes when D rejects G(z) confidently."""
    return -F.softplus(fake_logits).mean()


def g_non_saturating(fake_logits: Tensor) -> Tensor:
    """-log D(G(z)): same fixed point, strong gradients early in training (the paper's code)."""
    return F.softplus(-fake_logits).mean()


D_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"minimax": d_minimax}
G_LOSSES: dict[str, Callable[[Tensor], Tensor]] = {"minimax": g_minimax, "non-saturating": g_non_saturating}
