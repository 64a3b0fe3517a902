"""An exponential moving average of a network's weights (G's, in a GAN: the generator samples come from).

Averaging over the recent updates smooths out the oscillation of adversarial training; the
averaged G usually samples better than the latest one (Yazici et al. 2019). Buffers (e.g.
batch-norm statistics) are copied, not averaged.

How fast the average forgets is an :class:`EmaSchedule`, stated one of two ways:

- as a **half-life in images** (stylegan2-ada's ``ema_kimg``): after H images an old weight's
  share has halved, whatever the batch, so beta per update is ``0.5 ** (batch / H)``. With a
  **ramp-up** r (ada's ``ema_rampup``) the half-life is ``min(H, r * images seen)``: early in
  training the average follows G closely instead of holding on to the random initialisation.
- as a **beta per update**, for papers that define it so (ProGAN's 0.999, BigGAN's 0.9999): the
  same number averages over twice as many images at twice the batch.

Images seen are ``step * global batch``, worked out from the step counter rather than counted,
so a resumed run computes the same beta at the same step and continues the average exactly.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from ganforge.config import EmaConfig


@dataclass(frozen=True)
class EmaSchedule:
    """beta (the weight of the old average) at each update, from the step counter alone."""

    batch_images: int = 1  # images per update, all processes together (train.batch_size)
    half_life_images: float | None = None
    rampup: float | None = None
    beta: float | None = None
    start: int = 0  # updates before averaging starts; until then the average copies the network

    @classmethod
    def from_config(cls, ema: EmaConfig, batch_images: int) -> EmaSchedule | None:
        """The config's schedule, or None when the config keeps no moving average."""
        if ema.beta is None and ema.half_life_images is None:
            return None
        return cls(batch_images, ema.half_life_images, ema.rampup, ema.beta, ema.start)

    def half_life_at(self, step: int) -> float:
        """The half-life in images used at ``step`` (ramped up while ``rampup * images seen`` is shorter);
        with a beta per update, the half-life that beta gives at this batch."""
        if self.beta is not None:
            return self.batch_images * math.log(0.5) / math.log(self.beta)
        half_life = float(self.half_life_images)
        if self.rampup is not None:
            half_life = min(half_life, step * self.batch_images * self.rampup)
        return half_life

    def beta_at(self, step: int) -> float:
        """The blend weight of update number ``step``: 0 (a plain copy) before ``start``."""
        if step < self.start:
            return 0.0
        if self.beta is not None:
            return self.beta
        return 0.5 ** (self.batch_images / max(self.half_life_at(step), 1e-8))


class EmaModel:
    """The moving-average copy of a network: ``model`` (eval mode, no gradients) and :meth:`update`, which
    blends ``source``'s parameters into it with the beta :class:`EmaSchedule` gives for the step.

    Buffers are copied, not averaged (batch-norm statistics, StyleGAN2's ``w_avg``), as stylegan2-ada's
    training loop does. All parameters blend in one ``torch._foreach_lerp_`` call, so the update costs one
    batched kernel rather than a launch per tensor.
    """

    def __init__(self, G: nn.Module, schedule: EmaSchedule):
        self.source, self.schedule = G, schedule
        self.model = copy.deepcopy(G).eval().requires_grad_(False)

    def beta_at(self, step: int) -> float:
        return self.schedule.beta_at(step)

    @torch.no_grad()
    def update(self, step: int) -> None:
        beta = self.beta_at(step)
        # One batched kernel for all parameters rather than one launch each (it matters on a GPU).
        torch._foreach_lerp_(list(self.model.parameters()), [p.detach() for p in self.source.parameters()],
                             1.0 - beta)
        for e, b in zip(self.model.buffers(), self.source.buffers()):
            e.copy_(b)
