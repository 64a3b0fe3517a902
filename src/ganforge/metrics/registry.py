"""Metric families and the protocol-labelled names they produce.

A metric is a *family* (``fid``, ``parzen``, ...) plus the parameters of its
protocol, and its name spells all of them, so two numbers with the same name
were measured the same way:

    <family><count>[_<reference split>][_<judge>|_<t>std]

    parzen10k_test         10,000 samples as kernel centres, log-likelihood of the test split
    fid10k_test_lenet      FID between 10,000 samples and the test split, in LeNet features
    kid10k_test_lenet      KID, same protocol
    is10k_lenet            Inception-Score formula on the LeNet's logits (no reference)
    pr10k_test_lenet       precision and recall (k=3) against 10,000 test images
    dc10k_test_lenet       density and coverage (k=5), same
    modes2500_3std         2-D mixtures: modes hit by samples within 3 std of a centre
    modes26k_lenet         images: classes (Stacked MNIST: 1,000 colour-digit triples) the judge sees

Counts are written ``10k`` when a multiple of 1,000. A user may leave parts out
(``fid``, ``fid_train``, ``pr5k``); :func:`resolve` fills them from the dataset's
defaults and returns the full name. Each family lists its value *parts* and
whether higher or lower is better for each: a metric with parts ``precision``
and ``recall`` reports ``pr10k_test_lenet.precision`` and
``pr10k_test_lenet.recall``; the part ``""`` is the bare name.

Adding a family is one :func:`register_family` call with a compute function
``(spec, ctx) -> (values, info)`` (see ``ganforge.metrics.evaluation``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ganforge.errors import MetricError, did_you_mean
from ganforge.metrics import parzen
from ganforge.metrics.judges import INCEPTION, JUDGES, judge_names
from ganforge.metrics.modes import format_count

HIGHER, LOWER = "higher", "lower"
DEFAULT_N = 10_000
DEFAULT_THRESHOLD = 3.0
DEFAULT_MODES_N = {"points": 2500, "stacked-mnist": 26_000}


@dataclass(frozen=True)
class Family:
    name: str
    summary: str
    params: tuple[str, ...]  # which of "ref", "judge", "std" the name carries (the count always)
    parts: dict[str, str | None]  # value part -> HIGHER / LOWER / None (informational)
    kinds: tuple[str, ...]  # dataset kinds it applies to: "image", "points"
    compute: Callable[..., tuple[dict[str, float], dict[str, Any]]]
    paired: bool = False  # compares `count` samples with `count` reference items (pr, dc)
    requires: dict[str, str] = field(default_factory=dict)  # part -> spec field it exists only with
    min_count: int = 2  # fewest samples it is defined for (pr, dc: k nearest neighbours need k + 1)
    why_min: str = ""  # the reason for a min_count above 2, for the refusal


FAMILIES: dict[str, Family] = {}


def register_family(name: str, *, summary: str, params: tuple[str, ...], parts: dict[str, str | None],
                    kinds: tuple[str, ...] = ("image",), paired: bool = False,
                    requires: dict[str, str] | None = None, min_count: int = 2, why_min: str = ""):
    """Decorator: register ``compute(spec, ctx) -> (values by part, info)`` as metric family ``name``."""
    if not re.fullmatch(r"[a-z]+", name):
        raise ValueError(f"metric family names are lowercase letters only, got {name!r}")
    if name in FAMILIES:
        raise ValueError(f"metric family {name!r} is registered twice")

    def deco(fn):
        FAMILIES[name] = Family(name, summary, params, dict(parts), kinds, fn, paired, dict(requires or {}),
                                min_count, why_min)
        return fn

    return deco


@dataclass(frozen=True)
class MetricSpec:
    """One fully specified metric: family + protocol parameters."""

    family: str
    count: int
    ref: str | None = None
    judge: str | None = None
    std: float | None = None

    @property
    def name(self) -> str:
        text = f"{self.family}{format_count(self.count)}"
        for part in (self.ref, self.judge, None if self.std is None else f"{self.std:g}std"):
            if part is not None:
                text += f"_{part}"
        return text

    def key(self, part: str) -> str:
        return self.name if part == "" else f"{self.name}.{part}"

    @property
    def parts(self) -> dict[str, str | None]:
        """Value part -> direction, for the parts this spec reports."""
        fam = FAMILIES[self.family]
        return {p: b for p, b in fam.parts.items() if getattr(self, fam.requires.get(p, "family")) is not None}

    @property
    def keys(self) -> list[str]:
        return [self.key(p) for p in self.parts]

    @property
    def better(self) -> dict[str, str | None]:
        return {self.key(p): b for p, b in self.parts.items()}


@dataclass
class DatasetInfo:
    """What name resolution needs to know about the dataset measured against."""

    name: str
    kind: str
    splits: tuple[str, ...]
    default_judge: str | None = None
    num_classes: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    reference_size: Callable[[str], int] | None = None  # split -> number of items
    # One sample's shape, (C, H, W) or (D,): which judges can read it is known from the name, before any
    # sample is drawn or judge trained. None: not known, not checked.
    shape: tuple[int, ...] | None = None
    # The metrics choose a checkpoint (in-training eval keeps checkpoints/best by them): a name without a split
    # is then measured against valid (else train), never the test split the final figures are reported on.
    selecting: bool = False

    @property
    def default_ref(self) -> str:
        if self.selecting:
            return next(s for s in ("valid", "train", *self.splits) if s in self.splits and s != "test")
        return "test" if "test" in self.splits else self.splits[0]


_NAME = re.compile(r"^(?P<family>[a-z]+)(?P<count>\d+k?)?(?P<rest>(?:_[a-z0-9.\-]+)*)$")


def parse_count(text: str) -> int:
    return int(text[:-1]) * 1000 if text.endswith("k") else int(text)


def list_families() -> list[str]:
    return sorted(FAMILIES)


def default_metrics(info: DatasetInfo) -> list[str]:
    """Family names measured when the user names none."""
    if info.kind == "points":
        return ["modes"] if "centers" in info.meta else []
    if info.default_judge is None:
        return ["parzen"]
    if info.name == "stacked-mnist":
        return ["modes", "fid", "kid", "pr", "dc"]
    return ["parzen", "fid", "kid", "is", "pr", "dc"]


def check_default_counts(names: list[str], *, n: int | None, available: int | None) -> None:
    """The dataset's default metrics (``names``) on too few samples: one refusal naming the fewest
    samples they all take and the metrics that work with fewer, rather than the first one's."""
    counts = [c for c in (n, available) if c is not None]
    if not counts:
        return
    given = min(counts)
    short = [name for name in names if given < FAMILIES[name].min_count]
    if not short:
        return
    need = max(FAMILIES[name].min_count for name in short)
    what, fix = ((f"--n {given} is", f"pass --n {need} or more") if given == n else
                 (f"{given} samples are", f"give at least {need} samples"))
    others = [name for name in names if name not in short]
    plural = len(short) > 1
    # names quoted: 'is' (Inception score) read as a verb ("the default metric is, which needs is at least 20")
    reasons = [f"'{name}' needs at least {FAMILIES[name].min_count}{FAMILIES[name].why_min}" for name in short]
    quoted = [f"'{name}'" for name in short]
    listed = quoted[0] if not plural else f"{', '.join(quoted[:-1])} and {quoted[-1]}"
    rest = f", or leave {listed} out with --metrics {','.join(others)}" if others else ""
    raise MetricError(f"{what} too few for the default metric{'s' * plural} {listed}: {'; '.join(reasons)}; "
                      f"{fix}{rest}")


def _default_count(fam: Family, info: DatasetInfo) -> int:
    if fam.name == "modes":
        return DEFAULT_MODES_N.get(info.kind if info.kind == "points" else info.name, DEFAULT_N)
    return DEFAULT_N


def resolve(text: str, info: DatasetInfo, *, n: int | None = None, available: int | None = None) -> MetricSpec:
    """A user's metric name (full or partial) -> a validated :class:`MetricSpec` for dataset ``info``.

    ``n`` replaces the default count of names that do not give one; ``available``
    (samples in a file) caps default counts and is checked against explicit ones.
    """
    raw = text
    text = text.strip().lower()
    m = _NAME.match(text)
    if not m or m["family"] not in FAMILIES:
        family = m["family"] if m else re.sub(r"[^a-z].*$", "", text)
        raise MetricError(f"unknown metric '{raw}'{did_you_mean(family or raw, list_families())}; "
                          f"metric families: {', '.join(list_families())} (see `ganforge eval --list-metrics`)")
    fam = FAMILIES[m["family"]]
    if info.kind not in fam.kinds:
        raise MetricError(f"metric '{raw}' applies to {' or '.join(fam.kinds)} data, and dataset "
                          f"'{info.name}' holds {info.kind}; choose from: {', '.join(_applicable(info))}")
    ref = judge = std = None
    for token in filter(None, m["rest"].split("_")):
        if re.fullmatch(r"\d+(\.\d+)?std", token) and "std" in fam.params:
            std = float(token[:-3])
        elif token in judge_names() and "judge" in fam.params:
            judge = token
        elif "ref" in fam.params and token in info.splits:
            ref = token
        else:
            choices = ([*info.splits] if "ref" in fam.params else []) + (judge_names() if "judge" in fam.params else [])
            allowed = []
            if "ref" in fam.params:
                allowed.append(f"a split of {info.name} ({', '.join(info.splits)})")
            if "judge" in fam.params:
                allowed.append(f"a judge ({', '.join(judge_names())})")
            if "std" in fam.params:
                allowed.append("a threshold such as 3std")
            raise MetricError(f"'{token}' in metric '{raw}' is not {' or '.join(allowed) or 'a parameter'}"
                              f"{did_you_mean(token, choices)}; write it like {_example(fam, info)}")
    if "ref" in fam.params and ref is None:
        ref = info.default_ref
    if "std" in fam.params and info.kind == "points":
        std = DEFAULT_THRESHOLD if std is None else std
        if judge is not None:
            raise MetricError(f"'{raw}': judges classify images; 2-D mixtures are judged by distance to "
                              f"their centres: write {_example(fam, info)}")
        if "centers" not in info.meta:
            raise MetricError(f"metric '{raw}' needs known mode centres, and dataset '{info.name}' has none; "
                              f"use ring8 or grid25")
    elif "judge" in fam.params and judge is None:
        judge = info.default_judge
        if judge is None:
            raise MetricError(f"dataset '{info.name}' has no ganforge judge, so '{raw}' needs one named: "
                              f"write {fam.name}..._{INCEPTION} (the FID InceptionV3; needs its weights file)")
    if std is not None and info.kind != "points":
        raise MetricError(f"'{raw}': a std threshold applies to 2-D mixtures only; on images write "
                          f"{fam.name}_<judge>, e.g. {_example(fam, info)}")
    if judge is not None:
        _check_judge_reads(raw, fam, judge, info)

    ref_size = info.reference_size(ref) if (fam.paired and info.reference_size and ref) else None
    if m["count"]:
        count = parse_count(m["count"])
        if count < fam.min_count:
            raise MetricError(f"metric '{raw}' needs at least {fam.min_count} samples{fam.why_min}; write "
                              f"{fam.name}{format_count(fam.min_count)} or a larger count")
        if available is not None and count > available:  # the count suggested must fit the split too
            fits = available if ref_size is None else min(available, ref_size)
            raise MetricError(f"metric '{raw}' needs {count} samples, and only {available} were given; "
                              f"give more samples or write a smaller count (e.g. {fam.name}{format_count(fits)})")
        if ref_size is not None and count > ref_size:
            raise MetricError(f"metric '{raw}' compares {count} samples with as many {info.name}/{ref} items, "
                              f"which has only {ref_size}; write {fam.name}{format_count(ref_size)} or use a "
                              f"larger split")
    else:
        count = n if n is not None else _default_count(fam, info)
        if available is not None:
            count = min(count, available)
        if ref_size is not None:
            count = min(count, ref_size)
        if count < fam.min_count:  # a count from --n or the samples given: k-NN metrics crashed on it
            given, fix = ((f"--n {n}", f"pass --n {fam.min_count} or more") if count == n else
                          (f"{count} samples", f"give at least {fam.min_count} samples"))
            raise MetricError(f"metric '{raw}' needs at least {fam.min_count} samples{fam.why_min}, got {given}; "
                              f"{fix}")
    return MetricSpec(fam.name, count, ref=ref, judge=judge, std=std)


def _reads(judge: str, shape: tuple[int, ...]) -> bool:
    """Whether ``judge`` reads images of ``shape`` (C, H, W): its own size, and its channel count or one
    channel at a time (a 1-channel judge on Stacked MNIST). The InceptionV3 resizes anything."""
    spec = JUDGES.get(judge)
    if spec is None or len(shape) != 3:
        return True
    want = spec.input_shape
    return tuple(shape[1:]) == tuple(want[1:]) and (shape[0] == want[0] or want[0] == 1)


def _check_judge_reads(raw: str, fam: Family, judge: str, info: DatasetInfo) -> None:
    """A judge that cannot read the dataset's images is refused by name, before any sample is drawn or the
    judge trained (a CIFAR judge took minutes to train on first use, then refused MNIST's one channel)."""
    if info.shape is None or _reads(judge, info.shape):
        return
    size = "x".join(map(str, info.shape))
    fits = info.default_judge if info.default_judge and _reads(info.default_judge, info.shape) else None
    alternative = (f"{fam.name}_{fits} (the judge for {info.name})" if fits else
                   f"{fam.name}_{INCEPTION} (the FID InceptionV3, any size; needs its weights file)")
    whose = f"judge '{judge}'" if judge != info.default_judge else f"the judge for {info.name}, '{judge}',"
    raise MetricError(f"metric '{raw}': {whose} reads {'x'.join(map(str, JUDGES[judge].input_shape))} images, "
                      f"and {info.name} holds {size} images; write {alternative}")


def bytes_per_sample(specs: list[MetricSpec], info: DatasetInfo) -> int:
    """Bytes one sample costs while ``specs`` are measured: the samples twice (the drawn chunks and their
    concatenation); per judge its float32 features and logits of every sample, twice too (the batches' and
    their concatenation), and a float64 copy of the features for FID/KID/precision-recall (twice: torchmetrics
    converts again); Parzen's float32 copy and its block of float64 distances to every centre; the 2-D modes'
    N x K x D float64 differences. What ``eval`` checks against free memory before drawing
    (``memory.check_memory``), so a huge ``--n`` is one line, not an allocation failing (or the machine
    swapping) after the sampling. Measured peaks (digits, lenet8): fid 1.7 KB a sample, parzen 7.5 KB."""
    values = 1 if info.shape is None else int(math.prod(info.shape))
    total = 2 * values * (1 if info.kind == "image" else 4)
    for judge in {s.judge for s in specs if s.judge is not None}:
        spec = JUDGES.get(judge)
        k = info.shape[0] if spec and info.shape and len(info.shape) == 3 and spec.input_shape[0] == 1 else 1
        features, logits = (2048, 1008) if spec is None else (spec.arch["hidden"] * k, spec.arch["classes"] ** k)
        total += 2 * 4 * (features + logits)
        if any(s.judge == judge and s.family in ("fid", "kid", "pr", "dc") for s in specs):
            total += 2 * 8 * features
    families = {s.family for s in specs}
    if "parzen" in families:
        total += 4 * values + 20 * parzen.BLOCK
    if "modes" in families and info.kind == "points":
        centers = info.meta.get("centers")
        total += 8 * ((0 if centers is None else len(centers)) * (values + 1) + values)
    return total


def _applicable(info: DatasetInfo) -> list[str]:
    return [f for f in list_families() if info.kind in FAMILIES[f].kinds]


def _example(fam: Family, info: DatasetInfo) -> str:
    parts = [f"{fam.name}{format_count(_default_count(fam, info))}"]
    if "ref" in fam.params:
        parts.append(info.default_ref)
    if info.kind == "points" and "std" in fam.params:
        parts.append("3std")
    elif "judge" in fam.params:
        parts.append(info.default_judge or INCEPTION)
    return "_".join(parts)


def split_key(key: str) -> tuple[str, str]:
    """``"pr10k_test_lenet.recall"`` -> (``"pr10k_test_lenet"``, ``"recall"``)."""
    name, _, part = key.partition(".")
    return name, part


def higher_is_better(key: str) -> bool | None:
    """True / False for a value key whose direction is declared; None for informational values
    (standard errors, the chosen sigma, ...). Needs no dataset: the family is in the name."""
    name, part = split_key(key)
    m = _NAME.match(name)
    if not m or m["family"] not in FAMILIES:
        raise MetricError(f"'{key}' is not a metric key{did_you_mean(name, list_families())}")
    parts = FAMILIES[m["family"]].parts
    if part not in parts:
        raise MetricError(f"metric '{name}' has no value '{part}'; its values: "
                          f"{', '.join(repr(p) for p in parts)}")
    better = parts[part]
    return None if better is None else better == HIGHER


def describe() -> list[tuple[str, str, str]]:
    """(family, values with directions, summary) rows for ``--list-metrics``."""
    rows = []
    for name in list_families():
        fam = FAMILIES[name]
        vals = ", ".join(f"{p or name} ({b})" for p, b in fam.parts.items() if b is not None)
        rows.append((name, vals, fam.summary))
    return rows
