"""A run's complete state as named components: what a checkpoint holds and how resume restores it.

Tensors: every network by name, every moving average (``G_ema``), every stateful objective
(``historical_D``), every optimiser (``optim_<network>``). JSON: the step, optimiser scalars,
schedules, each input stream's position (``real``, ``noise``), every process's RNG state, the
divergence guard, the best evaluation and what the networks were built for. Names, not
positions: a recipe with four networks is saved and resumed the same way as one with two,
and the layout of runs written before recipes existed is unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganforge.engine.build import Built
from ganforge.errors import GanforgeError
from ganforge.run_layout import CHECKPOINTS
from ganforge.runs import checkpoint
from ganforge.training import rng, seeds
from ganforge.training.distributed import World
from ganforge.engine.guard import DivergenceGuard
from ganforge.engine.stats_log import StatsAccumulator


def capture(built: Built, step: int, guard: DivergenceGuard, best: dict, rng_ranks: list[dict], world: World,
            stats_ranks: list[dict] | None = None) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """(tensor groups, JSON state) of the current step. ``stats_ranks``: each process's statistics since the
    last log line (:meth:`StatsAccumulator.state_dict`)."""
    parts = built.parts
    tensors = {name: net.state_dict() for name, net in built.nets.items()}
    for label, ema in built.emas.items():
        tensors[label] = ema.model.state_dict()
    for name, component in parts.stateful.items():
        tensors[name] = component.state_tensors()
    optim_meta = {}
    for name, opt in built.optimizers.items():
        tensors[f"optim_{name}"], optim_meta[name] = checkpoint.optimizer_tensors(opt)
    state = {
        "step": step,
        "epoch": parts.epochs_done(),
        "optimizers": optim_meta,
        "schedules": {k: s.state_dict() for k, s in built.schedules.items()},
        **{name: stream.state_dict() for name, stream in parts.streams.items()},
        "rng": rng_ranks[0],
        **({"rng_ranks": rng_ranks} if world.distributed else {}),
        "guard": guard.state_dict(),
        **({"stats": stats_ranks[0]} if stats_ranks else {}),
        **({"stats_ranks": stats_ranks} if stats_ranks and world.distributed else {}),
        "best": best,
        "net_context": built.record,
    }
    return tensors, state


def restore(built: Built, run_dir: Path, guard: DivergenceGuard, world: World, seed: int,
            stats: StatsAccumulator | None = None) -> tuple[Path, int, dict]:
    """Load the newest good checkpoint into ``built`` (and ``stats``: the statistics since the last log line):
    (its path, its step, the best evaluation)."""
    path, tensors, state = checkpoint.load_latest(run_dir / CHECKPOINTS)
    for label in built.emas:  # before anything is loaded
        if label not in tensors:
            raise GanforgeError(_not_in_checkpoint(path, label, EMA_ENABLED_BY))
    for label, component in built.parts.stateful.items():
        if label not in tensors:
            raise GanforgeError(_not_in_checkpoint(path, label, getattr(component, "enabled_by", CHANGED_CONFIG)))
    for name, net in built.nets.items():
        try:
            net.load_state_dict(tensors[name])
        except (KeyError, RuntimeError) as e:
            changed = data_change(state.get("net_context") or {}, built.record)
            if changed:  # the config is the run's own (resume checked it): the data are what moved
                raise GanforgeError(f"the training data changed since {run_dir} was trained: {changed} "
                                    f"({built.data.name}), so checkpoint {path} does not fit networks built for "
                                    f"them; restore the data as they were (e.g. rebuild the store at the old "
                                    f"size and channels) or train a new run") from None
            raise GanforgeError(f"checkpoint {path} does not fit the configured {name} "
                                f"({str(e).splitlines()[0]}); resume with the config the run was started "
                                f"with") from None
    for name, opt in built.optimizers.items():
        checkpoint.load_optimizer(opt, tensors.get(f"optim_{name}", {}), state["optimizers"][name])
    parts = built.parts
    for label, ema in built.emas.items():
        ema.model.load_state_dict(tensors[label])
    for name, component in parts.stateful.items():
        component.load_state_tensors(tensors[name])
    for name, stream in parts.streams.items():
        stream.load_state_dict(state[name])
    for name, sched in built.schedules.items():
        sched.load_state_dict(state["schedules"][name], epoch=parts.context.epoch)
    own = _rng_state_for_rank(state, world)
    if own is not None:
        rng.restore(own)
    else:  # a different number of processes: fresh, distinct streams for the extra ranks
        rng.seed_all(seeds.for_rank(seed, world.rank) + int(state["step"]))
    guard.load_state_dict(state.get("guard", {}))
    if stats is not None:
        stats.load_state_dict(_own(state, "stats", world), built.device)
    return path, int(state["step"]), dict(state.get("best", {}))


# What turns on a component whose state a checkpoint may lack: a moving average, and a stateful component that
# does not declare its config key (its class's ``enabled_by``, e.g. HistoricalAverage's "reg.historical").
EMA_ENABLED_BY = "ema.half_life_images / ema.beta"
CHANGED_CONFIG = "the changed config"


def _not_in_checkpoint(path: Path, label: str, key: str) -> str:
    """Why a component added on resume (``--allow-config-change``) is refused: it has no state to continue
    from. It is refused rather than started fresh, since a fresh moving average or statistic would silently
    mean something else than the run's (an EMA of the initial weights, ADA's p back at 0). ``key``: the
    config key that adds it."""
    return (f"checkpoint {path} holds no {label} state: the run was trained without it ({key} adds it), and it "
            f"cannot be added on resume; resume with the run's own {key}, or train a new run with it")


def _shape(shape: Any) -> str:
    return "x".join(map(str, shape)) if isinstance(shape, (list, tuple)) else str(shape)


def data_change(saved: dict[str, Any], now: dict[str, Any]) -> str:
    """How the data the networks are built for differ from those a checkpoint's were (its ``net_context``):
    "the sample shape changed from 3x32x32 to 3x16x16", or "" when they agree. This tells a rebuilt store
    (another resolution, channel count or class count) from an edited config when a checkpoint does not fit."""
    changes = []
    for key, what in (("data_shape", "the sample shape"), ("b_shape", "the second domain's sample shape")):
        if saved.get(key) is not None and now.get(key) is not None and list(saved[key]) != list(now[key]):
            changes.append(f"{what} changed from {_shape(saved[key])} to {_shape(now[key])}")
    if "num_classes" in saved and saved.get("num_classes") != now.get("num_classes"):
        changes.append(f"the number of classes changed from {saved.get('num_classes')} to {now.get('num_classes')}")
    return " and ".join(changes)


def _own(state: dict[str, Any], key: str, world: World) -> Any:
    """This process's entry of a per-process record (``key``, and ``key_ranks`` under torchrun); None when
    the checkpoint has none for it (saved by another number of processes, or before it was recorded)."""
    if world.rank == 0:
        return state.get(key)
    per_rank = state.get(f"{key}_ranks")
    return per_rank[world.rank] if per_rank and len(per_rank) == world.size else None


def _rng_state_for_rank(state: dict[str, Any], world: World) -> dict | None:
    """Each process's own global-RNG state (dropout, augmentation); None if the run was saved by a
    different number of processes and this rank has none."""
    per_rank = state.get("rng_ranks")
    if world.rank == 0:
        return state["rng"]
    if per_rank and len(per_rank) == world.size:
        return per_rank[world.rank]
    if world.rank == 1:  # say it once
        print(f"resuming with {world.size} processes a run saved with {len(per_rank or [None])}: the data "
              f"and noise continue exactly; dropout and augmentation draws do not", flush=True)
    return None
