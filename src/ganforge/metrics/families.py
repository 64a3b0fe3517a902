"""The metric families: each adapts one pure metric function to the evaluation context.

A compute function receives the resolved :class:`MetricSpec` and a context that
hands out the generated samples (``ctx.samples(n)``, labels in ``ctx.labels(n)``),
reference splits, judges and cached features, and returns ``(values, info)``:
values by part (see the family's ``parts``), and a JSON-able description of the
protocol as run (sizes, sigma, the judge's record).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ganforge.metrics import frechet, parzen, prdc
from ganforge.metrics.modes import class_coverage, mode_coverage
from ganforge.metrics.registry import HIGHER, LOWER, MetricError, register_family

PARZEN_VALID = 1000  # validation images used to choose sigma (the paper's limit_size)
PARZEN_TAIL_DIVISOR = 5  # without a disjoint valid split: sigma on the last 1/5 of train (at most PARZEN_VALID)
PR_K, DC_K = 3, 5
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
IS_SPLITS = 10


def _ref_desc(ctx, split: str, n: int | None = None) -> str:
    total = len(ctx.reference(split))
    used = total if n is None else n
    return f"{ctx.info.name}/{split} ({used} of {total})" if used != total else f"{ctx.info.name}/{split} ({total})"


@register_family(
    "parzen", summary="Parzen-window log-likelihood in nats (Goodfellow et al. 2014, Table 1): samples are "
                      "kernel centres, sigma from logspace(-1, 0, 10) by the likelihood of up to 1,000 images "
                      "disjoint from the reported ones (the valid split's first 1,000, else the last 20% of "
                      "the training split, held out of the report when that is the reported split), mean "
                      "over the reported images with its standard error",
    params=("ref",), parts={"": HIGHER, "se": None, "sigma": None})
def _parzen(spec, ctx):
    centres = ctx.samples(spec.count)
    choice = parzen_split(ctx, spec.ref)
    sigma, curve = parzen.select_sigma(centres, choice.sigma_x)
    mean, se = parzen.parzen_log_likelihood(centres, choice.report_x, sigma)
    info = {"reference": choice.report_desc, "sigma_selected_on": choice.sigma_desc,
            "sigmas": list(parzen.SIGMAS), "valid_ll_by_sigma": curve, "pixels": "uint8 / 255"}
    if choice.dropped:
        info["sigma_images_dropped"] = (f"{choice.dropped} images identical to reported ones left out of the "
                                        f"sigma images")
    return {"": mean, "se": se, "sigma": sigma}, info


@dataclass
class ParzenSplit:
    """Where the Parzen sigma is chosen and what the likelihood is reported on: never the same images."""

    sigma_x: np.ndarray
    sigma_desc: str
    report_x: np.ndarray
    report_desc: str
    dropped: int = 0


def _row_keys(x: np.ndarray) -> list[bytes]:
    flat = np.ascontiguousarray(x.reshape(len(x), -1))
    return [row.tobytes() for row in flat]


def _disjoint(pool: np.ndarray, reported: np.ndarray) -> tuple[np.ndarray, int]:
    """``pool`` without the images byte-identical to one of ``reported``, and how many were left out."""
    keys = _row_keys(pool)
    wanted = set(keys)
    seen = {k for k in _row_keys(reported) if k in wanted}
    keep = np.array([k not in seen for k in keys], dtype=bool)
    return pool[keep], int((~keep).sum())


def _tail(n: int) -> int:
    """Images held out at the end of a split to choose sigma: 20% of it, at most PARZEN_VALID."""
    return min(PARZEN_VALID, n // PARZEN_TAIL_DIVISOR)


# The splits parzen looks to for sigma's images, in order, before the reported split's own last 20%
SIGMA_SPLITS = ("valid", "train")


def parzen_sigma_candidates(splits: tuple[str, ...], ref: str) -> list[str]:
    """The splits :func:`parzen_split` tries, in order, for sigma's images when it reports on ``ref``."""
    return [split for split in SIGMA_SPLITS if split in splits and split != ref]


def parzen_sigma_split(splits: tuple[str, ...], ref: str) -> str:
    """The split :func:`parzen_split` first looks to for sigma's images when it reports on ``ref``, known from
    the split names alone (dp-noise-to-image asks before any data is loaded): valid, else train, else ``ref``."""
    return next(iter(parzen_sigma_candidates(splits, ref)), ref)


def parzen_split(ctx, ref: str) -> ParzenSplit:
    """Sigma is chosen on images disjoint from the reported ones (choosing it on the reported split is
    model selection on that split). In order: the first 1,000 of ``valid`` (MNIST: the paper's protocol);
    else the last 20% (at most 1,000) of ``train``; else (the reported split is train, or holds the
    candidates, as digits/all and mnist/train60k do) the last 20% of the reported split, which is then
    reported without them. Candidate images byte-identical to a reported image are left out."""
    name = ctx.info.name
    report_x = _numpy(ctx.reference(ref).x)
    total = len(report_x)
    for split in parzen_sigma_candidates(ctx.info.splits, ref):
        pool, desc = _sigma_pool(ctx, split)
        if not len(pool):  # a train split of fewer than 5 images holds out none
            continue
        kept, dropped = _disjoint(pool, report_x)
        if len(kept):
            return ParzenSplit(kept, desc, report_x, f"{name}/{ref} ({total})", dropped)
    h = _tail(total)
    if h == 0:
        raise MetricError(f"parzen on {name}/{ref} needs images disjoint from the reported ones to choose "
                          f"sigma: {name} has no other split to take them from and {ref} has {total} images, "
                          f"too few to hold out 20%; give at least {PARZEN_TAIL_DIVISOR} images")
    report_x, pool = report_x[:total - h], report_x[total - h:]
    kept, dropped = _disjoint(pool, report_x)
    if not len(kept):
        raise MetricError(f"parzen on {name}/{ref}: the last {h} images, held out to choose sigma, all repeat "
                          f"reported ones; no disjoint images to choose sigma on")
    return ParzenSplit(kept, f"{name}/{ref}[{total - h}:{total}] (held out of the report)", report_x,
                       f"{name}/{ref}[:{total - h}] ({total - h} of {total}; the last {h} held out to choose "
                       f"sigma)", dropped)


def _sigma_pool(ctx, split: str) -> tuple[np.ndarray, str]:
    """Sigma's candidate images in ``split`` (one of :data:`SIGMA_SPLITS`), described: the first 1,000 of valid,
    or the last 20% (at most 1,000) of train."""
    name, x = ctx.info.name, _numpy(ctx.reference(split).x)
    if split == "valid":
        return x[:PARZEN_VALID], f"{name}/valid[:{min(PARZEN_VALID, len(x))}]"
    h = _tail(len(x))
    return x[len(x) - h:], f"{name}/train[{len(x) - h}:{len(x)}] (the last {h} training images)"


def _numpy(x) -> np.ndarray:
    return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _judge_info(ctx, judge_name: str) -> dict:
    return {"judge": ctx.judge(judge_name).summary()}


@register_family("fid", summary="Fréchet distance between Gaussians fitted to judge features of samples and "
                                "the reference split (torchmetrics FID on the judge's penultimate layer)",
                 params=("ref", "judge"), parts={"": LOWER})
def _fid(spec, ctx):
    fake, _ = ctx.fake_features(spec.judge, spec.count)
    real, _ = ctx.real_features(spec.judge, spec.ref)
    return {"": frechet.frechet_distance(real, fake)}, {"reference": _ref_desc(ctx, spec.ref),
                                                        **_judge_info(ctx, spec.judge)}


@register_family("kid", summary="kernel inception distance (unbiased MMD^2, cubic kernel; torchmetrics) in "
                                "judge features: mean and std over 100 subsets of min(1000, n_samples, "
                                "n_reference) of each set; std is null when a subset is the whole of both sets",
                 params=("ref", "judge"), parts={"": LOWER, "std": None})
def _kid(spec, ctx):
    fake, _ = ctx.fake_features(spec.judge, spec.count)
    real, _ = ctx.real_features(spec.judge, spec.ref)
    mean, std = frechet.kernel_distance(real, fake, KID_SUBSETS, KID_SUBSET_SIZE, seed=ctx.seed)
    size = min(KID_SUBSET_SIZE, len(real), len(fake))
    resampled = [side for side, n in (("samples", len(fake)), ("reference", len(real))) if n > size]
    info = {"reference": _ref_desc(ctx, spec.ref), "subsets": KID_SUBSETS, "subset_size": size,
            "resampled": resampled}
    if not resampled:
        info["note"] = (f"every subset is the whole of both sets ({size} samples, {size} reference items): "
                        f"no spread to report, std is null")
    return {"": mean, "std": std}, {**info, **_judge_info(ctx, spec.judge)}


@register_family("is", summary="Inception-Score formula exp(E KL(p(y|x) || p(y))) on the judge's class "
                               "logits: mean and std (ddof=0, as Salimans et al.'s code) over 10 balanced "
                               "splits of the samples after a seeded permutation; not comparable with "
                               "Inception Scores unless the judge is inception",
                 params=("judge",), parts={"": HIGHER, "std": None}, min_count=2 * IS_SPLITS,
                 why_min=f" ({IS_SPLITS} splits of at least 2)")
def _is(spec, ctx):
    _, logits = ctx.fake_features(spec.judge, spec.count)
    mean, std = frechet.classifier_score(logits, IS_SPLITS, seed=ctx.seed)
    sizes = [b - a for a, b in frechet.split_bounds(len(logits), IS_SPLITS)]
    return {"": mean, "std": std}, {"splits": IS_SPLITS, "split_sizes": sizes, "std_ddof": 0,
                                    "permuted_with_seed": ctx.seed, "classes": int(logits.shape[1]),
                                    **_judge_info(ctx, spec.judge)}


def _paired_reference(ctx, spec):
    """``count`` reference features: the whole split, or a fixed random subset of it."""
    real, _ = ctx.real_features(spec.judge, spec.ref)
    if len(real) > spec.count:
        gen = torch.Generator().manual_seed(0)  # the same subset for every model measured
        real = real[torch.randperm(len(real), generator=gen)[:spec.count]]
    return real


@register_family("pr", summary="improved precision and recall (Kynkäänniemi et al. 2019, k=3) in judge "
                               "features, n samples against n reference items",
                 params=("ref", "judge"), parts={"precision": HIGHER, "recall": HIGHER}, paired=True,
                 min_count=PR_K + 1, why_min=f" (each sample's {PR_K} nearest neighbours besides itself)")
def _pr(spec, ctx):
    return _neighbourhoods(spec, ctx, prdc.precision_recall, PR_K)


@register_family("dc", summary="density and coverage (Naeem et al. 2020, k=5) in judge features, n samples "
                               "against n reference items",
                 params=("ref", "judge"), parts={"density": HIGHER, "coverage": HIGHER}, paired=True,
                 min_count=DC_K + 1, why_min=f" (each sample's {DC_K} nearest neighbours besides itself)")
def _dc(spec, ctx):
    return _neighbourhoods(spec, ctx, prdc.density_coverage, DC_K)


def _neighbourhoods(spec, ctx, measure, k: int):
    """pr and dc: a k-nearest-neighbour measure of samples against as many reference items, in judge features."""
    fake, _ = ctx.fake_features(spec.judge, spec.count)
    real = _paired_reference(ctx, spec)
    return measure(real, fake, k), {"reference": _ref_desc(ctx, spec.ref, len(real)), "k": k,
                                    **_judge_info(ctx, spec.judge)}


@register_family("acc", summary="class-conditional generators: the judge's accuracy on samples generated for a "
                                "requested class, overall and for the worst class (per class in the report)",
                 params=("judge",), parts={"": HIGHER, "worst_class": HIGHER})
def _acc(spec, ctx):
    labels = ctx.labels(spec.count)
    if labels is None:
        raise MetricError("acc needs the class each sample was generated for: evaluate a class-conditional run "
                          "(ganforge eval RUN), or pass --labels FILE.labels.npy (written by ganforge sample) "
                          "with --samples")
    labels = np.asarray(labels)
    if len(labels) < spec.count:
        raise MetricError(f"{spec.name} needs a class label for each of its {spec.count} samples, and "
                          f"{len(labels)} were given; pass the labels written with the samples")
    _, logits = ctx.fake_features(spec.judge, spec.count)
    classes = int(logits.shape[1])
    outside = (labels < 0) | (labels >= classes)
    if outside.any():
        raise MetricError(f"{spec.name}: {int(outside.sum())} labels lie outside the classes 0..{classes - 1} "
                          f"judge '{spec.judge}' tells apart (e.g. {int(labels[outside][0])}); pass the labels "
                          f"the samples were generated for, on this judge's classes")
    hits = logits.argmax(1).numpy() == labels
    per_class = {int(c): float(hits[labels == c].mean()) for c in np.unique(labels)}
    return ({"": float(hits.mean()), "worst_class": min(per_class.values())},
            {"per_class": per_class, **_judge_info(ctx, spec.judge)})


@register_family("modes", summary="mode coverage: modes hit and KL(sample modes || uniform); 2-D mixtures: "
                                  "nearest centre within t std (VEEGAN/PacGAN); images: the judge's class, per "
                                  "channel on Stacked MNIST (PacGAN)",
                 params=("judge", "std"), parts={"": HIGHER, "reverse_kl": LOWER, "high_quality": HIGHER},
                 kinds=("image", "points"), requires={"high_quality": "std"})
def _modes(spec, ctx):
    if ctx.info.kind == "points":
        meta = ctx.info.meta
        out = mode_coverage(ctx.samples(spec.count), meta["centers"], meta["std"], spec.std)
        info = {"num_modes": out["num_modes"], "threshold_std": spec.std, "counts": out["counts"]}
        if not sum(out["counts"]):
            info["note"] = (f"no sample lies within {spec.std:g} std of a centre: reverse_kl (KL of an empty "
                            f"histogram) is undefined, written as null")
        return ({"": out["modes"], "reverse_kl": out["reverse_kl"], "high_quality": out["high_quality"]}, info)
    _, logits = ctx.fake_features(spec.judge, spec.count)
    num_modes = ctx.info.num_classes or logits.shape[1]
    if logits.shape[1] != num_modes:
        raise MetricError(f"judge '{spec.judge}' tells {logits.shape[1]} classes apart, and {ctx.info.name} "
                          f"has {num_modes}; use a judge trained for this dataset")
    out = class_coverage(logits.argmax(1).numpy(), num_modes)
    return ({"": out["modes"], "reverse_kl": out["reverse_kl"]},
            {"num_modes": out["num_modes"], "histogram_max": int(np.max(out["counts"])),
             **_judge_info(ctx, spec.judge)})
