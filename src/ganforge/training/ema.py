"""An exponential moving average of a network's weights (G's, in a GAN: the generator samples come from).

Averaging over the last ~1/(1-beta) updates smooths out the oscillation of adversarial
training; the averaged G usually samples better than the latest one (Yazici et al. 2019).
Buffers (e.g. batch-norm statistics) are copied, not averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EmaModel:
    def __init__(self, G: nn.Module, beta: float, start: int = 0):
        self.source, self.beta, self.start = G, beta, start
        self.model = copy.deepcopy(G).eval().requires_grad_(False)

    def beta_at(self, step: int) -> float:
        """The blend weight at ``step``: 0 (a plain copy) before ``start``."""
        return self.beta if step >= self.start else 0.0

    @torch.no_grad()
    def update(self, step: int) -> None:
        beta = self.beta_at(step)
        # One batched kernel for all parameters rather than one launch each (it matters on a GPU).
        torch._foreach_lerp_(list(self.model.parameters()), [p.detach() for p in self.source.parameters()],
                             1.0 - beta)
        for e, b in zip(self.model.buffers(), self.source.buffers()):
            e.copy_(b)
