"""Training statistics: gathered on the device, read back every N steps, written three ways.

Per step, phases hand back detached tensors; :class:`StatsAccumulator` sums them
on the device, so the loop never waits for the GPU. Every ``log.every`` steps one
read-back produces means that go to ``stats.jsonl`` (one JSON object per line),
TensorBoard and the progress bar.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ganforge import outputs, run_stats
from ganforge.run_layout import STATS, TB

_now = time.perf_counter  # the ETA's clock (a name of its own, so a test can set it)


class RunningSums:
    """Statistics their producer already sums on the device, in one static buffer.

    A phase replayed as a CUDA graph (:mod:`ganforge.engine.graphs`) cannot hand back fresh
    tensors each step: its outputs live at fixed addresses that the next replay overwrites. It
    adds them into ``sums`` instead (one kernel per phase and step rather than two per statistic)
    and counts the additions here; :class:`StatsAccumulator` reads the sums at the next flush.
    """

    def __init__(self, keys: list[str], device: torch.device):
        self.keys = list(keys)
        self.sums = torch.zeros(len(self.keys), device=device)
        self.count = 0

    def add_(self, values: torch.Tensor) -> None:
        self.sums.add_(values)
        self.count += 1


class StatsAccumulator:
    """Sums each step's statistics on the device and turns them into means once per log line (:meth:`flush`).

    Phases hand back detached tensors, and adding them where they are (rather than reading each one back
    with ``.item()``) keeps the loop from waiting for the GPU: one read-back per ``log.every`` steps. It also
    takes :class:`RunningSums` buffers (phases replayed as CUDA graphs sum in place), and :meth:`state_dict`
    keeps the unfinished period in the checkpoint, so a resumed run's next record averages the same steps
    as an uninterrupted run's.
    """

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}
        self._running: dict[int, RunningSums] = {}
        self._carried: dict[str, int] = {}  # counts of plain sums folded into a RunningSums buffer
        self.steps = 0  # training steps since the last log line (the trainer counts and resets them)

    def add(self, stats: dict[str, torch.Tensor] | RunningSums) -> None:
        if isinstance(stats, RunningSums):  # summed by its producer: remember where, read at flush
            if id(stats) not in self._running:
                self._running[id(stats)] = stats
                for i, key in enumerate(stats.keys):
                    if key in self._sums:  # plain sums from earlier in this period carry on in the buffer,
                        stats.sums[i].add_(self._sums.pop(key))  # added in the order a plain sum would be
                        self._carried[key] = self._counts.pop(key)
            return
        for key, value in stats.items():
            value = value.detach().float()
            self._sums[key] = self._sums[key] + value if key in self._sums else value.clone()
            self._counts[key] = self._counts.get(key, 0) + 1

    def _totals(self) -> tuple[dict[str, torch.Tensor], dict[str, int], list[RunningSums]]:
        """(sums, counts) since the last flush, wherever they are kept, and the buffers holding some."""
        sums, counts = dict(self._sums), dict(self._counts)
        running = [r for r in self._running.values() if r.count]
        for r in running:
            for key, total in zip(r.keys, r.sums.unbind()):
                sums[key] = sums[key] + total if key in sums else total
                counts[key] = counts.get(key, 0) + r.count + self._carried.get(key, 0)
        return sums, counts, running

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the period since the last flush (the running sums, exactly, their counts
        and ``steps``), so a resumed run's next log line averages the same steps as an uninterrupted run's."""
        sums, counts, _ = self._totals()
        return {"sums": {k: v.detach().float().cpu().tolist() for k, v in sums.items()}, "counts": counts,
                "steps": self.steps}

    def load_state_dict(self, state: dict | None, device: torch.device | str = "cpu") -> None:
        """Continue the period a checkpoint was saved in (an older checkpoint without it: a new period)."""
        state = state or {}
        self._sums = {k: torch.tensor(v, dtype=torch.float32, device=device)
                      for k, v in (state.get("sums") or {}).items()}
        self._counts = {k: int(v) for k, v in (state.get("counts") or {}).items()}
        self._running, self._carried = {}, {}
        self.steps = int(state.get("steps", 0))

    def flush(self, *, reset: bool = True) -> dict[str, float]:
        """Means since the last flush (one device read-back), then reset; ``reset=False`` reads them and
        keeps the period going (the partial record at the end of a leg between log steps: the checkpoint
        then keeps these sums, and the resumed run's next record averages the same steps as an
        uninterrupted run's)."""
        sums, counts, running = self._totals()
        if not sums:
            return {}
        keys = list(sums)
        divisors = torch.tensor([counts[k] for k in keys], dtype=torch.float32)
        values = (torch.stack([sums[k] for k in keys]).cpu() / divisors).tolist()
        if not reset:
            return dict(zip(keys, values))
        self._sums, self._counts, self._running, self._carried = {}, {}, {}, {}
        for r in running:
            r.sums.zero_()
            r.count = 0
        return dict(zip(keys, values))


class StatsWriter:
    """stats.jsonl + TensorBoard + progress display."""

    def __init__(self, run_dir: Path, total_steps: int, start_step: int, tensorboard: bool, progress: bool):
        self.path = run_dir / STATS
        self.total = total_steps
        self._tb = None
        if tensorboard:
            # imported here, only with log.tensorboard on: ~0.3 s, and every ganforge command imports this module
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(run_dir / TB), purge_step=start_step or None)
        self._start_step, self._t0, self._eta_said = start_step, _now(), False
        self._bar = None
        if progress and sys.stderr.isatty():
            self._bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True)

    def advance(self, steps: int) -> None:
        if self._bar is not None:
            self._bar.update(steps)

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(outputs.strict_json(record), allow_nan=False) + "\n")
        step = record["step"]
        if self._tb is not None:
            for key, value in record.items():
                if key != "step" and run_stats.is_number(value):
                    self._tb.add_scalar(key.replace("_", "/", 1) if key.startswith(("loss_", "D_")) else key,
                                        value, step)
        shown = _shown(record) | ({"img_per_s": record["img_per_s"]} if "img_per_s" in record else {})
        shown = shown or {k: v for k, v in record.items() if k.startswith("eval/") and isinstance(v, int | float)}
        text = "  ".join(f"{k} {v:.4g}" for k, v in shown.items())
        eta = self.eta(step)
        if eta is not None and not self._eta_said and step < self.total:
            self._eta_said = True  # the banner's last line, once the speed is known
            self.message(f"ETA: about {format_duration(eta)} for the remaining {self.total - step} steps")
        if self._bar is not None:
            self._bar.set_postfix_str(text)
        else:
            left = f"  eta {format_duration(eta)}" if eta is not None and step < self.total else ""
            print(f"step {step}/{self.total}  {text}{left}", flush=True)

    def eta(self, step: int) -> float | None:
        """Seconds left to ``total`` at the speed so far; None before any step has been timed."""
        done = step - self._start_step
        if done <= 0:
            return None
        elapsed = _now() - self._t0
        if elapsed <= 0:
            return None
        return max(self.total - step, 0) * elapsed / done

    def rewind(self, step: int) -> None:
        """Drop the records logged after ``step`` (a rollback's failed attempt, which the retry logs again),
        so each step appears once, as a resumed run's log has it; events (why it rolled back) stay."""
        run_stats.keep_until(self.path, step, later_events=True)

    def event(self, step: int, kind: str, message: str) -> None:
        """A line such as a divergence or an interruption, in the log and on screen."""
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": step, "event": kind, "message": message}) + "\n")
        self.message(message)

    def message(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._bar is not None:
            self._bar.close()


class NullWriter:
    """What processes other than rank 0 log to under torchrun: nothing (rank 0 writes the run)."""

    def advance(self, steps: int) -> None:
        pass

    def rewind(self, step: int) -> None:
        pass

    def write(self, record: dict) -> None:
        pass

    def event(self, step: int, kind: str, message: str) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``: short enough for a progress line."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def last_metrics(run_dir: Path) -> dict[str, float]:
    """The most recent evaluation during training (``eval/*`` values in stats.jsonl), or {}."""
    found: dict[str, float] = {}
    for record in run_stats.records(Path(run_dir) / STATS):
        values = {k.removeprefix("eval/"): v for k, v in record.items()
                  if k.startswith("eval/") and run_stats.is_number(v)}
        if values:
            found = values
    return found


def _shown(record: dict) -> dict:
    """The statistics worth a place on the progress line: each network's loss (``loss_<phase>``) first,
    then what a recipe reports about its critics' outputs (``D_real``, ``D_fake``), whatever it names them,
    then the collapse monitor's diversity figure (``diversity_*``)."""
    losses = {k: v for k, v in record.items() if k.startswith("loss_")}
    return (losses | {k: v for k, v in record.items() if k.endswith(("_real", "_fake"))}
            | {k: v for k, v in record.items() if k.startswith("diversity_")})


def summary_lines(*, wall_seconds: float, steps: int, batch_size: int, last: dict[str, float],
                  metrics: dict[str, float]) -> list[str]:
    """The end-of-training summary: how long, how fast, where the losses and metrics ended."""
    rate = steps * batch_size / wall_seconds if wall_seconds > 0 else 0.0
    lines = [f"trained:       {steps} steps in {format_duration(wall_seconds)} ({rate:,.0f} images/s)"]
    shown = _shown(last)
    if shown:
        lines.append("last losses:   " + "  ".join(f"{k} {v:.4g}" for k, v in shown.items())
                     + (f"  (step {int(last['step'])})" if "step" in last else ""))
    if metrics:
        lines.append("last metrics:  " + "  ".join(f"{k} {v:.4g}" for k, v in metrics.items()
                                                    if not k.endswith((".std", ".se", ".sigma"))))
    return lines
