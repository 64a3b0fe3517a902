"""The training loop: run the recipe's phases step after step, and keep the run directory.

The loop knows no network, loss or recipe by name: the recipe's phases say what is updated
and how; the loop schedules them, reads statistics back every ``log.every`` steps, writes
sample grids, evaluations and checkpoints between steps (:mod:`.periodic`), rolls back or
stops on divergence (:mod:`.rollback`) and stops cleanly on SIGINT/SIGTERM with a checkpoint
to resume from (:mod:`.signals`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ganforge import recipes, run_stats
from ganforge.config import RunConfig
from ganforge.engine import periodic, resume_checks, rollback, state
from ganforge.engine.build import build
from ganforge.engine.signals import StopFlag
from ganforge.run_layout import CHECKPOINTS, STATS
from ganforge.runs import checkpoint, rundir
from ganforge.training import distributed
from ganforge.training.distributed import World
from ganforge.engine.guard import DivergenceGuard
from ganforge.engine.stats_log import NullWriter, StatsAccumulator, StatsWriter


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns: the run directory, the step training stopped at and how it ended.

    ``last_stats`` is the last record written to stats.jsonl (the CLI's end-of-run summary reads it);
    ``interrupted`` and ``signal`` tell a run stopped by SIGINT/SIGTERM (with a checkpoint written) from a
    finished one, so ``ganforge train`` can exit with that signal's code and print the resume command.
    """

    run_dir: Path
    step: int
    interrupted: bool
    last_stats: dict[str, float]
    signal: str | None = None  # "SIGINT" / "SIGTERM" when a signal stopped the run


class Trainer:
    """One run: build everything from the config (or a checkpoint), then :meth:`fit`."""

    def __init__(self, cfg: RunConfig, run_dir: str | Path, *, data_dir: str | None = None, resume: bool = False,
                 preset: str | None = None, argv: list[str] | None = None, allow_config_change: bool = False,
                 world: World = distributed.SINGLE):
        self.run_dir, self.world = Path(run_dir), world
        changes = resume_checks.check_config(self.run_dir, cfg, allow_config_change) if resume else []
        self.cfg, self.recipe = cfg, recipes.get(cfg.recipe)
        periodic.check_in_training_eval(cfg, self.recipe, self.run_dir)
        self.built = build(cfg, self.recipe, world, data_dir)
        self.evaluator = periodic.make_evaluator(self, data_dir)
        self.monitor_judge = periodic.make_monitor_judge(self, data_dir)  # log.diversity_judge
        self.best: dict = {}  # {"key", "value", "step"} of the best evaluation so far
        self.guard = DivergenceGuard(cfg.guard)
        self.step, self.resumed_from = 0, None
        self.stats, self.last = StatsAccumulator(), {}  # a resume continues the checkpoint's sums
        if resume:
            self.resumed_from, self.step, self.best = state.restore(self.built, self.run_dir, self.guard, world,
                                                                    cfg.seed, self.stats)
            resume_checks.check_steps(self.run_dir, cfg, self.step)  # before anything in the run is rewritten
            if world.is_main:
                run_stats.keep_until(self.run_dir / STATS, self.step, later_events=False,
                                     continuing=cfg.train.steps > self.step)
                resume_checks.record_steps(self.run_dir, cfg, self.step)
                resume_checks.record_changes(self.run_dir, cfg, self.step, changes)
                rundir.record_resume(self.run_dir, self.step, device=str(self.built.device), argv=argv)
                resume_checks.check_data(self.run_dir, self.built.data)
        elif world.is_main:
            rundir.write_new(self.run_dir, cfg, device=str(self.built.device), preset=preset, argv=argv,
                             extra={"speed": self.built.speed.describe(), "world_size": world.size,
                                    "recipe": cfg.recipe, "data": resume_checks.describe_data(self.built.data)})
        world.barrier()

    def save_checkpoint(self, label: str | None = None) -> Path | None:
        return periodic.save_checkpoint(self, label)

    def diverged(self, reason: str) -> bool:
        return rollback.diverged(self, reason)

    def fit(self) -> TrainResult:
        cfg, log = self.cfg, self.cfg.log
        self.writer = (StatsWriter(self.run_dir, cfg.train.steps, self.step, log.tensorboard, log.progress)
                       if self.world.is_main else NullWriter())
        if self.resumed_from is not None:
            self.writer.message(f"resumed from {self.resumed_from} at step {self.step}")
        no_checkpoint = self.world.broadcast(not checkpoint.list_checkpoints(self.run_dir / CHECKPOINTS))
        if cfg.guard.action == "rollback" and no_checkpoint:
            self.save_checkpoint()  # something to roll back to before the first periodic checkpoint
        self._t0, self._timed = time.perf_counter(), 0  # img_per_s: the steps timed in this process
        interrupted = False
        try:
            with StopFlag() as stop:
                while True:
                    interrupted = self._run_until(cfg.train.steps, stop)
                    if self.step % log.sample_every != 0 or interrupted:
                        periodic.save_samples(self)
                    needs_save = self.step % log.checkpoint_every != 0 or interrupted or self.step == 0
                    if needs_save and self.save_checkpoint() is None:
                        continue  # the final weights were NaN and the guard rolled back: train on
                    break
        finally:
            self.writer.close()
        return TrainResult(self.run_dir, self.step, interrupted, self.last, stop.raised if interrupted else None)

    def _run_until(self, total: int, stop: StopFlag) -> bool:
        """Train to step ``total``; True if stopped early by a signal (after a checkpoint)."""
        log, ctx, phases = self.cfg.log, self.built.parts.context, self.built.phases
        while self.step < total:
            ctx.step = self.step
            for phase in phases:
                if self.step % phase.every == 0:
                    self.stats.add(phase.run(ctx))
            self.step += 1
            self.stats.steps += 1
            self._timed += 1
            self.writer.advance(1)
            at_log = self.step % log.every == 0 or self.step == total
            if at_log and self._log(partial=self.step % log.every != 0):
                continue  # rolled back: the step counter moved back to the checkpoint
            if self.step % log.sample_every == 0:
                periodic.save_samples(self)
            if self.evaluator is not None and self.step % self.cfg.eval.every == 0 and periodic.evaluate(self) is None:
                continue  # the weights had turned NaN: rolled back to the checkpoint's step
            if self.step % log.checkpoint_every == 0 and self.save_checkpoint() is None:
                continue
            if self._stopping(stop, at_log):
                self.writer.event(self.step, "interrupted", f"{stop.raised or 'a stop signal'} received at step "
                                                            f"{self.step}: checkpoint written")
                return True
        return False

    def _stopping(self, stop: StopFlag, at_log: bool) -> bool:
        """Whether a signal asks to stop now. Under torchrun the processes agree on it at log steps,
        since a signal may reach them at different steps and they must stop at the same one."""
        if not self.world.distributed:
            return stop.raised is not None
        return at_log and self.world.any(stop.raised is not None)

    def _log(self, partial: bool = False) -> bool:
        """Read statistics back and write them; True if the guard rolled the run back. ``partial``: the
        leg ends between log steps; its record (marked ``"partial": true``) is written, but the period goes
        on in the checkpoint, and a resume drops the record (:func:`ganforge.run_stats.keep_until`), so a
        resumed run's stats.jsonl is the uninterrupted run's."""
        steps, timed, seconds = self.stats.steps, self._timed, time.perf_counter() - self._t0
        self._t0, self._timed = time.perf_counter(), 0
        if not partial:
            self.stats.steps = 0
        stats = {**self.world.mean(self.stats.flush(reset=not partial)),
                 **periodic.monitor(self)}  # + G's diversity, when it has a G(z)
        # Stated as they are now (DP's epsilon), and not training statistics: the guard does not judge them (an
        # infinite epsilon is a run without noise, not a diverged one).
        figures = self.built.parts.log_figures()
        record = {"step": self.step, "epoch": round(self.built.parts.epochs_done(), 4), **stats, **figures,
                  **{f"lr_{name}": sched.lr() for name, sched in self.built.schedules.items()},
                  **self.built.ema_record(self.step - 1),  # the last update's
                  "img_per_s": timed * self.cfg.train.batch_size / max(seconds, 1e-9),
                  **({"partial": True} if partial else {})}
        self.writer.write(record)
        self.last = record
        reason = self.guard.check(stats, self.built.nets, steps, self.step, partial=partial)
        return reason is not None and self.diverged(reason)


def train(cfg: RunConfig, run_dir: str | Path, **kwargs) -> TrainResult:
    """Build a :class:`Trainer` and run it to ``cfg.train.steps``."""
    return Trainer(cfg, run_dir, **kwargs).fit()
