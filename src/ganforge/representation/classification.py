"""A semi-supervised run's D as a classifier: predictions and accuracy under a named protocol.

The accuracy's name carries what makes two numbers comparable: the split measured, how many labels
the run trained with, and the seed that drew them, e.g. ``acc_test_100labels_seed0`` (the MNIST test
split, 10 labels per class, label seed 0). Nothing here selects a model: a choice between checkpoints
belongs on the ``valid`` split, and the test split is only reported. Only a dataset with a held-out
``valid`` split (MNIST) has one; elsewhere no checkpoint is selected, and the test accuracy at the end
of training is what is reported (as the paper does for CIFAR-10).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ganforge.data import load_dataset
from ganforge.data.registry import dataset_splits
from ganforge.errors import GanforgeError
from ganforge.representation.features import to_d_input
from ganforge.runs.run import Run

SPLITS = ("test", "valid")


def _classifier(run: Run):
    model = run.model
    if not hasattr(model, "class_logits"):
        raise GanforgeError(f"{run.path} is a {run.config.recipe} run, and its D does not classify; classify with a "
                            f"semi-supervised run (e.g. ganforge train ssgan-mnist-100)")
    return model


def _logits(run: Run, model, x) -> torch.Tensor:
    """The class logits of ``x``, or one line when any is NaN/inf: argmax would read them as class 0 and
    report a plausible accuracy (the share of class 0) from a diverged D."""
    logits = model.class_logits(x)
    bad = int((~logits.isfinite().all(1)).sum())
    if bad:
        raise GanforgeError(f"{run.path}'s D at step {run.step} ({run.checkpoint.name}) gives NaN or infinite class "
                            f"logits for {bad} of {len(logits)} images (its weights have diverged); classify with an "
                            f"earlier checkpoint: --checkpoint {run.path}/checkpoints/step-NNNNNNN")
    return logits


def accuracy_name(split: str, labels: int | None, label_seed: int) -> str:
    """``acc_<split>_<N>labels_seed<S>``, or ``acc_<split>_alllabels`` when every training label was used."""
    return f"acc_{split}_alllabels" if labels is None else f"acc_{split}_{labels}labels_seed{label_seed}"


def label_protocol(run: Run) -> tuple[int | None, int]:
    """(labels the run trained with, None for every label; the seed that drew them), as its checkpoint
    records them: what an accuracy's name says, in the one place both eval and the name check read."""
    record = run.state.get("net_context") or {}
    per_class = record.get("labels_per_class")
    labels = None if per_class is None else per_class * record["num_classes"]
    return labels, int(record.get("label_seed", run.config.seed))


def predict(run: Run, x: np.ndarray, flag: str = "--input") -> tuple[np.ndarray, np.ndarray]:
    """(predicted classes int64, class probabilities over the K real classes float32) for images ``x``."""
    model = _classifier(run)
    record = run.state.get("net_context") or {}
    t = to_d_input(x, record["data_shape"], run.generator.output_range, flag)
    logits = _logits(run, model, t)
    return logits.argmax(1).numpy().astype(np.int64), logits.softmax(1).numpy().astype(np.float32)


def check_split(run: Run, split: str) -> None:
    """Refuse, in one line, an accuracy split the run's dataset does not have (before anything is measured):
    the registry's hint would point at ``all``, which holds the training images."""
    if split not in SPLITS:
        raise GanforgeError(f"accuracy is measured on the test or valid split, not '{split}'")
    name = run.config.data.name
    have = dataset_splits(name)
    if split in have:
        return
    held_out = [s for s in SPLITS if s in have]
    if split == "valid":
        why = "checkpoint selection needs a held-out labelled split the run neither trains nor is reported on"
        fix = ("measure acc_test instead, the test accuracy at the end of training, with no checkpoint "
               "selected" if held_out else "train on a dataset with held-out labelled splits (e.g. mnist)")
    else:
        why = "accuracy needs held-out labelled images the run did not train on"
        fix = "train on a dataset with a test split (e.g. mnist, digits)"
    raise GanforgeError(f"dataset '{name}' has no {split} split (its splits: {', '.join(have)}), and {why}; {fix}")


def evaluate_classifier(run: Run, split: str = "test", data_dir: str | os.PathLike | None = None) -> dict[str, float]:
    """{protocol name: accuracy, protocol name + '.error': 1 - accuracy} on ``split`` of the run's dataset."""
    check_split(run, split)
    model = _classifier(run)
    cfg = run.config
    data = load_dataset(cfg.data.name, split=split, data_dir=data_dir, resolution=cfg.data.resolution,
                        channels=cfg.data.channels)
    hits = (_logits(run, model, data.x).argmax(1) == data.y).float().mean().item()
    name = accuracy_name(split, *label_protocol(run))
    return {name: hits, f"{name}.error": 1.0 - hits}
