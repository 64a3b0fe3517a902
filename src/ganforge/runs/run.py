"""A run, opened once: its config, one checkpoint, and the networks in it, ready to use.

``sample``, ``eval``, ``figures`` and the Python API all start here, so choosing a
checkpoint (``latest`` falls back past a damaged one, with one warning line), reading
the checkpoint's recorded facts (step, number of classes) and building the networks
happen in one place. What the networks *do* (noise to image, image to image, ...)
belongs to the run's recipe, which this object hands the loaded checkpoint to.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge import recipes
from ganforge.config import RunConfig
from ganforge.errors import CheckpointError, warn as warn_line
from ganforge.runs import checkpoint
from ganforge.run_layout import CHECKPOINTS, CONFIG
from ganforge.runs.rundir import read_config
from ganforge.sampling import collect

Which = str | os.PathLike


def checkpoint_path(run_dir: Path, which: Which = "latest") -> Path:
    """``latest`` (the newest complete one), ``best``, or an explicit checkpoint directory."""
    root = Path(run_dir) / CHECKPOINTS
    if which == "latest":
        found = checkpoint.list_checkpoints(root)
        if not found:
            raise CheckpointError(f"{run_dir} has no checkpoint yet; train longer or pass --checkpoint PATH")
        return found[-1]
    if which == "best":
        best = root / "best"
        if not (best / "manifest.json").exists():
            raise CheckpointError(f"{run_dir} has no 'best' checkpoint: it is kept only when the run evaluates "
                                  f"a metric during training; use --checkpoint latest")
        return best
    path = Path(which)
    if not (path / "manifest.json").exists():
        raise CheckpointError(f"{which} is not a checkpoint directory (no manifest.json); "
                              f"use latest, best, or a path like RUN/checkpoints/step-0001000")
    if path.resolve().parent != root.resolve():  # another run's: its outputs would be labelled as this run's
        owner = path.resolve().parent.parent
        whose = (f"one of the run {owner}'s" if path.resolve().parent.name == CHECKPOINTS
                 and (owner / CONFIG).is_file() else "not one of this run's")
        raise CheckpointError(f"checkpoint {which} is {whose}, not in {root}; give that run as RUN_DIR to use "
                              f"it, or latest, best or a checkpoint in {root}")
    return path


def _load(run_dir: Path, which: Which, warn: Callable[[str], None]
          ) -> tuple[Path, dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    if which == "latest":  # a damaged newest checkpoint falls back to the one before, as --resume does
        checkpoint_path(run_dir, which)  # the "no checkpoint yet" message
        return checkpoint.load_latest(Path(run_dir) / CHECKPOINTS, warn=warn)
    path = checkpoint_path(run_dir, which)
    tensors, state = checkpoint.load(path)
    return path, tensors, state


@dataclass
class Run:
    """A run directory with one checkpoint loaded: ``config``, ``state``, ``step``, the networks."""

    path: Path
    config: RunConfig
    checkpoint: Path
    state: dict[str, Any]
    model: recipes.TrainedModel
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def step(self) -> int:
        return int(self.state.get("step", 0))

    @property
    def num_classes(self) -> int | None:
        return (self.state.get("net_context") or {}).get("num_classes")

    @property
    def nets(self) -> dict[str, nn.Module]:
        return self.model.nets

    @property
    def generator(self) -> nn.Module:
        """The network samples come from (the moving average when the run kept one)."""
        return self.model.generator

    def sample_chunks(self, n: int, seed: int = 0, **options: Any) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """``n`` samples in the data's form, a chunk at a time, with their labels (or None)."""
        return self.model.sample_chunks(n, seed=seed, device=self.device, **options)

    def sample_with_labels(self, n: int, seed: int = 0, **options: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """(samples, the class each was generated for, or None when the model is not conditional)."""
        return collect(self.sample_chunks(n, seed, **options))

    def sample(self, n: int, seed: int = 0, *, classes: int | Sequence[int] | None = None,
               truncation: float | None = None) -> np.ndarray:
        """``n`` samples (uint8 images or float32 points), the same for the same seed; ``classes`` and
        ``truncation`` for the recipes whose models take them (noise to image does)."""
        options = {k: v for k, v in (("classes", classes), ("truncation", truncation)) if v is not None}
        return self.sample_with_labels(n, seed, **options)[0]


def load_run(path: str | os.PathLike, checkpoint: Which = "latest", *, device: str | torch.device = "cpu",
             warn: Callable[[str], None] = warn_line) -> Run:
    """Open a run directory written by ``ganforge train`` at one checkpoint (``latest``, ``best`` or a path)."""
    run_dir = Path(path)
    cfg = read_config(run_dir)
    ckpt, tensors, state = _load(run_dir, checkpoint, warn)
    device = torch.device(device)
    try:
        model = recipes.get(cfg.recipe).trained(cfg, state, tensors, device)
    except CheckpointError as e:
        raise CheckpointError(f"{ckpt} {e}") from None
    return Run(run_dir, cfg, ckpt, state, model, device)
