"""Where train-on-synthetic and audit numbers get their arrays: a run's samples and its real data.

Real data are loaded exactly as the run trained on them (its config's dataset, split and
resizing), and checked against the fingerprint recorded in the run's ``options.json``: an audit
or a CAS baseline on different data than the run saw would measure nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ganforge import capabilities as cap
from ganforge.data import Dataset, load_dataset
from ganforge.data.registry import run_data_options
from ganforge.data.fingerprint import fingerprint
from ganforge.errors import DataError, GanforgeError
from ganforge.runs import rundir
from ganforge.runs.run import Run

def check_labelled(run: Run) -> None:
    """One line unless the run draws class-conditional samples (checked before any data are loaded)."""
    if cap.CLASSES not in cap.capabilities_of(run.model) or not run.config.model.g.conditional or not run.num_classes:
        raise GanforgeError(f"{run.path} is a {run.config.recipe} run, not class-conditional (it offers "
                            f"{cap.describe(cap.capabilities_of(run.model))}), so it draws no labelled samples to "
                            f"train a classifier on; use a class-conditional run such as cgan-mnist")


def training_data(run: Run, data_dir: str | os.PathLike | None = None) -> Dataset:
    """The run's training data, as it saw them; one line if they are missing or differ."""
    d = run.config.data
    try:
        data = load_dataset(d.name, split=d.split, data_dir=data_dir, **run_data_options(d, run.config.seed))
    except DataError as e:
        raise DataError(f"this needs the run's training data ({d.name}, split {d.split}), which cannot be loaded: "
                        f"{e}") from None
    try:
        recorded = (json.loads((Path(run.path) / rundir.OPTIONS).read_text()).get("data") or {}).get("fingerprint")
    except (OSError, ValueError):
        recorded = None
    if recorded and recorded != fingerprint(data):
        raise DataError(f"the data loaded as {d.name} (split {d.split}) differ from those {run.path} was trained on "
                        f"(fingerprint mismatch); restore the original data or pass --data-dir where they are")
    return data


def reference_split(run: Run, split: str, data_dir: str | os.PathLike | None = None,
                    dataset: str | None = None) -> Dataset:
    """Another split of the run's dataset (or of ``dataset``), resized like the training data."""
    d = run.config.data
    name = dataset or d.name
    options = run_data_options(d, run.config.seed) if dataset is None else \
        {"resolution": d.resolution, "channels": d.channels, "seed": run.config.seed}
    options["limit"] = None  # data.limit cuts the training split only
    return load_dataset(name, split=split, data_dir=data_dir, **options)


def labelled_samples(run: Run, n: int, seed: int = 0, **options) -> tuple[np.ndarray, np.ndarray]:
    """``n`` class-balanced samples (classes cycled 0..K-1) and the class each was generated for."""
    check_labelled(run)
    x, y = run.sample_with_labels(n, seed, classes=list(range(run.num_classes)), **options)
    return x, y


__all__ = ["check_labelled", "labelled_samples",
           "reference_split", "training_data"]
