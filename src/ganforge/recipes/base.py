"""What a recipe is: the shape of a model, as the engine and the run loader need it.

A recipe names the networks a run has (any number), which of them are trained with which
optimiser settings, which get a moving average, the phases of one training step, and what
sampling means for the trained model (noise to image, image to image, ...). The engine
(:mod:`ganforge.engine`) runs any recipe without naming one: it builds what the recipe asks
for, runs the phases, checkpoints every named component and resumes them exactly.

Two halves, so that loading a finished run never needs the training machinery's state:

- :meth:`Recipe.networks`, :meth:`Recipe.optimized`, :meth:`Recipe.averaged` and
  :meth:`Recipe.training`: what the engine builds, in that order;
- :meth:`Recipe.model`: the trained model that samples (or translates, or scores), made
  from networks either live in training (for previews and evaluation) or loaded from a
  checkpoint by :meth:`Recipe.trained`.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ganforge.config import OptimConfig, RunConfig
from ganforge.config import reads as config_reads
from ganforge.data import Dataset
from ganforge.data.anomaly_protocols import is_protocol
from ganforge.errors import CheckpointError, ConfigError
from ganforge.training.distributed import World
from ganforge.training.monitor import no_monitor
from ganforge.training.phases import Phase, StepContext


class Stream(Protocol):
    """A source of training inputs whose position checkpoints keep (real batches, noise)."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class TrainedModel(Protocol):
    """What a finished run can do; every recipe's model has its networks and draws samples."""

    nets: dict[str, nn.Module]

    @property
    def generator(self) -> nn.Module: ...

    def sample_chunks(self, n: int, *, seed: int = 0, device: str | torch.device = "cpu",
                      **options: Any) -> Iterator[tuple[np.ndarray, np.ndarray | None]]: ...


@dataclass
class TrainingEnv:
    """What the engine has built when it asks the recipe for its training parts."""

    cfg: RunConfig
    data: Dataset
    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedules: dict[str, Any]
    device: torch.device
    world: World
    local_batch: int
    channels_last: bool = False


@dataclass
class DdpModule:
    """The module DDP wraps for one network (its forward as the phases call it)."""

    module: nn.Module
    find_unused: bool = False


@dataclass
class TrainingParts:
    """A recipe's answer to :meth:`Recipe.training`."""

    context: StepContext
    phases: list[Phase]
    streams: dict[str, Stream]  # checkpointed by name (state["real"], state["noise"], ...)
    epochs_done: Callable[[], float]  # for the log and the checkpoint
    save_preview: Callable[[dict[str, nn.Module], Path, int], Path]  # (sampling nets, path, step) -> picture
    stateful: dict[str, Any] = field(default_factory=dict)  # checkpointed by name: state_tensors()/load_state_tensors()
    ddp: Callable[[], dict[str, DdpModule]] = dict  # what DDP wraps, by network name
    compile_targets: list[tuple[str, str]] | None = None  # (network, method) pairs for speed.compile
    reseed: Callable[[int], None] = lambda seed: None  # fresh input streams from a base seed (after a rollback)
    # The collapse monitor (training/monitor.py): (sampling nets, judge or None) -> figures for the log;
    # none without a G(z).
    monitor: Callable[..., dict[str, float]] = no_monitor
    # Figures a record states as they are when it is written (the privacy accountant's epsilon), not a mean
    # of the interval's steps as the terms' statistics are.
    log_figures: Callable[[], dict[str, float]] = dict


class Recipe(abc.ABC):
    """A kind of model. Subclasses are registered by name in :mod:`ganforge.recipes`."""

    name: str = ""
    description: str = ""
    # What a user runs next on a finished run ({run}: its directory), printed by ``ganforge train``.
    next_command: str = "ganforge sample {run} --n 1000 --out samples.npy"
    # The command that measures a finished run ({run}: its directory), or None when ``ganforge eval``
    # does: eval's metrics (FID, Parzen, modes...) score samples drawn from noise, so a model that maps
    # inputs to outputs (translation, super-resolution) or scores images (GANomaly) names its own, and
    # ``ganforge eval`` refuses it with that command rather than report numbers that measure nothing.
    eval_command: str | None = None
    # The config keys this recipe reads beyond the engine's own, {section: {key, ...}}, built from the
    # groups in ganforge.config.reads (MONITOR, D_COLLAPSE, every(section), union, minus). A preset or
    # --set that states any other key is refused in one line, config.yaml keeps only what is read, and
    # `ganforge train --dry-run` prints only that. A key counts as read when some code path of the recipe
    # uses its value, even if only under a condition (reg.r1_every when reg.r1 > 0). See config/reads.py.
    reads: Mapping[str, Iterable[str]] = {}

    def config_reads(self) -> dict[str, frozenset[str]]:
        """Every config key a run of this recipe reads: the engine's (with in-training evaluation when
        ``ganforge eval`` measures this recipe's samples, and the moving average when it keeps one) and
        its own :attr:`reads`."""
        return config_reads.union(config_reads.ENGINE, self.reads,
                                  config_reads.SAMPLED_EVAL if self.eval_command is None else {},
                                  config_reads.MOVING_AVERAGE if self.averaged() else {})

    @abc.abstractmethod
    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        """Every network, built (on the CPU) in a fixed order, and the facts about the data they were
        built for (saved in checkpoints as ``net_context`` and given back to :meth:`trained`)."""

    @abc.abstractmethod
    def optimized(self, cfg: RunConfig) -> dict[str, OptimConfig]:
        """The networks that are trained, each with its optimiser settings, in creation order."""

    def averaged(self) -> dict[str, str]:
        """{network: checkpoint name of its moving average}: kept when ``ema.half_life_images`` or
        ``ema.beta`` is set."""
        return {}

    @abc.abstractmethod
    def training(self, env: TrainingEnv) -> TrainingParts:
        """The step context, phases and streams of one training run."""

    @abc.abstractmethod
    def model(self, cfg: RunConfig, record: dict[str, Any], nets: dict[str, nn.Module]) -> TrainedModel:
        """The trained model over ``nets`` (moving averages already substituted where kept)."""

    def default_metrics(self) -> list[str] | None:
        """Metric names to measure when the user names none (None: the dataset's default set)."""
        return None

    def trained(self, cfg: RunConfig, state: dict[str, Any], tensors: dict[str, dict[str, torch.Tensor]],
                device: torch.device) -> TrainedModel:
        """The model of a checkpoint: networks rebuilt from the record, weights loaded (a moving
        average in place of its network when the checkpoint has one), eval mode, on ``device``."""
        record = dict(state.get("net_context") or {})
        nets = self.rebuild(cfg, record)
        averaged = self.averaged()
        for name, net in nets.items():
            weights = averaged.get(name, name)
            weights = weights if weights in tensors else name  # the moving average samples better when kept
            if weights not in tensors:
                raise CheckpointError(f"has no weights for network {name}; was the config edited after training?")
            try:
                net.load_state_dict(tensors[weights])
            except RuntimeError as e:
                raise CheckpointError(f"does not fit the network {name} described by the run's config.yaml "
                                      f"({_misfit(net, tensors[weights]) or str(e).splitlines()[0]}); was the "
                                      f"config edited after training, or the run made by a ganforge whose "
                                      f"{name} differs (the run's options.json records its versions and git commit)?"
                                      ) from None
            net.to(device).eval()
        return self.model(cfg, record, nets)

    @abc.abstractmethod
    def rebuild(self, cfg: RunConfig, record: dict[str, Any]) -> dict[str, nn.Module]:
        """The networks a checkpoint holds, built from the config and the saved record (no data needed)."""


def _misfit(net: nn.Module, tensors: dict[str, torch.Tensor]) -> str:
    """The first way a checkpoint's tensors differ from a net's: a key it lacks, one it has extra, a shape."""
    want = net.state_dict()
    lacks, extra = sorted(set(want) - set(tensors)), sorted(set(tensors) - set(want))
    shapes = [k for k in want if k in tensors and tuple(want[k].shape) != tuple(tensors[k].shape)]
    parts = []
    if lacks:
        parts.append(f"it lacks {lacks[0]}" + (f" and {len(lacks) - 1} more" if len(lacks) > 1 else ""))
    if extra:
        parts.append(f"it holds {extra[0]}, which the network has no place for"
                     + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""))
    if shapes:
        k = shapes[0]
        parts.append(f"{k} is {tuple(tensors[k].shape)} there and {tuple(want[k].shape)} here")
    return "; ".join(parts)


def measured_elsewhere(recipe: Recipe, data_name: str, run_dir: str | Path) -> tuple[str, str] | None:
    """Why the noise-sample metrics (``ganforge eval``, and ``eval.every`` in training) do not measure a run,
    and the command that does; None when they do. One answer for both places that ask, so that they
    cannot drift apart: a recipe whose model does not draw from noise, or scores rather than draws, names
    its ``eval_command``; a plain GAN trained on an anomaly protocol (AnoGAN) would be measured against a
    test split that is mostly anomalies, so ``anomaly eval`` measures it."""
    if recipe.eval_command is not None:
        return f"{run_dir} is a {recipe.name} run", recipe.eval_command.format(run=run_dir)
    if is_protocol(data_name):
        return (f"{run_dir} was trained on the anomaly protocol {data_name}, whose test split is mostly anomalies, "
                f"so sample quality against it means nothing"), f"ganforge anomaly eval {run_dir}"
    return None


def refuse_distributed(env: TrainingEnv, recipe: str, why: str = "", fix: str = "run it without torchrun") -> None:
    """One line, before training starts, when a recipe that trains in one process only is run under torchrun
    (``recipe``: how the message names it; ``why``: what ties it to one process, in brackets after the claim)."""
    if env.world.distributed:
        reason = f" ({why})" if why else ""
        raise ConfigError(f"{recipe} runs in one process{reason}; {fix}")


@contextlib.contextmanager
def eval_mode(nets: dict[str, nn.Module]) -> Iterator[dict[str, nn.Module]]:
    """The networks in eval mode for the duration (batch norm statistics, dropout), then as they were."""
    modes = {name: net.training for name, net in nets.items()}
    for net in nets.values():
        net.eval()
    try:
        yield nets
    finally:
        for name, net in nets.items():
            net.train(modes[name])
