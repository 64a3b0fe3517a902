"""The fixed downstream classifiers that train-on-synthetic scores are measured with.

A CAS / TSTR figure only compares across runs when the classifier is the same every time, so
each image shape has one named recipe: architecture, optimiser, step count, batch size and
augmentation, all stated here and recorded with every score. The step count is fixed (not the
epoch count) so that a 500-image training set and a 100,000-image one get the same compute,
which is what the augmentation table needs to be fair.

The network is the LeNet-style :class:`~ganforge.metrics.judge_nets.ConvJudge` the metric
judges are made of (written for ganforge; a judge and a CAS classifier are the same kind of
small CNN), trained here on any labelled uint8 images on one thread, inside a forked RNG so
the caller's random streams are left untouched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.metrics.judge_nets import ConvJudge


@dataclass(frozen=True)
class ClassifierRecipe:
    """Everything that decides a downstream classifier's accuracy, except its data and seed."""

    name: str
    input_shape: tuple[int, int, int]
    arch: dict[str, Any]  # ConvJudge options
    steps: int  # optimiser steps, whatever the training set's size
    batch_size: int
    lr: float  # AdamW peak learning rate, one-cycle schedule
    weight_decay: float
    augmentation: str = "none"  # no augmentation: the data alone decides the score
    threads: int = 1

    def describe(self) -> dict[str, Any]:
        return asdict(self)


RECIPES: dict[str, ClassifierRecipe] = {
    # 300 steps of 128 (0.77 epochs of MNIST's 50k) through a narrow LeNet: about 11 s of one idle CPU
    # thread. Small on purpose (CPU budget); a CAS figure compares only with figures of the same recipe.
    "cnn-mnist": ClassifierRecipe("cnn-mnist", (1, 28, 28),
                                  {"kernel": 5, "channels": [8, 16], "hidden": 64, "classes": 10, "dropout": 0.25},
                                  steps=300, batch_size=128, lr=5e-3, weight_decay=1e-4),
    # scikit-learn digits (8x8, 1500 training images): 150 steps of 64 (6 epochs), about 1 s; ~96% on real data.
    "cnn-digits": ClassifierRecipe("cnn-digits", (1, 8, 8),
                                   {"kernel": 3, "channels": [16, 32], "hidden": 64, "classes": 10, "dropout": 0.25},
                                   steps=150, batch_size=64, lr=5e-3, weight_decay=1e-4),
}
SEEDS = (0, 1, 2)  # classifier seeds: the spread over them is part of every figure


def recipe_for(shape: tuple[int, ...], num_classes: int | None) -> ClassifierRecipe:
    """The recipe for images of ``shape`` (C, H, W), or one line saying there is none."""
    for recipe in RECIPES.values():
        if tuple(recipe.input_shape) == tuple(shape) and recipe.arch["classes"] == num_classes:
            return recipe
    known = ", ".join(f"{r.name} ({'x'.join(map(str, r.input_shape))}, {r.arch['classes']} classes)"
                      for r in RECIPES.values())
    raise GanforgeError(f"no downstream classifier recipe for {num_classes}-class images of shape "
                        f"{'x'.join(map(str, shape))}; train-on-synthetic scores exist for: {known}")


def train(recipe: ClassifierRecipe, x: np.ndarray, y: np.ndarray, seed: int) -> ConvJudge:
    """A classifier trained by ``recipe`` on uint8 images ``x`` (N, C, H, W) and labels ``y``."""
    x_t, y_t = torch.as_tensor(np.ascontiguousarray(x)), torch.as_tensor(np.asarray(y), dtype=torch.int64)
    if len(x_t) == 0:
        raise GanforgeError("a downstream classifier needs at least one training image")
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)  # a fixed count: CPU results differ between thread counts
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = ConvJudge(in_channels=recipe.input_shape[0], in_size=recipe.input_shape[1], **recipe.arch)
            opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=recipe.steps)
            order = torch.Generator().manual_seed(seed)
            net.train()
            perm, at = torch.randperm(len(x_t), generator=order), 0
            for _ in range(recipe.steps):
                if at + recipe.batch_size > len(perm) and at > 0:  # a new epoch (small sets cycle many times)
                    perm, at = torch.randperm(len(x_t), generator=order), 0
                idx = perm[at:at + recipe.batch_size]
                at += recipe.batch_size
                loss = F.cross_entropy(net(x_t[idx]), y_t[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    finally:
        torch.set_num_threads(threads)
    return net.eval()


@torch.no_grad()
def predict(net: ConvJudge, x: np.ndarray, batch_size: int = 2000) -> np.ndarray:
    net.eval()
    x_t = torch.as_tensor(np.ascontiguousarray(x))
    return torch.cat([net(x_t[i:i + batch_size]).argmax(1) for i in range(0, len(x_t), batch_size)]).numpy()


def accuracy(net: ConvJudge, x: np.ndarray, y: np.ndarray, num_classes: int) -> dict[str, Any]:
    """Top-1 and per-class accuracy (NaN for a class absent from ``y``)."""
    y = np.asarray(y)
    hit = predict(net, x) == y
    per_class = [float(hit[y == c].mean()) if (y == c).any() else float("nan") for c in range(num_classes)]
    return {"top1": float(hit.mean()), "per_class": per_class}


__all__ = ["RECIPES", "SEEDS", "ClassifierRecipe", "accuracy", "predict", "recipe_for", "train"]
