"""Whole-step CUDA graphs: each update of a phase is captured once and replayed as one launch.

Why: on an H100 a DCGAN-64 step at batch 128 issued about 400 kernels and the GPU waited for
Python and launches 58% of the step (89% for the 2014 MLP GAN). A CUDA graph replays the whole
update -- forward, backward, optimiser step, after-update hooks -- in one launch.

How, for any recipe (the engine's loop is untouched; :func:`wrap` puts a :class:`GraphedPhase`
in each phase's place, which the loop calls like any phase):

- **Static inputs.** A graph replays fixed addresses, so everything an update reads must live at
  one: weights, optimiser state (Adam made ``capturable``; a fused optimiser's learning rate a
  device tensor that the schedule fills in place), the resident data, and the input streams in
  their graph-safe form (``to_static``): :class:`~ganforge.training.batches.RealBatches` keeps its
  position on the device and indexes the epoch's permutation from it inside the graph; noise comes
  from a CUDA generator registered with the graph (``graph_generators``), so every replay draws the
  next numbers -- the same ones an eager step would -- and the generator's state, which checkpoints
  keep, stays exact.
- **Host work stays on the host.** A phase is ``begin`` (freeze the others), ``update`` (captured)
  and ``end_update`` (the schedule). Each replay is one update; ``repeat`` updates are ``repeat``
  replays, with the schedule advanced between them. Between replays the host keeps its account of
  the streams (``skip``) and starts each epoch (``room``); an update that would cross an epoch
  boundary runs eagerly, since the new permutation is made on the host.
- **Host values baked in.** A graph keeps the Python numbers it saw at capture. Each phase says
  which ones it bakes in (``graph_key``: the optimiser's non-tensor hyperparameters and state
  tensors, the EMA's weight); when they change the update is captured again, and if they change
  every few steps the phase goes back to eager. Terms or hooks that bake in values without saying so
  are marked ``graph_unsafe`` (a reason) and run eagerly.
- **Statistics** are summed into a static buffer (:class:`~ganforge.engine.stats_log.RunningSums`),
  read at log steps as before.

Anything that cannot be captured runs eagerly with one warning naming the reason. On the CPU
(``speed.graphs=true``) the same code runs with :class:`EagerRecorder`, whose "replay" calls the
captured function again: that is how the tests hold the static-buffer step to the plain one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from ganforge.engine.stats_log import RunningSums
from ganforge.errors import warn

Tensor = torch.Tensor

WARMUP = 3  # eager calls before capture: cuDNN autotuning, optimiser state and lazy buffers happen there
THRASH = 10  # two captures in a row each within this many calls of the last: the phase goes eager
# Stream methods the graph-safe form needs (training/batches.py has them for RealBatches and Noise).
STREAM_PROTOCOL = ("to_static", "room", "host_state", "set_host_state", "skip")


class EagerRecorder:
    """Capture keeps the function; replay calls it. The CPU stand-in for a CUDA graph."""

    def __init__(self) -> None:
        self.fn: Callable[[], None] | None = None

    def warmup(self, fn: Callable[[], Any]) -> Any:
        return fn()

    def capture(self, fn: Callable[[], None], generators: list[torch.Generator]) -> None:
        self.fn = fn

    def replay(self) -> None:
        self.fn()


class CudaGraphRecorder:
    """A :class:`torch.cuda.CUDAGraph` of one update, its noise generators registered with it."""

    def __init__(self) -> None:
        self.graph: torch.cuda.CUDAGraph | None = None

    def warmup(self, fn: Callable[[], Any]) -> Any:
        # On a side stream, as torch asks for the iterations before a capture.
        side, main = torch.cuda.Stream(), torch.cuda.current_stream()
        side.wait_stream(main)
        with torch.cuda.stream(side):
            out = fn()
        main.wait_stream(side)
        return out

    def capture(self, fn: Callable[[], None], generators: list[torch.Generator]) -> None:
        self.graph = None  # free the previous capture's memory pool first
        graph = torch.cuda.CUDAGraph()
        for gen in generators:
            graph.register_generator_state(gen)
        with torch.cuda.graph(graph):
            fn()
        self.graph = graph

    def replay(self) -> None:
        self.graph.replay()


def prepare_optimizer(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Make a CUDA optimiser capturable: step counts on the device, and a fused optimiser's learning
    rate a device tensor (the schedule then fills it in place instead of baking it into the graph).
    Idempotent; run again after a checkpoint load replaced the groups and state."""
    if device.type != "cuda":
        return
    # Eager warm-up steps of a capturable optimiser are expected here; torch's once-per-optimiser
    # advice against them ("capturable=True can impair performance") would be a second warning.
    optimizer._warned_capturable_if_run_uncaptured = True
    for group in optimizer.param_groups:
        if "capturable" in group:
            group["capturable"] = True
        if group.get("fused") and not torch.is_tensor(group["lr"]):
            group["lr"] = torch.tensor(float(group["lr"]), device=device)
    for state in optimizer.state.values():
        step = state.get("step")
        if torch.is_tensor(step) and step.device != device:
            state["step"] = step.to(device)


def run_blocker(ctx: Any, streams: dict[str, Any], plan: Any) -> str | None:
    """Why no phase of this run can be captured, or None."""
    if ctx.ddp:
        return "multi-process (DDP) training all-reduces gradients in hooks outside the captured update"
    if plan.compile == "reduce-overhead":
        return "speed.compile=reduce-overhead already replays per-network CUDA graphs, which cannot be nested"
    for name, stream in streams.items():
        if not all(hasattr(stream, m) for m in STREAM_PROTOCOL):
            return (f"input stream '{name}' ({type(stream).__name__}) has no graph-safe form "
                    f"({', '.join(STREAM_PROTOCOL)})")
    for f in dataclasses.fields(ctx):
        reason = getattr(getattr(ctx, f.name), "graph_unsafe", None)
        if reason:
            return f"{f.name}: {reason}"
    return None


PHASE_PROTOCOL = ("begin", "update", "end_update", "graph_key", "repeat")


def phase_blocker(phase: Any) -> str | None:
    """Why this phase cannot be captured (a phase class of a recipe's own without the parts a capture
    needs, or a term or hook marked ``graph_unsafe``), or None."""
    missing = [m for m in PHASE_PROTOCOL if not hasattr(phase, m)]
    if missing:
        return f"{type(phase).__name__} has no {', '.join(missing)} (training.phases.Phase has them)"
    for part in [*getattr(phase, "terms", []), *getattr(phase, "after_update", [])]:
        reason = getattr(part, "graph_unsafe", None)
        if reason:
            return reason
    return None


def wrap(phases: list, ctx: Any, streams: dict[str, Any], plan: Any, device: torch.device) -> list:
    """The phases, each in a :class:`GraphedPhase` when ``plan.graphs`` is on and the run allows it."""
    if not plan.graphs:
        return phases
    reason = run_blocker(ctx, streams, plan)
    if reason is not None:
        warn(f"speed.graphs: training runs eagerly: {reason}")
        return phases
    if device.type != "cuda":
        warn(f"speed.graphs: CUDA graphs need a CUDA device; on {device.type} the graph path's "
             f"static-buffer step runs eagerly (the same numbers, no speed-up)")
    make = CudaGraphRecorder if device.type == "cuda" else EagerRecorder
    return [GraphedPhase(phase, ctx, streams, device, make()) for phase in phases]


class GraphedPhase:
    """A phase whose updates replay a captured graph; the loop calls :meth:`run` as for any phase."""

    def __init__(self, phase: Any, ctx: Any, streams: dict[str, Any], device: torch.device, recorder: Any):
        self.phase, self.streams, self.device, self.recorder = phase, streams, device, recorder
        self.name, self.every = phase.name, phase.every
        self.optimizer = ctx.optimizers.get(getattr(phase, "net", None))
        self.eager_reason: str | None = phase_blocker(phase)
        if self.eager_reason:
            self._warn(self.eager_reason)
        self.calls = 0
        self.draws: dict[str, int] | None = None  # batches one update draws, per stream
        self.keys: list[str] = []
        self.key: Any = None  # the host values of the current capture; None: nothing captured
        self.captured_at = 0
        self.quick = 0  # captures in a row that came within THRASH calls of the one before
        self.replays = self.eager_updates = 0  # updates replayed / run eagerly after warm-up (for tests, profiles)
        self.running: RunningSums | None = None
        self._static_out: Tensor | None = None
        self._seen_keys: list[str] | None = None  # the statistics' names the captured update last returned
        self._last_out: dict[str, Tensor] = {}

    def _warn(self, reason: str) -> None:
        warn(f"speed.graphs: phase {self.name} runs eagerly: {reason}")

    def run(self, ctx: Any) -> dict[str, Tensor] | RunningSums:
        if self.eager_reason:
            return self._summed(self.phase.run(ctx))
        if self.calls == 0:
            for stream in self.streams.values():
                stream.to_static()
        self.calls += 1
        if self.optimizer is not None:
            prepare_optimizer(self.optimizer, self.device)
        if self.calls <= WARMUP:
            return self._warmup(ctx)
        self.phase.begin(ctx)
        graphed = False
        out: dict[str, Tensor] = {}
        for _ in range(self.phase.repeat):
            graphed = self.eager_reason is None and self._fits_epoch() and self._replay(ctx)
            if graphed:
                self.replays += 1
            else:
                out = self.phase.update(ctx)
                self.eager_updates += 1
            self.phase.end_update(ctx)
        ctx.clear_shared()
        if not graphed:
            return self._summed(out)
        if self._seen_keys != self.keys:  # the eager recorder's last replay changed the names: its own dict
            return self._last_out
        self.running.add_(self._static_out)
        return self.running

    def _summed(self, out: dict[str, Tensor]) -> dict[str, Tensor] | RunningSums:
        """An eager update's statistics, into the static sums once they exist (so the log's sums keep
        the order of additions a plain run has, whatever mix of replays and eager updates came)."""
        if self.running is None or list(out) != self.keys:
            return out
        if self.keys:
            self._static_out.copy_(torch.stack([out[k].detach().float() for k in self.keys]))
        self.running.add_(self._static_out)
        return self.running

    def _warmup(self, ctx: Any) -> dict[str, Tensor]:
        counts = {name: getattr(s, "draws", 0) for name, s in self.streams.items()}
        out = self.recorder.warmup(lambda: self.phase.run(ctx))
        draws = {name: (getattr(s, "draws", 0) - counts[name]) // self.phase.repeat
                 for name, s in self.streams.items()}
        if self.draws is not None and draws != self.draws:
            self._give_up(f"its updates draw different numbers of batches ({self.draws} then {draws})")
        self.draws = draws
        self.keys = list(out)
        return out

    def _fits_epoch(self) -> bool:
        """Whether one update's draws fit in every stream's current epoch (starting a new one if due)."""
        return all(self.streams[name].room() >= n for name, n in self.draws.items() if n)

    def _body(self, ctx: Any) -> Callable[[], None]:
        def update() -> None:
            out = self.phase.update(ctx)
            self._seen_keys, self._last_out = list(out), out
            if self._seen_keys == self.keys and self.keys:
                self._static_out.copy_(torch.stack([out[k].detach().float() for k in self.keys]))
        return update

    def _keys_changed(self) -> bool:
        """Whether the update's statistics are not the ones the static buffer holds: then eager from now."""
        if self._seen_keys is None or self._seen_keys == self.keys:
            return False
        self._give_up(f"its statistics changed from {self.keys} to {self._seen_keys}")
        return True

    def _replay(self, ctx: Any) -> bool:
        """One update as a replay (capturing first if needed); False if it must run eagerly."""
        key = self.phase.graph_key(ctx)
        if key != self.key:
            self.quick = self.quick + 1 if self.key is not None and self.calls - self.captured_at < THRASH else 0
            if self.quick >= 2:
                self._give_up("a host number its update bakes in (a learning rate, momentum or weight that is "
                              "not a device tensor) changes every few steps")
                return False
            if not self._capture(ctx, key):
                return False
        host = {name: s.host_state() for name, s in self.streams.items()}
        self.recorder.replay()
        for name, s in self.streams.items():  # the replay drew on the device: the host catches up
            s.set_host_state(host[name])
            s.skip(self.draws[name])
        self._keys_changed()  # (the eager recorder runs Python at every replay; the update itself is done)
        return True

    def _capture(self, ctx: Any, key: Any) -> bool:
        if self.running is None:
            self.running = RunningSums(self.keys, self.device)
            self._static_out = torch.zeros(len(self.keys), device=self.device)
        generators = [g for s in self.streams.values() for g in getattr(s, "graph_generators", list)()]
        host = {name: s.host_state() for name, s in self.streams.items()}
        try:
            self.recorder.capture(self._body(ctx), generators)
        except Exception as e:  # noqa: BLE001 - whatever the capture hits, the phase goes on eagerly
            self._give_up(f"capturing it failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
            return False
        finally:
            for name, s in self.streams.items():  # a CUDA capture ran the host code but drew nothing
                s.set_host_state(host[name])
            ctx.clear_shared()
        if self._keys_changed():
            return False
        self.key, self.captured_at = key, self.calls
        return True

    def _give_up(self, reason: str) -> None:
        self.eager_reason = reason
        self.recorder = EagerRecorder()  # drop the graph and its memory
        self._warn(reason)
