"""The engine's unit of work: a phase updates one named network from a sum of loss terms.

Algorithm 1 of the 2014 paper is two phases: "D, k times" then "G". Every later variant
is more terms (a gradient penalty, feature matching, an auxiliary classifier) or more
phases (lazy R1 every 16 steps, a moving average); a recipe assembles them, and the loop
only runs them in order. Nothing here knows what the networks are.

Terms of one update share ``ctx.shared``, a dataclass with one typed field per thing they hand
each other (an adversarial term leaves its batches and D's features there, so a later term reuses
them instead of running D again). A recipe's context declares which :class:`Shared` subclass it
uses; its fields are slots, so a misspelt name is an AttributeError, never a silent new key. Each
update starts from a fresh one (:meth:`StepContext.clear_shared`).
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


@dataclass(slots=True)
class Shared:
    """What the terms of one update hand each other: nothing, for a recipe whose terms share nothing.
    A recipe whose terms share data gives its context a dataclass of its own with typed fields
    (``@dataclass(slots=True)``, each defaulting to None: not yet left by this update's terms), e.g.
    ``objectives.adversarial.AdversarialShared``."""


@dataclass
class StepContext:
    """What every phase and term may use during one step; a recipe subclasses it with its own data."""

    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedules: dict[str, OptimSchedule]
    step: int = 0
    # This update's data shared between its terms (a slots dataclass); a subclass gives its own as the default.
    shared: Any = field(default_factory=Shared)
    # bf16 autocast around the terms (speed.precision); losses are taken on fp32 logits.
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    # Under torchrun: the DDP wrappers by network name. The network being updated runs through
    # its wrapper, so DDP averages its gradients; the frozen ones are called directly.
    ddp: dict[str, nn.Module] = field(default_factory=dict)
    training: str = ""  # the network the running phase updates
    # Checkpoints the guard has restored into this running loop (rollbacks): a step number seen again after
    # one is a new attempt at that step, so what a step draws once (training/step_batch.py) is drawn anew.
    restores: int = 0

    @property
    def epoch(self) -> int:
        """Epochs of data seen so far (schedules decay per epoch); a recipe says what its data are."""
        raise NotImplementedError(f"{type(self).__name__} must say what an epoch is")

    @property
    def draw_key(self) -> tuple[int, int]:
        """What names this step for a once-per-step draw: (rollbacks so far, step)."""
        return self.restores, self.step

    def clear_shared(self) -> None:
        """A fresh, empty :attr:`shared` of the same type: terms never see another update's data."""
        self.shared = type(self.shared)()

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
        self.begin(ctx)
        out: dict[str, Tensor] = {}
        for _ in range(self.repeat):
            out = self.update(ctx)
            self.end_update(ctx)
        ctx.clear_shared()
        return out

    # run() in three parts, so that a CUDA graph (engine/graphs.py) can capture the device work
    # of one update and leave the host bookkeeping around it.
    def begin(self, ctx: StepContext) -> None:
        """Host only: freeze the other networks and say which one is trained."""
        for name, other in ctx.nets.items():
            other.requires_grad_(name == self.net)  # no wasted gradients for the frozen nets
        ctx.training = self.net

    def update(self, ctx: StepContext) -> dict[str, Tensor]:
        """The device work of one update: terms, backward, optimiser step, after-update hooks."""
        optimizer = ctx.optimizers[self.net]
        ctx.clear_shared()
        total = None
        out: dict[str, Tensor] = {}
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
        if self.log_loss:
            out[f"loss_{self.name}"] = total.detach()
        return out

    def end_update(self, ctx: StepContext) -> None:
        """Host only: advance the network's schedule (learning rate, momentum) by one update."""
        ctx.schedules[self.net].after_update(ctx.epoch)

    def graph_key(self, ctx: StepContext) -> tuple:
        """The host values a captured update bakes in (the optimiser's hyperparameters as numbers)."""
        return optimizer_key(ctx.optimizers[self.net])


def optimizer_key(optimizer: torch.optim.Optimizer) -> tuple:
    """What a CUDA graph of ``optimizer.step()`` bakes in: the non-tensor hyperparameters (a float
    learning rate, momentum, betas) and which tensors it reads (a device learning rate, the state;
    a checkpoint load replaces them)."""
    groups = tuple(tuple((k, id(v) if torch.is_tensor(v) else v) for k, v in sorted(g.items()) if k != "params")
                   for g in optimizer.param_groups)
    return groups, tuple(id(t) for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t))


@dataclass
class EmaPhase:
    """Not an optimiser step: folds a network's new weights into its moving average after its update."""

    ema: EmaModel
    name: str
    every: int = 1

    repeat = 1

    def run(self, ctx: StepContext) -> dict[str, Tensor]:
        self.ema.update(ctx.step)
        return {}

    def begin(self, ctx: StepContext) -> None:
        """Nothing to set up on the host (the same parts as :class:`Phase`, for engine/graphs.py)."""

    def update(self, ctx: StepContext) -> dict[str, Tensor]:
        return self.run(ctx)

    def end_update(self, ctx: StepContext) -> None:
        """No schedule to advance."""

    def graph_key(self, ctx: StepContext) -> tuple:
        """The blend weight: it changes at ``ema.start``, and at every step of a ramp-up (``ema.rampup``),
        when the phase runs eagerly after a few captures (one batched kernel; the other phases stay captured)."""
        return (self.ema.beta_at(ctx.step),)
