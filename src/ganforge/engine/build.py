"""Building a run from its config: data, the recipe's networks, optimisers, phases, speed switches.

The order below is part of what a seed reproduces (networks draw their initial weights from
the global generator in the order the recipe builds them), so it is kept in one place and
never depends on the recipe's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganforge.config import RunConfig
from ganforge.data import Dataset, load_dataset
from ganforge.data.registry import run_data_options
from ganforge.devices import parse_device
from ganforge.errors import ConfigError
from ganforge.recipes import Recipe, TrainingEnv, TrainingParts
from ganforge.engine import graphs
from ganforge.training import distributed, rng, seeds, speed
from ganforge.training.distributed import World
from ganforge.training.ema import EmaModel, EmaSchedule
from ganforge.training.phases import EmaPhase, Phase
from ganforge.training.schedules import OptimSchedule, make_optimizer


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return parse_device(name, option="train.device", names="auto, cpu, cuda or cuda:N",
                        no_cuda_fix="train.device=auto or cpu", error=ConfigError)


@dataclass
class Built:
    """Everything a run trains with; the engine's modules read it by these names."""

    device: torch.device
    data: Dataset
    record: dict[str, Any]  # what the networks were built for (checkpoints keep it as net_context)
    speed: speed.SpeedPlan
    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedules: dict[str, OptimSchedule]
    parts: TrainingParts
    emas: dict[str, EmaModel]  # by checkpoint name, e.g. "G_ema"
    averaged: dict[str, str]  # network -> checkpoint name of its moving average
    phases: list[Phase | EmaPhase | graphs.GraphedPhase] = field(default_factory=list)
    compiled: list[Any] = field(default_factory=list)

    def ema_record(self, step: int) -> dict[str, float]:
        """For the log: the blend weight the moving averages used at ``step`` (one schedule for all), so a
        ramp-up can be seen; nothing when the run keeps none."""
        return {"ema_beta": next(iter(self.emas.values())).beta_at(step)} if self.emas else {}

    def sampling_nets(self) -> dict[str, nn.Module]:
        """The networks with their moving averages in their place, as samples should come from."""
        return {name: self.emas[self.averaged[name]].model if self.averaged.get(name) in self.emas else net
                for name, net in self.nets.items()}


def _check_augment_applies(cfg: RunConfig, data: Dataset) -> None:
    """Augmentation transforms images; on points it was skipped without a word (objectives/augment.py
    leaves anything that is not (N, C, H, W) alone), which a config that refuses what it will not read
    must not do. The data's kind is known only once it is loaded, so this is the first place to say it."""
    a = cfg.augment
    given = [f"augment.{k}" for k, on in (("policy", bool(a.policy)), ("ada_target", a.ada_target is not None)) if on]
    if given and data.kind != "image":
        raise ConfigError(f"{given[0]} augments images, and '{cfg.data.name}' is {data.kind} data; remove it "
                          f"(--set {given[0]}={'' if given[0].endswith('policy') else 'null'})")


def initial_networks(cfg: RunConfig, recipe: Recipe, data_dir: str | None = None
                     ) -> tuple[Dataset, dict[str, nn.Module], dict[str, Any]]:
    """The run's training data and its networks (on the CPU) exactly as its training starts them: the run
    seed, then the data, then the recipe's ``networks()`` (a weight-norm D's data-dependent init included).
    The one place: :func:`build` and benchmarks/linear_probe.py's "D at step 0" both read it (the probe
    once rebuilt D its own way and left that init out)."""
    rng.seed_all(cfg.seed)  # the same on every process: the networks start identical
    data = load_dataset(cfg.data.name, split=cfg.data.split, data_dir=data_dir,
                        **run_data_options(cfg.data, cfg.seed))
    _check_augment_applies(cfg, data)
    nets, record = recipe.networks(cfg, data)
    return data, nets, record


def build(cfg: RunConfig, recipe: Recipe, world: World, data_dir: str | None) -> Built:
    device = distributed.device_for(world, pick_device(cfg.train.device))
    local_batch = distributed.local_batch(world, cfg.train.batch_size)
    data, nets, record = initial_networks(cfg, recipe, data_dir)
    speed.check_forced(cfg.speed, device, data.kind, cfg.data.name)
    plan = speed.plan(cfg.speed, device, data.kind == "image")
    speed.apply_backend_flags(plan)  # CUDA-wide settings: nothing the CPU-built networks above depend on
    nets = {name: net.to(device).train() for name, net in nets.items()}
    plan = speed.choose_precision(plan, cfg.speed, nets)
    if cfg.train.sync_batchnorm:
        distributed.sync_batchnorm(nets, device)
    if world.rank > 0:
        rng.seed_all(seeds.for_rank(cfg.seed, world.rank))  # the processes' dropout masks differ
    optimized = recipe.optimized(cfg)
    optimizers = {name: make_optimizer(nets[name].parameters(), o, plan.optimizer) for name, o in optimized.items()}
    schedules = {name: OptimSchedule(opt, optimized[name]) for name, opt in optimizers.items()}
    parts = recipe.training(TrainingEnv(cfg, data, nets, optimizers, schedules, device, world, local_batch,
                                        channels_last=plan.channels_last))
    ema_schedule = EmaSchedule.from_config(cfg.ema, cfg.train.batch_size)  # the global batch: images seen by all ranks
    averaged = recipe.averaged() if ema_schedule is not None else {}
    emas = {label: EmaModel(nets[name], ema_schedule) for name, label in averaged.items()}
    phases = [*parts.phases, *(EmaPhase(ema, name=label) for label, ema in emas.items())]
    # After the moving-average and historical copies are taken: compiled methods cannot be deep-copied.
    compiled = speed.prepare_nets(nets, plan, parts.compile_targets)
    parts.context.autocast = lambda: speed.autocast(plan, device)
    if world.distributed:
        parts.context.ddp = {name: distributed.wrap(m.module, device, find_unused=m.find_unused)
                             for name, m in parts.ddp().items()}
    phases = graphs.wrap(phases, parts.context, parts.streams, plan, device)
    return Built(device, data, record, plan, nets, optimizers, schedules, parts, emas, dict(averaged), phases, compiled)
