"""Training a judge: the same spec and data give the same weights, and the caller's state is untouched."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ganforge.data.base import Dataset
from ganforge.metrics.judge_nets import ConvJudge, JudgeSpec
from ganforge.metrics.judge_training import train_classifier

SPEC = JudgeSpec(name="tiny", dataset="tinyjudge", input_shape=(1, 8, 8),
                 arch={"kernel": 3, "channels": [4], "hidden": 8, "classes": 2, "dropout": 0.1},
                 recipe={"epochs": 3, "batch_size": 16, "lr": 1e-2, "weight_decay": 0.0, "seed": 0, "threads": 1})


def _two_classes(seed: int) -> Dataset:
    """Class 1 is bright, class 0 dark: a judge that learns anything separates them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 96)
    x = (y[:, None, None, None] * 200 + rng.integers(0, 40, (96, 1, 8, 8))).astype(np.uint8)
    return Dataset(name="tinyjudge", kind="image", x=torch.from_numpy(x), y=torch.from_numpy(y.astype(np.int64)),
                   num_classes=2)


def test_same_spec_and_data_give_bitwise_the_same_weights():
    train, test = _two_classes(0), _two_classes(1)
    first, stats = train_classifier(SPEC, train, test)
    second, _ = train_classifier(SPEC, train, test)
    assert isinstance(first, ConvJudge) and not first.training
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert stats["test_accuracy"] == 1.0 and (stats["train_size"], stats["test_size"]) == (96, 96)
    reseeded, _ = train_classifier(dataclasses.replace(SPEC, recipe={**SPEC.recipe, "seed": 1}), train, test)
    assert not torch.equal(reseeded.head.weight, first.head.weight)  # the recipe's seed is what fixes them


def test_callers_rng_and_thread_count_are_left_alone():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(7)
        state = torch.random.get_rng_state()
        seen = []
        train_classifier(SPEC, _two_classes(0), _two_classes(1), log_fn=seen.append)
        assert torch.equal(state, torch.random.get_rng_state())
        assert torch.get_num_threads() == 2
        assert seen and seen[-1].startswith("judge tiny: epoch 3/3 done")
    finally:
        torch.set_num_threads(threads)


def test_horizontal_flips_are_drawn_only_when_the_recipe_asks():
    """``hflip`` mirrors a random half of each batch (the CIFAR judges' augmentation): a judge trained with
    it differs from one without, and a recipe without the key trains exactly as before it existed."""
    train, test = _two_classes(0), _two_classes(1)
    plain, _ = train_classifier(SPEC, train, test)
    off, _ = train_classifier(dataclasses.replace(SPEC, recipe={**SPEC.recipe, "hflip": False}), train, test)
    flipped, stats = train_classifier(dataclasses.replace(SPEC, recipe={**SPEC.recipe, "hflip": True}), train, test)
    assert torch.equal(plain.head.weight, off.head.weight)
    assert not torch.equal(plain.head.weight, flipped.head.weight)
    assert stats["test_accuracy"] == 1.0  # brightness does not care about mirroring
