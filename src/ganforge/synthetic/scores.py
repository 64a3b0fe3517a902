"""Train-on-synthetic scores: CAS / TSTR, GAN-test, and the augmentation table.

All three answer "is this synthetic data useful to a downstream model?" with the fixed
classifier recipes of :mod:`.classifier`, over several classifier seeds, tested on the real
test split:

- **CAS** (Ravuri & Vinyals 2019; *TSTR*, train on synthetic, test on real; *GAN-train* in
  Shmelkov et al. 2018): a classifier trained only on class-conditional samples, as many as the
  real training set, against the same classifier trained on the real training set.
  ``cas50k_test``: 50,000 samples, the real test split.
- **GAN-test** (Shmelkov et al. 2018): the real-trained classifier's accuracy on generated
  samples, against the class each was generated for (fidelity to the requested class).
- **Augmentation:** real data at several fractions of the training set, each with and without
  synthetic samples added (as many as the full real training set), so a reader sees where
  synthetic data helps (little real data) and where it hurts.

Each function takes arrays (uint8 images, int labels); :mod:`ganforge.synthetic.sources`
draws them from a run. Every figure carries its protocol: the recipe, the seeds, the sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ganforge.metrics.modes import format_count
from ganforge.synthetic import classifier
from ganforge.synthetic.classifier import ClassifierRecipe

Log = Callable[[str], None]
FRACTIONS = (0.01, 0.1, 1.0)  # the augmentation table's real-data fractions


def summarize(results: list[dict[str, Any]], seeds: Sequence[int]) -> dict[str, Any]:
    top1 = np.array([r["top1"] for r in results])
    per_class = np.nanmean(np.array([r["per_class"] for r in results]), axis=0)
    return {"top1_mean": float(top1.mean()), "top1_std": float(top1.std(ddof=1)) if len(top1) > 1 else 0.0,
            "top1": top1.tolist(), "per_class_mean": per_class.tolist(), "seeds": list(seeds)}


def train_and_test(recipe: ClassifierRecipe, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                   test_y: np.ndarray, seeds: Sequence[int] = classifier.SEEDS, log: Log | None = None,
                   what: str = "") -> dict[str, Any]:
    """The recipe's classifier trained once per seed on (train_x, train_y), tested on the test arrays."""
    num_classes = recipe.arch["classes"]
    results = []
    for seed in seeds:
        net = classifier.train(recipe, train_x, train_y, seed)
        results.append(classifier.accuracy(net, test_x, test_y, num_classes))
        if log is not None:
            log(f"{what or 'classifier'} seed {seed}: top-1 {results[-1]['top1']:.4f}")
    return {**summarize(results, seeds), "train_size": int(len(train_x))}


def cas(synth_x: np.ndarray, synth_y: np.ndarray, real_x: np.ndarray, real_y: np.ndarray, test_x: np.ndarray,
        test_y: np.ndarray, recipe: ClassifierRecipe, seeds: Sequence[int] = classifier.SEEDS,
        real_baseline: dict[str, Any] | None = None, log: Log | None = None) -> dict[str, Any]:
    """CAS: train on the synthetic set (as large as the real one), test on real; with the real baseline."""
    baseline = real_baseline or train_and_test(recipe, real_x, real_y, test_x, test_y, seeds, log, "real")
    synthetic = train_and_test(recipe, synth_x, synth_y, test_x, test_y, seeds, log, "synthetic")
    return {"name": f"cas{format_count(len(synth_x))}_test", "recipe": recipe.describe(), "synthetic": synthetic,
            "real": baseline, "gap": baseline["top1_mean"] - synthetic["top1_mean"], "test_size": int(len(test_x))}


def gan_test(synth_x: np.ndarray, synth_y: np.ndarray, real_x: np.ndarray, real_y: np.ndarray,
             recipe: ClassifierRecipe, seeds: Sequence[int] = classifier.SEEDS,
             log: Log | None = None) -> dict[str, Any]:
    """GAN-test: classifiers trained on the real training set, scored on the generated samples' classes."""
    result = train_and_test(recipe, real_x, real_y, synth_x, synth_y, seeds, log, "gan-test")
    return {"name": f"gan_test{format_count(len(synth_x))}", "recipe": recipe.describe(), **result}


def _subset(n: int, fraction: float, y: np.ndarray, seed: int) -> np.ndarray:
    """A class-stratified random subset of ``round(n * fraction)`` indices (at least one per class)."""
    rng = np.random.default_rng(seed)
    if fraction >= 1.0:
        return np.arange(n)
    keep = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        keep.append(rng.choice(members, size=max(1, round(len(members) * fraction)), replace=False))
    return np.sort(np.concatenate(keep))


def augmentation(synth_x: np.ndarray, synth_y: np.ndarray, real_x: np.ndarray, real_y: np.ndarray,
                 test_x: np.ndarray, test_y: np.ndarray, recipe: ClassifierRecipe,
                 fractions: Sequence[float] = FRACTIONS, seeds: Sequence[int] = classifier.SEEDS,
                 log: Log | None = None) -> dict[str, Any]:
    """Test accuracy with ``fraction`` of the real training set, alone and with all of ``synth`` added.

    The real subset for a seed is drawn with that seed (stratified by class), so the spread covers
    both which real images were kept and the classifier's initialisation.
    """
    rows = []
    for fraction in fractions:
        row: dict[str, Any] = {"fraction": fraction}
        for added in (False, True):
            results = []
            for seed in seeds:
                keep = _subset(len(real_x), fraction, real_y, seed)
                x, y = real_x[keep], real_y[keep]
                if added:
                    x, y = np.concatenate([x, synth_x]), np.concatenate([y, synth_y])
                net = classifier.train(recipe, x, y, seed)
                results.append(classifier.accuracy(net, test_x, test_y, recipe.arch["classes"]))
                if log is not None:
                    log(f"augmentation {fraction:g} real{' + synthetic' if added else ''} seed {seed}: "
                        f"top-1 {results[-1]['top1']:.4f}")
            row["with_synthetic" if added else "real_only"] = {**summarize(results, seeds),
                                                              "real_size": int(len(keep)),
                                                              "synthetic_size": int(len(synth_x)) if added else 0}
        row["change"] = row["with_synthetic"]["top1_mean"] - row["real_only"]["top1_mean"]
        rows.append(row)
    return {"name": f"augment{format_count(len(synth_x))}_test", "recipe": recipe.describe(), "rows": rows}


__all__ = ["FRACTIONS", "augmentation", "cas", "gan_test", "train_and_test"]
