"""Training statistics: gathered on the device, read back every N steps, written three ways.

Per step, phases hand back detached tensors; :class:`StatsAccumulator` sums them
on the device, so the loop never waits for the GPU. Every ``log.every`` steps one
read-back produces means that go to ``stats.jsonl`` (one JSON object per line),
TensorBoard and the progress bar.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch


class StatsAccumulator:
    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    def add(self, stats: dict[str, torch.Tensor]) -> None:
        for key, value in stats.items():
            value = value.detach().float()
            self._sums[key] = self._sums[key] + value if key in self._sums else value.clone()
            self._counts[key] = self._counts.get(key, 0) + 1

    def flush(self) -> dict[str, float]:
        """Means since the last flush (one device read-back), then reset."""
        if not self._sums:
            return {}
        keys = list(self._sums)
        counts = torch.tensor([self._counts[k] for k in keys], dtype=torch.float32)
        values = (torch.stack([self._sums[k] for k in keys]).cpu() / counts).tolist()
        self._sums, self._counts = {}, {}
        return dict(zip(keys, values))


class StatsWriter:
    """stats.jsonl + TensorBoard + progress display."""

    def __init__(self, run_dir: Path, total_steps: int, start_step: int, tensorboard: bool, progress: bool):
        self.path = run_dir / "stats.jsonl"
        self.total = total_steps
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(run_dir / "tb"), purge_step=start_step or None)
        self._bar = None
        if progress and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True)

    def advance(self, steps: int) -> None:
        if self._bar is not None:
            self._bar.update(steps)

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        step = record["step"]
        if self._tb is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float) and math.isfinite(value):
                    self._tb.add_scalar(key.replace("_", "/", 1) if key.startswith(("loss_", "D_")) else key,
                                        value, step)
        shown = {k: record[k] for k in ("loss_D", "loss_G", "D_real", "D_fake", "img_per_s") if k in record}
        shown = shown or {k: v for k, v in record.items() if k.startswith("eval/") and isinstance(v, int | float)}
        text = "  ".join(f"{k} {v:.4g}" for k, v in shown.items())
        if self._bar is not None:
            self._bar.set_postfix_str(text)
        else:
            print(f"step {step}/{self.total}  {text}", flush=True)

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

    def write(self, record: dict) -> None:
        pass

    def event(self, step: int, kind: str, message: str) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass
