"""A second recipe, written only against the engine's public pieces, to prove the engine is general.

CycleGAN's shape on 2-D points: two generators (A->B, B->A), two discriminators, unpaired
domains (A: ring8 points; B: the same ring rotated by 90 degrees, drawn from the other half of
the data so no pair is ever seen), and a cycle-consistency term. Four named networks, four
phases, two input streams, a moving average of G_AB: nothing in the engine names any of it.

Used as ``recipe: cycle_recipe:CycleRecipe`` (with this folder on PYTHONPATH), exactly as a
user's own recipe would be.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.config import OptimConfig, RunConfig
from ganforge.data import Dataset
from ganforge.recipes import DdpModule, Recipe, TrainingEnv, TrainingParts
from ganforge.training import seeds
from ganforge.training.batches import real_batches
from ganforge.training.shuffled import ShuffledBatches
from ganforge.training.phases import Phase, StepContext
from ganforge.figures.drawing import save_points_plot

CYCLE_WEIGHT = 10.0
ROTATE = torch.tensor([[0.0, -1.0], [1.0, 0.0]])  # B = A rotated by 90 degrees


def rotate(x: torch.Tensor) -> torch.Tensor:
    return x @ ROTATE.T.to(x.device)


def mlp(width: int = 32) -> nn.Module:
    return nn.Sequential(nn.Linear(2, width), nn.LeakyReLU(0.2), nn.Linear(width, width), nn.LeakyReLU(0.2),
                         nn.Linear(width, 2))


def critic(width: int = 32) -> nn.Module:
    return nn.Sequential(nn.Linear(2, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))


@dataclass
class CycleContext(StepContext):
    real_a: ShuffledBatches | None = None
    real_b: ShuffledBatches | None = None

    @property
    def epoch(self) -> int:
        return self.real_a.epoch

    def stream(self, domain: str) -> ShuffledBatches:
        return self.real_a if domain == "A" else self.real_b


def d_term(d: str, own: str, g: str, source: str, ctx: CycleContext):
    """D of domain ``own``: real points of its domain against G's translations from the other."""
    real, _ = ctx.stream(own).next()
    with torch.no_grad():
        fake = ctx.nets[g](ctx.stream(source).next()[0])
    D = ctx.forward_net(d)
    loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
    return loss, {}


def g_term(g: str, d: str, inverse: str, source: str, ctx: CycleContext):
    """Non-saturating adversarial loss through the target domain's D, plus the cycle back."""
    x, _ = ctx.stream(source).next()
    fake = ctx.forward_net(g)(x)
    adversarial = F.softplus(-ctx.nets[d](fake)).mean()
    cycle = (ctx.nets[inverse](fake) - x).abs().mean()
    return adversarial + CYCLE_WEIGHT * cycle, {f"cycle_{g}": cycle.detach()}


@dataclass
class CycleModel:
    cfg: RunConfig
    nets: dict[str, nn.Module]

    @property
    def generator(self) -> nn.Module:
        return self.nets["G_AB"]

    def sample_chunks(self, n: int, *, seed: int = 0, device: str | torch.device = "cpu",
                      batch_size: int = 1000) -> Iterator[tuple[np.ndarray, None]]:
        """Domain-A points drawn on the ring (a fresh draw per seed), translated to B."""
        gen = torch.Generator().manual_seed(seed)
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            angle = torch.randint(0, 8, (m,), generator=gen) * (2 * math.pi / 8)
            a = torch.stack([2 * angle.cos(), 2 * angle.sin()], 1) + 0.02 * torch.randn(m, 2, generator=gen)
            with torch.no_grad():
                yield self.generator(a.to(device)).float().cpu().numpy(), None


class CycleRecipe(Recipe):
    name = "cycle-test"
    description = "two generators, two discriminators, a cycle term (test recipe)"
    # Beyond the engine's keys (config/reads.py) it reads only the optimiser settings: any other key is refused,
    # and its config.yaml keeps these (an undeclared optim would be dropped there and the run resumed on defaults).
    reads = {"optim": {"g", "d"}}

    def rebuild(self, cfg: RunConfig, record: dict[str, Any]) -> dict[str, nn.Module]:
        return {"G_AB": mlp(), "G_BA": mlp(), "D_A": critic(), "D_B": critic()}

    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        return self.rebuild(cfg, {}), {"data_shape": list(data.shape), "kind": data.kind, "num_classes": None}

    def optimized(self, cfg: RunConfig) -> dict[str, OptimConfig]:
        return {"G_AB": cfg.optim.g, "G_BA": cfg.optim.g, "D_A": cfg.optim.d, "D_B": cfg.optim.d}

    def averaged(self) -> dict[str, str]:
        return {"G_AB": "G_AB_ema"}

    def model(self, cfg: RunConfig, record: dict[str, Any], nets: dict[str, nn.Module]) -> CycleModel:
        return CycleModel(cfg, nets)

    def training(self, env: TrainingEnv) -> TrainingParts:
        cfg, data, world = env.cfg, env.data, env.world
        half = len(data.x) // 2  # unpaired: A and B come from disjoint halves of the data
        real_a = real_batches(data.x[:half], None, cfg.train.batch_size, seed=seeds.stream(cfg.seed, 1),
                             device=env.device, output_range=None, rank=world.rank, world_size=world.size)
        real_b = real_batches(rotate(data.x[half:]), None, cfg.train.batch_size, seed=seeds.stream(cfg.seed, 11),
                             device=env.device, output_range=None, rank=world.rank, world_size=world.size)
        ctx = CycleContext(nets=env.nets, optimizers=env.optimizers, schedules=env.schedules, real_a=real_a,
                           real_b=real_b)
        phases = [Phase("D_A", "D_A", [partial(d_term, "D_A", "A", "G_BA", "B")]),
                  Phase("D_B", "D_B", [partial(d_term, "D_B", "B", "G_AB", "A")]),
                  Phase("G_AB", "G_AB", [partial(g_term, "G_AB", "D_B", "G_BA", "A")]),
                  Phase("G_BA", "G_BA", [partial(g_term, "G_BA", "D_A", "G_AB", "B")])]
        fixed = data.x[:64].to(env.device)

        def save_preview(nets: dict[str, nn.Module], path: Path, step: int) -> Path:
            with torch.no_grad():
                out = nets["G_AB"](fixed).cpu().numpy()
            return save_points_plot(out, path, title=f"G_AB, step {step}")

        return TrainingParts(context=ctx, phases=phases, streams={"real_a": real_a, "real_b": real_b},
                             epochs_done=lambda: real_a.epochs_done, save_preview=save_preview,
                             ddp=lambda: {name: DdpModule(net) for name, net in env.nets.items()})
