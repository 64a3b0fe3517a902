"""ganforge from Python: train, open and measure runs from a notebook or a script.

``ganforge train`` and ``ganforge eval`` are thin shells over these three functions::

    import ganforge
    run = ganforge.train("gan2014-digits", out="runs/demo", steps=2000, optim__d__lr=5e-4)
    images = run.sample(64, seed=1)                    # uint8 (64, 1, 8, 8)
    values = ganforge.evaluate(run, metrics="fid,pr")  # {"fid10k_test_lenet8": ..., ...}
    same = ganforge.load_run("runs/demo", checkpoint="latest")

Overrides are config keys with ``__`` for the dots (``train__batch_size=32``) or a list of
``"key=value"`` strings (``set=["train.batch_size=32"]``), as ``--set`` takes them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ganforge import config, memory, outputs, presets, progress, recipes
from ganforge.config import RunConfig
from ganforge.data.registry import evaluator_data_options
from ganforge.engine import periodic, resume_checks
from ganforge.engine.loop import Trainer, TrainResult
from ganforge.errors import GanforgeError, WrongCommandError, warn
from ganforge.metrics.evaluation import Evaluator, Log, Report, as_numpy, evaluate as evaluate_samples, write_report
from ganforge.metrics.registry import bytes_per_sample
from ganforge.recipes.base import measured_elsewhere
from ganforge.run_layout import eval_report
from ganforge.runs import rundir
from ganforge.runs.lock import LOCK_NAME, RunLock, check_unlocked, exchange
from ganforge.runs.rundir import read_config
from ganforge.runs.run import Run, load_run
from ganforge.sampling import collect
from ganforge.training import distributed
from ganforge.training.distributed import World

RUNS_ROOT = Path("runs")


def resolve_config(preset_or_config: str | os.PathLike | dict | RunConfig | None = None,
                   overrides: list[str] | tuple[str, ...] = (), **keys: Any) -> tuple[RunConfig, str]:
    """(the validated config, a label for the run directory) from a preset name, a YAML file, a dict
    of differences or a RunConfig, plus overrides (``"a.b=v"`` strings, or ``a__b=v`` keywords)."""
    items = list(overrides) + [f"{k.replace('__', '.')}={_yaml_value(v)}" for k, v in keys.items()]
    # A key the chosen recipe never reads is refused, whichever layer states it (config/reads.py); a
    # RunConfig states the keys whose values differ from the defaults.
    if isinstance(preset_or_config, RunConfig):
        return config.resolve(config.differences(preset_or_config), items, reads=recipes.reads_of,
                              preset_label="the RunConfig"), "run"
    if isinstance(preset_or_config, dict):
        return config.resolve(preset_or_config, items, reads=recipes.reads_of, preset_label="the config dict"), "run"
    name = str(preset_or_config) if preset_or_config is not None else presets.DEFAULT_PRESET
    preset, _ = presets.load_preset(name)
    return config.resolve(preset, items, reads=recipes.reads_of, preset_label=f"preset {name}"), Path(name).stem


def _yaml_value(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def run_directory(out: str | os.PathLike | None, label: str, resume: bool) -> Path:
    """``out``, or the newest run of ``label`` under runs/ (resume), or the next numbered one."""
    if out is not None:
        return Path(out)
    if resume:
        found = rundir.latest_run_dir(RUNS_ROOT, label)
        if found is None:
            raise GanforgeError(f"--resume found no run of '{label}' under {RUNS_ROOT}/; "
                                f"pass --out RUN_DIR to name the run to continue")
        return found
    return rundir.next_run_dir(RUNS_ROOT, label)


@contextlib.contextmanager
def claimed(run_dir: Path, world: World = distributed.SINGLE) -> Iterator[RunLock | None]:
    """``run_dir``, created if needed and locked for the duration by rank 0 (the one process that writes
    it): a second trainer there is refused in one line naming the first. A run that never started
    leaves no empty directory behind. Yields the lock (None on the other ranks)."""
    check_is_directory(run_dir)
    created = not run_dir.exists()
    lock = _lock(run_dir) if world.is_main else None
    try:
        yield lock
    finally:
        if lock is not None:
            lock.release()
            if created and run_dir.is_dir() and not any(run_dir.iterdir()):
                run_dir.rmdir()


def check_is_directory(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise GanforgeError(f"--out {run_dir} is a file, not a directory; choose another --out")


def _lock(run_dir: Path) -> RunLock:
    """Create the run directory if needed and hold its lock, or refuse in one line (another process
    trains there; the place cannot be written)."""
    outputs.check_dir_writable(run_dir, flag="--out")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanforgeError(outputs.describe_os_error(exc, run_dir, "--out")) from None
    lock = RunLock(run_dir).acquire()
    if lock.stale_owner is not None:
        print(f"ganforge: note: {run_dir} was locked by process {lock.stale_owner['pid']}, which is no longer "
              f"running; taking the lock over", file=sys.stderr)
    return lock


def check_resume(run_dir: Path, *, resume: bool, force: bool) -> None:
    """``--resume`` needs a run to continue, and is not ``--force`` (which would replace that run)."""
    if resume and force:
        raise GanforgeError(f"--resume continues the run in {run_dir} and --force deletes it to start over; give "
                            f"one of them")
    if resume and not (run_dir / rundir.CONFIG).exists():
        raise GanforgeError(f"cannot resume {run_dir}: it is not a run directory (no {rundir.CONFIG}); "
                            f"start a new run without --resume")


def _occupied(run_dir: Path, resume: bool) -> bool:
    """A new run's directory already holds something (the caller's own lock file aside)."""
    return not resume and run_dir.exists() and any(p.name != LOCK_NAME for p in run_dir.iterdir())


def check_replace(run_dir: Path, force: bool) -> None:
    """An occupied directory is refused, or with ``force`` accepted only when it is a ganforge run."""
    if not force:
        hint = ("pass --resume to continue that run, --force to delete it and start over, or another --out"
                if rundir.is_run_directory(run_dir) else
                "it is not a ganforge run, so choose another --out (or empty it yourself)")
        raise GanforgeError(f"output directory {run_dir} already exists and is not empty; {hint}")
    rundir.check_replaceable(run_dir)  # --force deletes nothing but a ganforge run


def check_start(cfg: RunConfig, run_dir: Path, *, resume: bool, force: bool, allow_config_change: bool,
                data_dir: str | None = None) -> None:
    """Everything :func:`start` and the resume checks refuse that needs no networks, touching nothing: what
    ``train --dry-run`` checks, so a dry run that passes is a run that starts. (In-training eval's metric
    names are resolved against the dataset, which loads its reference split.)"""
    check_resume(run_dir, resume=resume, force=force)
    check_is_directory(run_dir)
    if run_dir.is_dir():
        check_unlocked(run_dir)  # without taking the lock: a dry run changes nothing
    if _occupied(run_dir, resume):
        check_replace(run_dir, force)
        _SetAside.check_free(run_dir)
    if resume:
        resume_checks.check_config(run_dir, cfg, allow_config_change)
        resume_checks.check_checkpoint(run_dir, cfg)
    if cfg.eval.every > 0:
        recipe = recipes.get(cfg.recipe)
        periodic.check_in_training_eval(cfg, recipe, run_dir)
        periodic.in_training_evaluator(cfg, recipe, data_dir)


def start(cfg: RunConfig, run_dir: Path, *, resume: bool = False, force: bool = False, world: World = distributed.SINGLE,
          lock: RunLock | None = None, **trainer_options: Any) -> Trainer:
    """A Trainer for ``run_dir``, refusing (or, with ``force``, setting aside) a non-empty directory.

    The old contents are set aside, not deleted, until the new run has started: a bad config or
    dataset must not cost the user the old run. ``run_dir`` stays locked throughout (a fresh directory,
    locked before it takes the old one's place), so a second ``train --out`` there is refused while this
    one builds; the old run is deleted only once the new one holds the lock, and put back otherwise.
    """
    check_resume(run_dir, resume=resume, force=force)
    aside = None
    occupied = world.broadcast(_occupied(run_dir, resume))
    if occupied and world.is_main:
        check_replace(run_dir, force)
        aside = _SetAside(run_dir, lock)
    try:
        world.barrier()
        trainer = Trainer(cfg, run_dir, resume=resume, world=world, **trainer_options)
    except BaseException:
        if aside is not None:
            aside.put_back()
        raise
    if aside is not None:
        aside.discard()
    return trainer


class _SetAside:
    """The old run moved to ``.NAME.replaced`` and a fresh, locked directory in its place.

    With a lock, the fresh directory is made and locked as ``.NAME.starting`` first and then swapped
    with the old run in one step (two renames where the system cannot swap), so NAME is never
    unlocked. The old run keeps its own lock (``lock``) until it is deleted or put back."""

    def __init__(self, run_dir: Path, lock: RunLock | None):
        self.run_dir, self.lock, self.new = run_dir, lock, None
        self.backup = self.check_free(run_dir)
        if lock is None:
            run_dir.rename(self.backup)
            return
        staging = run_dir.with_name(f".{run_dir.name}.starting")
        self.new = _locked_staging(staging)
        try:
            if exchange(staging, run_dir):
                staging.rename(self.backup)
            else:
                run_dir.rename(self.backup)
                staging.rename(run_dir)
        except BaseException:
            self.new.release()
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.new.moved_to(run_dir)

    @staticmethod
    def check_free(run_dir: Path) -> Path:
        """The place the old run goes, refused while a run an earlier --force set aside is still there."""
        backup = run_dir.with_name(f".{run_dir.name}.replaced")
        if backup.exists() or backup.is_symlink():
            raise GanforgeError(f"{backup} exists: a run set aside by an earlier --force that did not "
                                f"finish; move it back to {run_dir} or delete it, then run again")
        return backup

    def discard(self) -> None:
        """The new run started: it takes over the lock, and the old run goes."""
        if self.lock is not None and self.new is not None:
            self.lock.take_over(self.new)
        shutil.rmtree(self.backup)

    def put_back(self) -> None:
        """The new run did not start: the old run returns to its place, still locked."""
        if self.new is not None and exchange(self.backup, self.run_dir):
            self.new.release()
            shutil.rmtree(self.backup, ignore_errors=True)
            return
        if self.new is not None:
            self.new.release()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self.backup.rename(self.run_dir)


def _locked_staging(staging: Path) -> RunLock:
    """``staging`` made and locked; one left by a process that died while starting (nothing in it but its
    lock) is taken over, one in use refused."""
    try:
        staging.mkdir()
    except FileExistsError:
        if staging.is_symlink() or not staging.is_dir() or any(p.name != LOCK_NAME for p in staging.iterdir()):
            raise GanforgeError(f"{staging} is in the way of --force (left by an earlier start?); delete it "
                                f"and run again") from None
    except OSError as exc:
        raise GanforgeError(outputs.describe_os_error(exc, staging, "--out")) from None
    return RunLock(staging).acquire()


def train(preset_or_config: str | os.PathLike | dict | RunConfig | None = None, *, out: str | os.PathLike | None = None,
          steps: int | None = None, seed: int | None = None, device: str | None = None,
          set: list[str] | tuple[str, ...] = (), resume: bool = False, force: bool = False,
          data_dir: str | None = None, **keys: Any) -> Run:
    """Train a preset (or config) to the end and return the run, opened at its last checkpoint."""
    overrides = list(set)
    overrides += [f"{k}={v}" for k, v in (("train.steps", steps), ("seed", seed), ("train.device", device))
                  if v is not None]
    cfg, label = resolve_config(preset_or_config, overrides, **keys)
    run_dir = run_directory(out, label, resume)
    preset = str(preset_or_config) if isinstance(preset_or_config, str | os.PathLike) else None
    with claimed(run_dir) as lock:
        trainer = start(cfg, run_dir, resume=resume, force=force, lock=lock, data_dir=data_dir, preset=preset,
                        argv=[sys.executable, *sys.argv])
        result: TrainResult = trainer.fit()
    return load_run(result.run_dir, device=trainer.built.device)


def check_eval_applies(run_dir: str | os.PathLike, cfg: RunConfig) -> None:
    """Refuse, naming the right command, a run whose recipe ``ganforge eval`` does not measure.

    eval's metrics score samples drawn from noise against the training data; a translation, super-
    resolution or GANomaly run "samples" something else (translated test inputs, decoded codes), and
    scoring that as noise samples gives numbers that look like results and mean nothing; so does a plain
    GAN's scored against an anomaly protocol's test split. The answer is
    :func:`~ganforge.recipes.base.measured_elsewhere`, which in-training eval asks too, so nothing here
    names a recipe. Called before a checkpoint is opened or anything sampled.
    """
    refusal = measured_elsewhere(recipes.get(cfg.recipe), cfg.data.name, run_dir)
    if refusal is not None:
        why, command = refusal
        raise WrongCommandError(f"{why}: measure it with {command}")


def evaluate_run(run: Run, metrics: str | list[str] | None = None, *, n: int | None = None, seed: int = 0,
                 data_dir: str | os.PathLike | None = None, inception_weights: str | os.PathLike | None = None,
                 log_fn: Log | None = None, write: bool = True) -> tuple[Report, Path | None]:
    """Measure a run's checkpoint against the data it was trained on; writes RUN_DIR/eval/<checkpoint>.json."""
    cfg = run.config
    check_eval_applies(run.path, cfg)
    ev = Evaluator(cfg.data.name, metrics, n=n, data_dir=data_dir, seed=seed, device=run.device,
                   inception_weights=inception_weights, log_fn=log_fn, data_options=evaluator_data_options(cfg.data))
    # every sample is held at once, and the metrics hold their features: a count beyond memory is one line
    # now, not an allocation failing (or the machine swapping) after the sampling
    memory.check_memory(ev.num_samples, bytes_per_sample(ev.specs, ev.info),
                        flag="--n" if n == ev.num_samples else "the sample count")
    samples, labels = collect(progress.chunks(run.sample_chunks(ev.num_samples, seed), ev.num_samples, "sampling"))
    report = ev.run(samples, labels)
    report.samples = {"source": "generator", "run_dir": str(run.path), "checkpoint": run.checkpoint.name,
                      "checkpoint_path": str(run.checkpoint), "step": run.step, "n": int(len(samples)), "seed": seed}
    seen = sorted({s.ref for s in ev.specs if s.ref is not None and s.ref != "all"}) if cfg.data.split == "all" else []
    if seen:  # data.split=all holds every split: a figure named _test then compares with images trained on
        report.samples["references_trained_on"] = seen
        warn(f"{run.path} was trained on split all of {cfg.data.name}, which holds its {' and '.join(seen)} images: "
             f"the figures named _{seen[0]} compare with images the run trained on, not held-out ones")
    path = write_report(report, eval_report(run.path, run.checkpoint.name)) if write else None
    return report, path


def evaluate(source: Run | str | os.PathLike | np.ndarray | torch.Tensor, metrics: str | list[str] | None = None, *,
             dataset: str | None = None, checkpoint: str = "latest", n: int | None = None, seed: int = 0,
             labels: np.ndarray | torch.Tensor | None = None, data_dir: str | os.PathLike | None = None,
             device: str = "cpu", **options: Any) -> dict[str, float]:
    """Protocol-labelled metric values of a run (a Run or its directory) or of samples: an array, a tensor,
    anything ``numpy.asarray`` reads, or ``fn(n)`` (then ``dataset`` names the data to measure against)."""
    if not isinstance(source, Run | str | os.PathLike):
        if dataset is None:
            raise GanforgeError("evaluating an array of samples needs dataset=NAME, the data to measure against")
        x = source if callable(source) else as_numpy(source)
        if labels is not None and not callable(source):
            labels = check_labels(labels, len(x), "labels")
        return evaluate_samples(x, dataset, metrics, n=n, data_dir=data_dir, seed=seed, labels=labels,
                                device=device, **options)
    given = [name for name, value in (("dataset", dataset), ("labels", labels)) if value is not None]
    if given:  # as the CLI refuses --dataset with a RUN_DIR: silently ignored, it read as measured
        raise GanforgeError(f"{given[0]}= goes with an array of samples; a run is measured against the data it was "
                            f"trained on, with its generator's own labels: drop {given[0]}=")
    if not isinstance(source, Run):
        check_eval_applies(source, read_config(Path(source)))  # before the checkpoint is opened
    run = source if isinstance(source, Run) else load_run(source, checkpoint, device=device)
    return evaluate_run(run, metrics, n=n, seed=seed, data_dir=data_dir, **options)[0].values


def check_labels(labels: Any, n: int, flag: str = "--labels") -> np.ndarray:
    """Class labels, one integer per sample, as int64. Floats that are not whole numbers are refused: they
    were truncated silently (3.7 read as class 3) and measured as if right."""
    y = as_numpy(labels)
    if y.ndim != 1 or len(y) != n:
        raise GanforgeError(f"{flag} must hold one class per sample ({n}), got shape {tuple(y.shape)}")
    if y.dtype.kind not in "iu":
        whole = y.dtype.kind == "f" and bool(np.isfinite(y).all()) and bool((y == np.round(y)).all())
        if not whole:
            bad = y[~np.isfinite(y) | (y != np.round(y))][0] if y.dtype.kind == "f" else y[0]
            raise GanforgeError(f"{flag} must hold whole class numbers, got {y.dtype} values such as {bad}; "
                                f"save the classes as integers (labels.astype(np.int64))")
    return y.astype(np.int64)


__all__ = ["Run", "check_eval_applies", "check_labels", "claimed", "evaluate", "evaluate_run", "load_run",
           "resolve_config", "run_directory", "start", "train"]
