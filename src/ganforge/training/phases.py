"""The training loop's unit of work: a phase updates one network from a sum of loss terms.

Algorithm 1 of the 2014 paper is two phases: "D, k times" then "G". Later
variants (a WGAN critic every step, an R1 penalty every 16 steps, ...) are more
phases or more terms, chosen from the config by :func:`build_phases`; the loop
itself never learns a variant's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ganforge import losses
from ganforge.config import RunConfig
from ganforge.training.sampler import Noise, RealBatches
from ganforge.training.schedules import OptimSchedule

Tensor = torch.Tensor


@dataclass
class Context:
    """Everything a loss term may use during one step."""

    nets: dict[str, nn.Module]  # "G", "D"
    optimizers: dict[str, torch.optim.Optimizer]
    schedules: dict[str, OptimSchedule]
    real: RealBatches
    noise: Noise
    batch_size: int
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]


# A term returns the scalar to minimise and detached statistics to log.
Term = Callable[[Context], tuple[Tensor, dict[str, Tensor]]]


def d_adversarial(ctx: Context) -> tuple[Tensor, dict[str, Tensor]]:
    """D's objective on a fresh real minibatch and a fresh generated one."""
    G, D = ctx.nets["G"], ctx.nets["D"]
    real, _ = ctx.real.next()
    with torch.no_grad():
        fake = G(ctx.noise(ctx.batch_size))
    real_logits, fake_logits = D(real), D(fake)
    loss = ctx.d_loss(real_logits, fake_logits)
    return loss, {"D_real": torch.sigmoid(real_logits.detach()).mean(),
                  "D_fake": torch.sigmoid(fake_logits.detach()).mean()}


def g_adversarial(ctx: Context) -> tuple[Tensor, dict[str, Tensor]]:
    """G's objective: how D judges a fresh batch of samples, gradients through D into G."""
    fake_logits = ctx.nets["D"](ctx.nets["G"](ctx.noise(ctx.batch_size)))
    return ctx.g_loss(fake_logits), {}


@dataclass
class Phase:
    """Update network ``net`` ``repeat`` times, every ``every`` steps, on the sum of ``terms``."""

    name: str
    net: str
    terms: list[Term]
    repeat: int = 1
    every: int = 1
    stats: dict[str, Tensor] = field(default_factory=dict, repr=False)

    def run(self, ctx: Context) -> dict[str, Tensor]:
        """Returns the last repeat's loss and statistics (detached, still on the device)."""
        optimizer = ctx.optimizers[self.net]
        for name, other in ctx.nets.items():
            other.requires_grad_(name == self.net)  # no wasted gradients for the frozen net
        out: dict[str, Tensor] = {}
        for _ in range(self.repeat):
            total = None
            out = {}
            for term in self.terms:
                loss, stats = term(ctx)
                total = loss if total is None else total + loss
                out.update(stats)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            ctx.schedules[self.net].after_update(ctx.real.epoch)
            out[f"loss_{self.name}"] = total.detach()
        return out


def build_phases(cfg: RunConfig) -> list[Phase]:
    """Algorithm 1: k discriminator updates, then one generator update, every step."""
    return [
        Phase("D", "D", [d_adversarial], repeat=cfg.train.d_steps),
        Phase("G", "G", [g_adversarial]),
    ]


def loss_functions(cfg: RunConfig) -> tuple[Callable, Callable]:
    return losses.D_LOSSES[cfg.loss.d], losses.G_LOSSES[cfg.loss.g]
