"""What a run shows while it trains: sample grids, evaluations (keeping the best checkpoint), the collapse
monitor's figures, checkpoints.

All of it happens between steps and on the first process only (the others wait where a
collective requires), through the recipe's sampling networks (moving averages in place)
in eval mode, under a forked RNG so that measuring never changes the training run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch

from ganforge.config import RunConfig
from ganforge.data.registry import evaluator_data_options
from ganforge.engine import state
from ganforge.errors import ConfigError
from ganforge.metrics import Evaluator
from ganforge.metrics.judges import Judge, default_judge, load_judge
from ganforge.recipes import eval_mode
from ganforge.recipes.base import Recipe, measured_elsewhere
from ganforge.run_layout import CHECKPOINTS, SAMPLES
from ganforge.runs import checkpoint
from ganforge.sampling import collect
from ganforge.training import rng
from ganforge.engine.guard import nonfinite_weights


def check_in_training_eval(cfg: RunConfig, recipe: Recipe, run_dir: Path) -> None:
    """Refuse ``eval.every`` for a run that ``ganforge eval`` refuses too (:func:`measured_elsewhere`, which
    both ask): for an anomaly protocol the figure would also choose ``checkpoints/best`` on test images
    that ``anomaly eval`` then reports."""
    if cfg.eval.every <= 0:
        return
    refusal = measured_elsewhere(recipe, cfg.data.name, run_dir)
    if refusal is not None:
        why, command = refusal
        raise ConfigError(f"eval.every scores samples drawn from noise (and keeps checkpoints/best by that score), "
                          f"which does not measure this run: {why}; set eval.every=0 and measure the run after "
                          f"training with `{command}`")


def make_evaluator(trainer, data_dir: str | None) -> Evaluator | None:
    c = trainer.cfg
    if c.eval.every <= 0:
        return None
    return in_training_evaluator(c, trainer.recipe, data_dir, trainer.built.device)


def in_training_evaluator(c: RunConfig, recipe: Recipe, data_dir: str | None,
                          device: torch.device | str = "cpu") -> Evaluator:
    """The evaluator of ``eval.every``, whose metrics choose checkpoints/best (``selecting``: never on the
    test split); built by the run, and by ``train --dry-run`` to check the names before a run starts."""
    return Evaluator(c.data.name, c.eval.metrics or recipe.default_metrics(), n=c.eval.n, data_dir=data_dir,
                     seed=c.seed, device=device, selecting=True, data_options=evaluator_data_options(c.data))


@contextlib.contextmanager
def measuring(built) -> Iterator[dict[str, torch.nn.Module]]:
    """The sampling networks in eval mode under a forked RNG: whatever a preview, an evaluation or the
    monitor draws, the training run after it is the same as without it."""
    rng_devices = [built.device] if built.device.type == "cuda" else []
    with eval_mode(built.sampling_nets()) as nets, torch.random.fork_rng(devices=rng_devices):
        yield nets


def save_samples(trainer) -> Path | None:
    if not trainer.world.is_main:
        return None
    path = trainer.run_dir / SAMPLES / f"step-{trainer.step:07d}.png"
    with measuring(trainer.built) as nets:
        return trainer.built.parts.save_preview(nets, path, trainer.step)


def evaluate(trainer) -> dict[str, float] | None:
    """Measure the sampling networks now; log the values and keep the best checkpoint. None if the weights
    had turned NaN/inf and the guard rolled back instead: between log steps (``eval.every`` not a multiple
    of ``log.every``) the guard has not looked yet, and scoring NaN samples would log and keep nonsense.
    (The check reads the weights only: no RNG is drawn, so a healthy run is unchanged.)"""
    built, cfg, evaluator = trainer.built, trainer.cfg, trainer.evaluator
    broken = nonfinite_weights(built.nets)
    if broken:
        trainer.diverged(f"the weights of {' and '.join(broken)} became NaN/inf")
        return None
    values: dict[str, float] = {}
    if trainer.world.is_main:  # one process measures; the others wait for its figures
        with measuring(built) as nets:
            model = trainer.recipe.model(cfg, built.record, nets)
            values = evaluator(lambda n: collect(model.sample_chunks(n, seed=cfg.seed, device=built.device)))
    values = trainer.world.broadcast(values)
    trainer.writer.write({"step": trainer.step, **{f"eval/{k}": v for k, v in values.items()}})
    key = evaluator.primary
    if key is not None and key in values:
        higher = evaluator.directions[key] == "higher"
        value, best = values[key], trainer.best
        if not best or (value > best["value"] if higher else value < best["value"]):
            trainer.best = {"key": key, "value": value, "step": trainer.step}
            if save_checkpoint(trainer, label="best") is None:
                return None  # rolled back instead (the weights turned NaN): nothing was kept
            trainer.writer.message(f"step {trainer.step}: best {key} so far ({value:.4g}), kept in checkpoints/best")
    return values


def make_monitor_judge(trainer, data_dir: str | None) -> Judge | None:
    """With ``log.diversity_judge``: the dataset's judge for the collapse monitor (trained on first use), or
    None with one line saying why not (no judge for this dataset, or not at its resolution)."""
    c, data = trainer.cfg, trainer.built.data
    if not (c.log.diversity_judge and c.log.diversity_n and trainer.world.is_main):
        return None
    name = default_judge(c.data.name)
    judge = load_judge(name, data_dir, log_fn=print, device=trainer.built.device) if name else None
    fits = judge is not None and data.kind == "image" and (
        judge.input_shape is None or tuple(judge.input_shape[1:]) == tuple(data.shape[1:]))
    if not fits:
        print(f"log.diversity_judge: no judge reads {c.data.name} at {'x'.join(map(str, data.shape[1:]))}; "
              f"only diversity_dfeat is logged", flush=True)
        return None
    return judge


def monitor(trainer) -> dict[str, float]:
    """The recipe's collapse monitor now (:mod:`ganforge.training.monitor`; {} for a recipe without a G(z)),
    measured on the first process and shared, with a warning line the moment it reads a collapse."""
    built = trainer.built
    values: dict[str, float] = {}
    if trainer.world.is_main:
        with measuring(built) as nets:
            values = built.parts.monitor(nets, trainer.monitor_judge)
    values = trainer.world.broadcast(values)
    warning = trainer.guard.diversity_warning(values, trainer.step)
    if warning is not None:
        trainer.writer.event(trainer.step, "collapse_warning", warning)
    return values


def save_checkpoint(trainer, label: str | None = None) -> Path | None:
    """Write a checkpoint of the current step; None if the guard rolled back instead (NaN weights)."""
    broken = nonfinite_weights(trainer.built.nets)
    if broken:
        trainer.diverged(f"the weights of {' and '.join(broken)} became NaN/inf")
        return None
    world = trainer.world
    rng_ranks = world.gather(rng.capture())  # a collective: every process reaches this line
    stats_ranks = world.gather(trainer.stats.state_dict())  # the same: each process's sums since the last log
    if not world.is_main:
        world.barrier()  # wait until rank 0 has written it (a rollback may read it next)
        return trainer.run_dir / CHECKPOINTS
    tensors, saved = state.capture(trainer.built, trainer.step, trainer.guard, trainer.best, rng_ranks, world,
                                  stats_ranks)
    if label == "best":  # said inside it, so that a copy under another name is still known as eval's choice
        saved[checkpoint.CHOSEN_BY_EVAL] = dict(trainer.best)
    try:
        return checkpoint.save(trainer.run_dir / CHECKPOINTS, trainer.step, tensors, saved,
                               keep=trainer.cfg.log.keep_checkpoints, name=label)
    finally:
        world.barrier()
