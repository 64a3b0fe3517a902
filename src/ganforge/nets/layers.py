"""Layers shared by several architectures."""

from __future__ import annotations

import torch
from torch import nn


class Maxout(nn.Module):
    """Maxout unit (Goodfellow et al. 2013): ``pieces`` affine maps per unit, keep the largest.

    The 2014 GAN's discriminator is built from these; the max of linear pieces is a
    learned convex activation that works well with dropout.
    """

    def __init__(self, in_features: int, units: int, pieces: int):
        super().__init__()
        if pieces < 1 or units < 1:
            raise ValueError(f"maxout needs units >= 1 and pieces >= 1, got {units} x {pieces}")
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(dim=-1)


def init_uniform_(module: nn.Module, irange: float) -> None:
    """pylearn2's ``irange`` init: weights U(-irange, irange), biases zero."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -irange, irange)
            nn.init.zeros_(m.bias)
