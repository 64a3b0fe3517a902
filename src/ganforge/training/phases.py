"""The engine's unit of work: a phase updates one named network from a sum of loss terms.

Algorithm 1 of the 2014 paper is two phases: "D, k times" then "G". Every later variant
is more terms (a gradient penalty, feature matching, an auxiliary classifier) or more
phases (lazy R1 every 16 steps, a moving average); a recipe assembles them, and the loop
only runs them in order. Nothing here knows what the networks are.

Terms of one update share ``ctx.cache``: an adversarial term leaves its batches and D's
features there, so a later term reuses them instead of running D again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganforge.training.ema import EmaModel
from ganforge.training.schedules import OptimSchedule

Tensor = torch.Tensor
# A term returns the scalar to minimise and detached statistics to log.
Term = Callable[[Any], tuple[Tensor, dict[str, Tensor]]]


@dataclass
class StepContext:
    """What every phase and term may use during one step; a recipe subclasses it with its own data."""

    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedules: dict[str, OptimSchedule]
    step: int = 0
    cache: dict[str, Any] = field(default_factory=dict)
    # bf16 autocast around the terms (speed.precision); losses are taken on fp32 logits.
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    # Under torchrun: the DDP wrappers by network name. The network being updated runs through
    # its wrapper, so DDP averages its gradients; the frozen ones are called directly.
    ddp: dict[str, nn.Module] = field(default_factory=dict)
    training: str = ""  # the network the running phase updates

    @property
    def epoch(self) -> int:
        """Epochs of data seen so far (schedules decay per epoch); a recipe says what its data are."""
        raise NotImplementedError(f"{type(self).__name__} must say what an epoch is")

    def forward_net(self, name: str) -> nn.Module:
        """The module to call for network ``name``: its DDP wrapper while that network is updated."""
        return self.ddp[name] if self.training == name and name in self.ddp else self.nets[name]


@dataclass
class Phase:
    """Update network ``net`` ``repeat`` times, every ``every`` steps, on the sum of ``terms``.

    ``after_update`` hooks run after each optimiser step (weight clipping, running averages).
    """

    name: str
    net: str
    terms: list[Term]
    repeat: int = 1
    every: int = 1
    after_update: list[Callable[[], None]] = field(default_factory=list)
    log_loss: bool = True

    def run(self, ctx: StepContext) -> dict[str, Tensor]:
        """Returns the last repeat's loss and statistics (detached, still on the device)."""
        optimizer = ctx.optimizers[self.net]
        for name, other in ctx.nets.items():
            other.requires_grad_(name == self.net)  # no wasted gradients for the frozen nets
        ctx.training = self.net
        out: dict[str, Tensor] = {}
        for _ in range(self.repeat):
            ctx.cache.clear()
            total = None
            out = {}
            for term in self.terms:
                with ctx.autocast():
                    loss, stats = term(ctx)
                loss = loss.float()
                total = loss if total is None else total + loss
                out.update(stats)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            for hook in self.after_update:
                hook()
            ctx.schedules[self.net].after_update(ctx.epoch)
            if self.log_loss:
                out[f"loss_{self.name}"] = total.detach()
        ctx.cache.clear()
        return out


@dataclass
class EmaPhase:
    """Not an optimiser step: folds a network's new weights into its moving average after its update."""

    ema: EmaModel
    name: str
    every: int = 1

    def run(self, ctx: StepContext) -> dict[str, Tensor]:
        self.ema.update(ctx.step)
        return {}
