"""The training loop: run the phases in order, step after step, and keep the run directory.

The loop knows nothing about any particular GAN: the phases (from the config)
say what is updated and how; the loop only schedules them, reads statistics back
every ``log.every`` steps, writes sample grids and checkpoints, and stops cleanly
on SIGINT/SIGTERM with a checkpoint to resume from.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ganforge import config as config_mod
from ganforge.config import RunConfig
from ganforge.data import Dataset, load_dataset
from ganforge.errors import ConfigError, GanforgeError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.sampling import to_output
from ganforge.training import checkpoint, distributed, rng, rundir, speed
from ganforge.training.distributed import World
from ganforge.training.guard import DivergenceGuard, nonfinite_weights
from ganforge.training.logging import NullWriter, StatsAccumulator, StatsWriter
from ganforge.training.ema import EmaGenerator
from ganforge.training.phases import Context, build_phases, input_transform, loss_functions
from ganforge.training.sampler import Noise, RealBatches
from ganforge.training.schedules import OptimSchedule, make_optimizer
from ganforge.viz import save_image_grid, save_points_plot


class TrainingDiverged(GanforgeError):
    """A loss became NaN or infinite."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    interrupted: bool
    last_stats: dict[str, float]


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device '{name}' is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device is '{name}' but no CUDA GPU is available; use train.device=auto or cpu")
    return device


def net_context(cfg: RunConfig, data: Dataset) -> NetContext:
    mean = None
    if data.kind == "image":
        mean = data.x.float().mean(0) / 255.0
    return NetContext(data_shape=tuple(data.shape), z_dim=cfg.model.z_dim, kind=data.kind,
                      num_classes=data.num_classes, data_mean=mean)


def conditioning(cfg: RunConfig, data: Dataset) -> tuple[bool, bool]:
    """Whether G and D take class labels (by their configured options); needs a labelled dataset."""
    to_g, to_d = cfg.model.g.conditional, cfg.model.d.conditional
    wants = to_g or to_d or bool(cfg.model.d.options.get("aux_classifier", False))
    if wants and data.num_classes is None:
        raise ConfigError(f"a class-conditional model needs a labelled dataset, and '{cfg.data.name}' has no "
                          f"labels; use a dataset with classes (e.g. mnist, or folder:PATH with class subfolders)")
    return to_g, to_d


class _StopFlag:
    """Set by SIGINT/SIGTERM; the loop finishes its step, saves and exits."""

    def __init__(self) -> None:
        self.raised: str | None = None
        self._old: dict[int, object] = {}

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.raised = signal.Signals(signum).name

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class Trainer:
    """One run: build everything from the config (or a checkpoint), then :meth:`fit`."""

    def __init__(self, cfg: RunConfig, run_dir: str | Path, *, data_dir: str | None = None, resume: bool = False,
                 preset: str | None = None, argv: list[str] | None = None, allow_config_change: bool = False,
                 world: World = distributed.SINGLE):
        self.run_dir = Path(run_dir)
        self.world = world
        if resume:
            cfg = self._check_resume_config(cfg, allow_config_change)
        self.cfg = cfg
        rng.seed_all(cfg.seed)  # the same on every process: G and D start identical
        self.device = distributed.device_for(world, pick_device(cfg.train.device))
        local_batch = distributed.local_batch(world, cfg.train.batch_size)
        self.data = load_dataset(cfg.data.name, split=cfg.data.split, resolution=cfg.data.resolution,
                                 channels=cfg.data.channels, data_dir=data_dir, seed=cfg.seed, size=cfg.data.size,
                                 skip_unreadable=cfg.data.skip_unreadable)
        self.net_ctx = net_context(cfg, self.data)
        self.speed = speed.plan(cfg.speed, self.device, self.data.kind == "image")
        speed.apply_backend_flags(self.speed)
        G = build_generator(cfg.model.g, self.net_ctx).to(self.device)
        D = build_discriminator(cfg.model.d, self.net_ctx).to(self.device)
        self.nets = {"G": G.train(), "D": D.train()}
        if cfg.train.sync_batchnorm:
            distributed.sync_batchnorm(self.nets, self.device)
        G = self.nets["G"]
        if world.rank > 0:
            rng.seed_all(cfg.seed + 7919 * world.rank)  # the processes' dropout masks differ
        self.optimizers = {k: make_optimizer(self.nets[k].parameters(), getattr(cfg.optim, k.lower()),
                                             self.speed.optimizer) for k in ("G", "D")}
        self.schedules = {k: OptimSchedule(opt, getattr(cfg.optim, k.lower())) for k, opt in self.optimizers.items()}
        self.real = RealBatches(self.data.x, self.data.y, cfg.train.batch_size, seed=cfg.seed + 1,
                                device=self.device, output_range=G.output_range, rank=world.rank,
                                world_size=world.size, channels_last=self.speed.channels_last)
        self.noise = Noise(cfg.model.z_dim, cfg.model.z_dist, self.device, seed=cfg.seed + 2, rank=world.rank,
                           world_size=world.size)
        # Grids are drawn from one fixed z, so pictures at different steps are comparable.
        self.fixed_z = Noise(cfg.model.z_dim, cfg.model.z_dist, self.device, seed=cfg.seed + 3)(cfg.log.sample_count)
        d_loss, g_loss, d_output = loss_functions(cfg)
        labels_to_g, labels_to_d = conditioning(cfg, self.data)
        self.ctx = Context(nets=self.nets, optimizers=self.optimizers, schedules=self.schedules, real=self.real,
                           noise=self.noise, batch_size=local_batch, d_loss=d_loss, g_loss=g_loss,
                           d_output=d_output, d_input=input_transform(cfg, None), num_classes=self.data.num_classes,
                           labels_to_g=labels_to_g, labels_to_d=labels_to_d)
        # A conditional grid shows the classes in order, one per column (or repeating).
        self.fixed_y = (torch.arange(cfg.log.sample_count, device=self.device) % self.data.num_classes
                        if labels_to_g else None)
        self.ema = EmaGenerator(G, cfg.ema.beta, cfg.ema.start) if cfg.ema.beta is not None else None
        # Components with state beyond the networks and optimisers (running averages); checkpoints keep it.
        self.stateful: dict[str, Any] = {}
        self.phases: list[Any] = build_phases(cfg, self.nets, self.ema, self.stateful)
        # After the EMA and historical copies are taken: compiled methods cannot be deep-copied.
        self.compiled = speed.prepare_nets(self.nets, self.speed)
        self.ctx.autocast = lambda: speed.autocast(self.speed, self.device)
        if world.distributed:
            # ACGAN's classifier has no gradient in the R1 phase; DDP must be told to expect that.
            unused = hasattr(self.nets["D"], "classify") and cfg.reg.r1 > 0
            self.ctx.ddp = {"G": distributed.wrap(self.nets["G"], self.device),
                            "D": distributed.wrap(distributed.JudgeForward(self.nets["D"]), self.device,
                                                  find_unused=unused)}
        self.evaluator = self._make_evaluator(data_dir) if cfg.eval.every > 0 else None
        self.best: dict[str, Any] = {}  # {"key", "value", "step"} of the best evaluation so far
        self.guard = DivergenceGuard(cfg.guard)
        self.step = 0
        self.resumed_from: Path | None = None
        if resume:
            self.resumed_from = self._restore()
            if world.is_main:
                self._record_config_changes()
        elif world.is_main:
            rundir.write_new(self.run_dir, cfg, device=str(self.device), preset=preset, argv=argv,
                             extra={"speed": self.speed.describe(), "world_size": world.size})
        world.barrier()

    # -- resume -------------------------------------------------------------------------------
    def _check_resume_config(self, cfg: RunConfig, allow_change: bool) -> RunConfig:
        saved = rundir.read_config(self.run_dir)
        changes = [d for d in config_mod.diff(saved, cfg) if not d.startswith("train.steps:")]
        if changes and not allow_change:
            raise ConfigError(f"the config differs from the one {self.run_dir} was trained with "
                              f"({'; '.join(changes)}); resume with the same preset and --set values, "
                              f"or pass --allow-config-change to accept the differences")
        self._config_changes = changes
        return cfg

    def _record_config_changes(self) -> None:
        """With --allow-config-change: say what changed, and keep the record in the run directory."""
        changes = getattr(self, "_config_changes", [])
        if not changes:
            return
        print(f"resuming at step {self.step} with a changed config: {'; '.join(changes)}", flush=True)
        (self.run_dir / rundir.CONFIG).write_text(self.cfg.to_yaml())
        rundir.add_option(self.run_dir, "config_changes", {"step": self.step, "changes": changes})

    # -- evaluation during training ----------------------------------------------------------
    def _make_evaluator(self, data_dir: str | None):
        from ganforge.metrics import Evaluator

        c = self.cfg
        return Evaluator(c.data.name, c.eval.metrics or None, n=c.eval.n, data_dir=data_dir, seed=c.seed,
                         device=self.device, data_options={"resolution": c.data.resolution,
                                                           "channels": c.data.channels})

    def evaluate(self) -> dict[str, float]:
        """Measure the sampling generator now; log the values and keep the best checkpoint."""
        from ganforge.sampling import generate

        values: dict[str, float] = {}
        if self.world.is_main:  # one process measures; the others wait for its figures
            rng_devices = [self.device] if self.device.type == "cuda" else []
            with self._sampling_generator() as G, torch.random.fork_rng(devices=rng_devices):
                values = self.evaluator(lambda n: generate(G, self.cfg, n, seed=self.cfg.seed, device=self.device,
                                                           num_classes=self.data.num_classes, return_labels=True))
        values = self.world.broadcast(values)
        self.writer.write({"step": self.step, **{f"eval/{k}": v for k, v in values.items()}})
        key = self.evaluator.primary
        if key is not None and key in values:
            higher = self.evaluator.directions[key] == "higher"
            value = values[key]
            if not self.best or (value > self.best["value"] if higher else value < self.best["value"]):
                self.best = {"key": key, "value": value, "step": self.step}
                self.save_checkpoint(label="best")
                self.writer.message(f"step {self.step}: best {key} so far ({value:.4g}), kept in checkpoints/best")
        return values

    def _restore(self, quiet: bool = False) -> Path:
        path, tensors, state = checkpoint.load_latest(self.run_dir / "checkpoints")
        for name, net in self.nets.items():
            try:
                net.load_state_dict(tensors[name])
            except (KeyError, RuntimeError) as e:
                raise GanforgeError(f"checkpoint {path} does not fit the configured {name} "
                                    f"({str(e).splitlines()[0]}); resume with the config the run was started "
                                    f"with") from None
        for name, opt in self.optimizers.items():
            checkpoint.load_optimizer(opt, tensors.get(f"optim_{name}", {}), state["optimizers"][name])
        extra = {"G_ema": self.ema.model} if self.ema is not None else {}
        for name, module in extra.items():
            module.load_state_dict(tensors[name])
        for name, component in self.stateful.items():
            component.load_state_tensors(tensors[name])
        self.real.load_state_dict(state["real"])
        self.noise.load_state_dict(state["noise"])
        for name, sched in self.schedules.items():
            sched.load_state_dict(state["schedules"][name], epoch=self.real.epoch)
        own = self._rng_state_for_this_rank(state)
        if own is not None:
            rng.restore(own)
        else:  # a different number of processes: fresh, distinct streams for the extra ranks
            rng.seed_all(self.cfg.seed + 7919 * self.world.rank + int(state["step"]))
        self.guard.load_state_dict(state.get("guard", {}))
        self.best = dict(state.get("best", {}))
        self.step = int(state["step"])
        if not quiet and self.world.is_main:
            rundir.truncate_stats(self.run_dir, self.step)
        return path

    def _rng_state_for_this_rank(self, state: dict[str, Any]) -> dict | None:
        """Each process's own global-RNG state (dropout, augmentation); None if the run was saved by a
        different number of processes and this rank has none."""
        per_rank = state.get("rng_ranks")
        if self.world.rank == 0:
            return state["rng"]
        if per_rank and len(per_rank) == self.world.size:
            return per_rank[self.world.rank]
        if self.world.rank == 1:  # say it once
            print(f"resuming with {self.world.size} processes a run saved with {len(per_rank or [None])}: the data "
                  f"and noise continue exactly; dropout and augmentation draws do not", flush=True)
        return None

    def save_checkpoint(self, label: str | None = None) -> Path | None:
        """Write a checkpoint of the current step; None if the guard rolled back instead (NaN weights)."""
        broken = nonfinite_weights(self.nets)
        if broken:
            reason = f"the weights of {' and '.join(broken)} became NaN/inf"
            self._diverged(reason)
            return None
        rng_ranks = self.world.gather(rng.capture())  # a collective: every process reaches this line
        if not self.world.is_main:
            self.world.barrier()  # wait until rank 0 has written it (a rollback may read it next)
            return self.run_dir / "checkpoints"
        tensors = {name: net.state_dict() for name, net in self.nets.items()}
        if self.ema is not None:
            tensors["G_ema"] = self.ema.model.state_dict()
        for name, component in self.stateful.items():
            tensors[name] = component.state_tensors()
        optim_meta = {}
        for name, opt in self.optimizers.items():
            tensors[f"optim_{name}"], optim_meta[name] = checkpoint.optimizer_tensors(opt)
        state = {
            "step": self.step,
            "epoch": self.real.epochs_done,
            "optimizers": optim_meta,
            "schedules": {k: s.state_dict() for k, s in self.schedules.items()},
            "real": self.real.state_dict(),
            "noise": self.noise.state_dict(),
            "rng": rng_ranks[0],
            **({"rng_ranks": rng_ranks} if self.world.distributed else {}),
            "guard": self.guard.state_dict(),
            "best": self.best,
            "net_context": {"data_shape": list(self.net_ctx.data_shape), "kind": self.net_ctx.kind,
                            "num_classes": self.net_ctx.num_classes},
        }
        try:
            return checkpoint.save(self.run_dir / "checkpoints", self.step, tensors, state,
                                   keep=self.cfg.log.keep_checkpoints, name=label)
        finally:
            self.world.barrier()

    # -- outputs ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _sampling_generator(self) -> Iterator[nn.Module]:
        """The generator samples come from (its EMA when enabled), in eval mode for the duration."""
        G = self.ema.model if self.ema is not None else self.nets["G"]
        was_training = G.training
        G.eval()
        try:
            yield G
        finally:
            G.train(was_training)

    @torch.no_grad()
    def save_samples(self) -> Path | None:
        if not self.world.is_main:
            return None
        with self._sampling_generator() as G:
            out = to_output(G(self.fixed_z, self.fixed_y), G.output_range)
        path = self.run_dir / "samples" / f"step-{self.step:07d}.png"
        if self.data.kind == "image":
            return save_image_grid(out, path)
        return save_points_plot(out, path, centers=self.data.meta.get("centers"),
                                title=f"{self.cfg.data.name}, step {self.step}")

    # -- the loop -----------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        cfg, log = self.cfg, self.cfg.log
        total = cfg.train.steps
        self.writer = writer = (StatsWriter(self.run_dir, total, self.step, log.tensorboard, log.progress)
                                if self.world.is_main else NullWriter())
        self._acc = StatsAccumulator()
        self._last: dict[str, float] = {}
        interrupted = False
        if self.resumed_from is not None:
            writer.message(f"resumed from {self.resumed_from} at step {self.step}")
        no_checkpoint = self.world.broadcast(not checkpoint.list_checkpoints(self.run_dir / "checkpoints"))
        if cfg.guard.action == "rollback" and no_checkpoint:
            self.save_checkpoint()  # something to roll back to before the first periodic checkpoint
        self._t0, self._steps_since = time.perf_counter(), 0
        try:
            with _StopFlag() as stop:
                while True:
                    interrupted = self._run_until(total, stop)
                    if self.step % log.sample_every != 0 or interrupted:
                        self.save_samples()
                    needs_save = self.step % log.checkpoint_every != 0 or interrupted or self.step == 0
                    if needs_save and self.save_checkpoint() is None:
                        continue  # the final weights were NaN and the guard rolled back: train on
                    break
        finally:
            writer.close()
        return TrainResult(self.run_dir, self.step, interrupted, self._last)

    def _run_until(self, total: int, stop: _StopFlag) -> bool:
        """Train to step ``total``; True if stopped early by a signal (after a checkpoint)."""
        log = self.cfg.log
        while self.step < total:
            self.ctx.step = self.step
            for phase in self.phases:
                if self.step % phase.every == 0:
                    self._acc.add(phase.run(self.ctx))
            self.step += 1
            self._steps_since += 1
            self.writer.advance(1)
            at_log = self.step % log.every == 0 or self.step == total
            if at_log and self._log():
                continue  # rolled back: the step counter moved back to the checkpoint
            if self.step % log.sample_every == 0:
                self.save_samples()
            if self.evaluator is not None and self.step % self.cfg.eval.every == 0:
                self.evaluate()
            if self.step % log.checkpoint_every == 0 and self.save_checkpoint() is None:
                continue
            # Under torchrun the processes agree to stop at a log step (a signal may reach them apart).
            if self._stopping(stop, at_log):
                self.writer.event(self.step, "interrupted", f"{stop.raised or 'a stop signal'} received at step {self.step}: "
                                                            f"checkpoint written")
                return True
        return False

    def _stopping(self, stop: _StopFlag, at_log: bool) -> bool:
        """Whether a signal asks to stop now. Under torchrun the processes agree on it at log steps,
        since a signal may reach them at different steps and they must stop at the same one."""
        if not self.world.distributed:
            return stop.raised is not None
        return at_log and self.world.any(stop.raised is not None)

    def _log(self) -> bool:
        """Read statistics back and write them; True if the guard rolled the run back."""
        steps, seconds = self._steps_since, time.perf_counter() - self._t0
        self._t0, self._steps_since = time.perf_counter(), 0
        stats = self.world.mean(self._acc.flush())
        record = {"step": self.step, "epoch": round(self.real.epochs_done, 4), **stats,
                  "lr_D": self.schedules["D"].lr(), "lr_G": self.schedules["G"].lr(),
                  "img_per_s": steps * self.cfg.train.batch_size / max(seconds, 1e-9)}
        self.writer.write(record)
        self._last = record
        reason = self.guard.check(stats, self.nets, steps)
        return reason is not None and self._diverged(reason)

    def _diverged(self, reason: str) -> bool:
        """Stop (raise) or roll back to the last good checkpoint; True after a rollback."""
        g = self.guard
        if not g.can_retry():
            tried = f" after {g.retries} rollback(s)" if g.retries else ""
            message = (f"training diverged at step {self.step}{tried}: {reason}. The last good checkpoint is kept; "
                       f"lower optim.d.lr / optim.g.lr, or set guard.action=rollback, then resume")
            self.writer.event(self.step, "diverged", message)
            raise TrainingDiverged(message)
        failed_at = self.step
        g.retries += 1
        path = self._restore(quiet=True)
        for sched in self.schedules.values():
            sched.scale *= self.cfg.guard.lr_factor
            sched.apply(self.real.epoch)
        if self.cfg.guard.reseed:
            seed = self.cfg.seed + 7919 * g.retries
            torch.manual_seed(seed + 104729 * self.world.rank)
            self.noise = self.ctx.noise = Noise(self.cfg.model.z_dim, self.cfg.model.z_dist, self.device, seed + 2,
                                                rank=self.world.rank, world_size=self.world.size)
        self._acc.flush()
        self.writer.event(failed_at, "rollback",
                          f"step {failed_at}: {reason}; rolled back to {path.name} "
                          f"(retry {g.retries}/{self.cfg.guard.max_retries}, lr x{self.schedules['G'].scale:g}"
                          f"{', new random streams' if self.cfg.guard.reseed else ''})")
        return True

def train(cfg: RunConfig, run_dir: str | Path, **kwargs) -> TrainResult:
    """Build a :class:`Trainer` and run it to ``cfg.train.steps``."""
    return Trainer(cfg, run_dir, **kwargs).fit()
