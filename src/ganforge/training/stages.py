"""Stages: a phase that runs only within a window of steps, so a recipe can train in stages.

Some models are trained one part after another: f-AnoGAN trains a WGAN-GP, then an encoder
with the GAN frozen; a progressive GAN would grow in stages. The loop runs every phase at
every step where ``step % every == 0``; wrapping a phase in :class:`Window` is how a recipe
says "only from step ``start`` until ``stop``", with no branch in the loop for it. Outside
its window the phase does nothing (no forward pass, no optimiser step, no schedule tick), so
the networks it trains keep their weights bitwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.training.phases import EmaPhase, Phase, StepContext


@dataclass
class Window:
    """Run ``phase`` only for ``start <= ctx.step < stop`` (``stop`` None: to the end)."""

    phase: Phase | EmaPhase
    start: int = 0
    stop: int | None = None

    @property
    def name(self) -> str:
        return self.phase.name

    @property
    def every(self) -> int:
        return self.phase.every

    def active(self, step: int) -> bool:
        return self.start <= step and (self.stop is None or step < self.stop)

    def run(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        return self.phase.run(ctx) if self.active(ctx.step) else {}


def staged(stages: list[tuple[list[Phase], int]]) -> list[Window]:
    """Phases of consecutive stages: ``[(phases, length), ...]``; the last stage runs to the end."""
    out, start = [], 0
    for i, (phases, length) in enumerate(stages):
        stop = None if i == len(stages) - 1 else start + length
        out.extend(Window(p, start, stop) for p in phases)
        start += length
    return out
