"""Running metrics: an :class:`Evaluator` per (dataset, metric list), reports, run directories.

The evaluator resolves metric names once, then measures any number of sample
sets, keeping what does not change between them: the reference splits, the
judges and the reference features. That is what makes it cheap to call every N
training steps. ``evaluate()`` is the one-shot form. Samples come as arrays or as a
callable ``fn(n)``; nothing here opens a run directory (``ganforge.api.evaluate_run`` does).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge import outputs
from ganforge.data import load_dataset, registry
from ganforge.data.base import Dataset
from ganforge.errors import GanforgeError
from ganforge.version import __version__
from ganforge.metrics import families  # noqa: F401  (registers the metric families)
from ganforge.metrics.judges import Judge, Log, default_judge, load_judge
from ganforge.metrics.registry import (FAMILIES, DatasetInfo, MetricError, MetricSpec, check_default_counts,
                                       default_metrics, resolve)

REPORT_FORMAT = 1
Samples = np.ndarray | torch.Tensor
SampleSource = Samples | Callable[[int], Any]


def _splits_of(dataset: str) -> tuple[str, ...]:
    entry, _, _ = registry._lookup(dataset)  # raises the registry's own DataError for unknown names
    return entry.splits


def _names(metrics: str | Iterable[str] | None) -> list[str] | None:
    if metrics is None:
        return None
    if isinstance(metrics, str):
        metrics = metrics.split(",")
    names = [m.strip() for m in metrics if m and m.strip()]
    return names or None


def as_numpy(x: Samples) -> np.ndarray:
    """Samples or labels as a numpy array: a tensor (on any device, with or without grad) or anything numpy reads."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


@dataclass
class MetricResult:
    name: str
    family: str
    values: dict[str, float]
    better: dict[str, str | None]
    info: dict[str, Any]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "values": self.values, "better": self.better, "protocol": self.info,
                "seconds": round(self.seconds, 3)}


@dataclass
class Report:
    """The results of one evaluation, with everything needed to trust and repeat them."""

    dataset: str
    results: list[MetricResult]
    samples: dict[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, float]:
        return {k: v for r in self.results for k, v in r.values.items()}

    @property
    def better(self) -> dict[str, str | None]:
        return {k: v for r in self.results for k, v in r.better.items()}

    def to_dict(self) -> dict[str, Any]:
        """As written to JSON: a NaN or infinite value (a spread with nothing to spread over, an undefined
        KL) is null, as in stats.jsonl; the metric's ``protocol.note`` says why."""
        return outputs.strict_json({"format": REPORT_FORMAT, "dataset": self.dataset, "samples": self.samples,
                       "ganforge": __version__,
                       "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "values": self.values, "metrics": {r.name: r.to_dict() for r in self.results}})

    def table(self) -> str:
        return format_table(self.to_dict()["metrics"])


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e6):
        return str(int(v))
    return f"{v:.4g}" if math.isfinite(v) else str(v)


def format_table(metrics: dict[str, dict]) -> str:
    """A plain-text table of report metrics: one row per value, '± std/se' beside its value."""
    rows = [("metric", "value", "better", "judge (test accuracy)")]
    for name, m in metrics.items():
        judge = m.get("protocol", {}).get("judge")
        judge_text = ""
        if judge:
            acc = judge.get("test_accuracy")
            judge_text = judge["name"] + (f" ({acc:.2%})" if acc is not None else " (no accuracy)")
        vals, better = m["values"], m["better"]
        for key, value in vals.items():
            part = key.partition(".")[2]
            if part in ("std", "se"):
                continue
            text = _fmt(value)
            for spread in ("std", "se"):
                if part == "" and f"{name}.{spread}" in vals:
                    text += f" ± {_fmt(vals[f'{name}.{spread}'])}"
            rows.append((key, text, better.get(key) or "-", judge_text))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    notes = [f"note: {name}: {m['protocol']['note']}" for name, m in metrics.items()
             if m.get("protocol", {}).get("note")]
    return "\n".join(lines + notes)


class MetricContext:
    """What a metric family may ask for during one evaluation (see ``families``)."""

    def __init__(self, ev: Evaluator, samples: np.ndarray, labels: np.ndarray | None):
        self._ev, self._samples, self._labels = ev, samples, labels
        self._fake: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.info, self.seed = ev.info, ev.seed

    def samples(self, count: int) -> np.ndarray:
        return self._samples[:count]

    def labels(self, count: int) -> np.ndarray | None:
        """Class labels of the samples (conditional generators), or None."""
        return None if self._labels is None else self._labels[:count]

    def reference(self, split: str) -> Dataset:
        return self._ev.reference(split)

    def judge(self, name: str) -> Judge:
        return self._ev.judge(name)

    def fake_features(self, judge: str, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(features, logits) of the first ``count`` samples; every sample is judged once per call."""
        if judge not in self._fake:
            self._fake[judge] = self._ev.judge(judge)(self._samples[: self._ev.num_samples])
        f, lg = self._fake[judge]
        return f[:count], lg[:count]

    def real_features(self, judge: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self._ev.real_features(judge, split)


class Evaluator:
    """Measure generated samples against ``dataset`` with a fixed, validated list of metrics.

    ``metrics``: names or partial names (``"fid"``, ``"pr5k"``, ``"fid10k_train_lenet"``), a
    comma-separated string, or None for the dataset's defaults. ``n`` sets the sample count of
    names that do not give one; ``available`` says how many samples will be passed (a file), so
    default counts fit it. ``data_options`` (resolution, channels) are passed to ``load_dataset``
    for the reference splits, as the run's config does for training. Reference splits are loaded
    with the dataset's default seed whatever the run's seed, so every run of a dataset is measured
    against the same images (Stacked MNIST's splits are drawn from a seed).
    """

    def __init__(self, dataset: str, metrics: str | Iterable[str] | None = None, *, n: int | None = None,
                 available: int | None = None, data_dir: str | os.PathLike | None = None, seed: int = 0,
                 device: str | torch.device = "cpu", inception_weights: str | os.PathLike | None = None,
                 log_fn: Log | None = None, data_options: dict[str, Any] | None = None, selecting: bool = False):
        if n is not None and n < 2:
            raise MetricError(f"the number of samples must be at least 2, got {n}")
        self.data_dir, self.seed, self.device = data_dir, seed, torch.device(device)
        self.inception_weights, self.log_fn = inception_weights, log_fn
        self.data_options = {k: v for k, v in (data_options or {}).items() if v is not None}
        self._datasets: dict[str, Dataset] = {}
        self._judges: dict[str, Judge] = {}
        self._real: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}
        splits = _splits_of(dataset)
        first = self.reference("test" if "test" in splits else splits[0], dataset)
        self.info = DatasetInfo(name=first.name, kind=first.kind, splits=splits,
                                default_judge=default_judge(first.name), num_classes=first.num_classes,
                                meta=first.meta, reference_size=lambda split: len(self.reference(split)),
                                selecting=selecting, shape=tuple(first.shape))
        self.sample_shape = first.shape
        names = _names(metrics)
        if names is None:
            names = default_metrics(self.info)
            if not names:
                raise MetricError(f"dataset '{self.info.name}' has no default metrics; name some with --metrics "
                                  f"(see `ganforge eval --list-metrics`)")
            check_default_counts(names, n=n, available=available)
        specs: dict[str, MetricSpec] = {}
        for name in names:
            spec = resolve(name, self.info, n=n, available=available)
            specs.setdefault(spec.name, spec)
        self.specs = list(specs.values())
        if selecting:
            self._check_selection()

    def _check_selection(self) -> None:
        """Metrics that choose a checkpoint (``selecting``: in-training eval's best) must not choose it on the
        test split, which the final figures are reported on; said in one line, naming a name that works."""
        key = self.primary
        spec = next(s for s in self.specs if key in s.keys)
        if spec.ref == "test":
            other = self.info.default_ref
            raise MetricError(f"eval.every keeps checkpoints/best by {key}, measured against the test split, so the "
                              f"figures reported on that split would be of a checkpoint chosen on it; name a metric "
                              f"on {other} first (e.g. {spec.family}_{other}), and measure the test split after "
                              f"training with ganforge eval")

    # -- what will be measured ----------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    @property
    def directions(self) -> dict[str, str | None]:
        """Every value key -> "higher", "lower" (is better) or None (informational)."""
        return {k: b for s in self.specs for k, b in s.better.items()}

    @property
    def primary(self) -> str:
        """The first directed value, Parzen's last (it ranks models poorly: Theis et al. 2016, and
        metrics.md): the one to keep a best checkpoint by."""
        ranked = sorted(self.specs, key=lambda s: s.family == "parzen")  # stable: the given order otherwise
        return next(k for s in ranked for k, b in s.better.items() if b is not None)

    @property
    def num_samples(self) -> int:
        return max(s.count for s in self.specs)

    # -- cached inputs --------------------------------------------------------------------------
    def reference(self, split: str, dataset: str | None = None) -> Dataset:
        if split not in self._datasets:
            name = dataset or self.info.name
            self._datasets[split] = load_dataset(name, split=split, data_dir=self.data_dir, **self.data_options)
        return self._datasets[split]

    def judge(self, name: str) -> Judge:
        if name not in self._judges:
            self._judges[name] = load_judge(name, self.data_dir, log_fn=self.log_fn,
                                            inception_weights=self.inception_weights, device=self.device)
        return self._judges[name]

    def real_features(self, judge: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if (judge, split) not in self._real:
            self._real[(judge, split)] = self.judge(judge)(self.reference(split).x)
        return self._real[(judge, split)]

    # -- measuring ------------------------------------------------------------------------------
    def _check(self, x: np.ndarray) -> np.ndarray:
        want = self.sample_shape
        if self.info.kind == "image":
            if x.dtype != np.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != tuple(want):
                raise GanforgeError(
                    f"samples must be uint8 images (N, {', '.join(map(str, want))}) like {self.info.name}'s, got "
                    f"{x.dtype} {tuple(x.shape)}; write them with `ganforge sample` (floats in [0, 1]: "
                    f"np.round(x * 255).astype(np.uint8))")
        else:
            if x.ndim != 2 or x.shape[1] != want[0] or not np.issubdtype(x.dtype, np.floating):
                raise GanforgeError(f"samples must be float points (N, {want[0]}) like {self.info.name}'s, "
                                    f"got {x.dtype} {tuple(x.shape)}")
            if not np.isfinite(x).all():
                rows = int((~np.isfinite(x)).any(1).sum())
                raise GanforgeError(f"samples contain NaN or infinite values ({rows} of {len(x)} rows): the generator "
                                    f"that drew them had diverged; measure an earlier checkpoint (--checkpoint), or "
                                    f"retrain it with a lower lr")
            x = x.astype(np.float32, copy=False)
        if len(x) < self.num_samples:
            raise GanforgeError(f"{', '.join(self.names)} need {self.num_samples} samples, got {len(x)}; pass "
                                f"more samples or smaller counts (--n {len(x)})")
        return x

    def run(self, samples: SampleSource, labels: Samples | None = None) -> Report:
        """Measure ``samples`` (an array in the data's form, or ``fn(n)`` returning one, or
        ``fn(n) -> (array, labels)`` for a conditional generator); labels are optional."""
        if callable(samples):
            out = samples(self.num_samples)
            samples, labels = (out if isinstance(out, tuple) else (out, labels))
        x = self._check(as_numpy(samples))
        y = None if labels is None else as_numpy(labels).astype(np.int64)
        ctx = MetricContext(self, x, y)
        results = []
        for spec in self.specs:
            t0 = time.perf_counter()
            values, info = FAMILIES[spec.family].compute(spec, ctx)
            values = {spec.key(p): float(v) for p, v in values.items()}
            better = {k: spec.better[k] for k in values}
            results.append(MetricResult(spec.name, spec.family, values, better, info, time.perf_counter() - t0))
        return Report(self.info.name, results, {"n": int(len(x)), "seed": self.seed})

    def __call__(self, samples: SampleSource, labels: Samples | None = None) -> dict[str, float]:
        return self.run(samples, labels).values


def evaluate(samples: SampleSource, dataset: str, metrics: str | Sequence[str] | None = None, *,
             n: int | None = None, data_dir: str | os.PathLike | None = None, seed: int = 0,
             labels: Samples | None = None, **options: Any) -> dict[str, float]:
    """Measure ``samples`` (array or ``fn(n)``) against ``dataset``: ``{value key: value}``.

    See :class:`Evaluator` for the arguments; ``higher_is_better(key)`` gives each key's direction.
    """
    available = None if callable(samples) else len(samples)
    ev = Evaluator(dataset, metrics, n=n, available=available, data_dir=data_dir, seed=seed, **options)
    return ev(samples, labels)


SAMPLES_OF = ("the last evaluation written to this file; each metric's own samples (n, seed, created) are in "
              "metrics.<name>.samples")


def write_report(report: Report, path: Path, merge: bool = True) -> Path:
    """Write ``report`` as JSON, atomically; with ``merge``, metrics already in the file and not re-measured
    stay. An OS error is one line (a GanforgeError).

    With ``merge`` (a run's ``eval/<checkpoint>.json``, written by one evaluation after another) each metric
    carries its own ``samples`` ({n, seed, step, created}) and the top-level ``samples`` is the last evaluation's
    (``samples_of`` says so), so a metric measured earlier on other samples is not misdescribed. Metrics are
    merged only from a file of the same checkpoint at the same step: ``best`` is a label that moves (a
    resumed run keeps a new best), and an older best's figures beside the new one's were all shown at its
    step (curves.png plotted them there). Each metric's ``samples`` holds its step."""
    data = report.to_dict()
    if merge:
        own = {k: data["samples"][k] for k in ("n", "seed", "step") if k in data["samples"]}
        for m in data["metrics"].values():
            m["samples"] = {**own, "created": data["created"]}
        data["samples_of"] = SAMPLES_OF
    if merge and path.is_file():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = {}
        same = ("checkpoint", "step")
        if old.get("format") == REPORT_FORMAT and isinstance(old.get("samples"), dict) and all(
                old["samples"].get(k) == data["samples"].get(k) for k in same):
            # a file from before per-metric samples: its header was its last evaluation's, the best known
            before = {k: old["samples"][k] for k in ("n", "seed") if k in old["samples"]}
            kept = {name: m if "samples" in m else {**m, "samples": {**before, "created": old.get("created")}}
                    for name, m in old.get("metrics", {}).items() if isinstance(m, dict)}
            metrics = {**kept, **data["metrics"]}
            data["metrics"] = metrics
            data["values"] = {k: v for m in metrics.values() for k, v in m["values"].items()}
    return outputs.write_text(path, json.dumps(outputs.strict_json(data), indent=1, allow_nan=False) + "\n", flag="--json")  # whole or not at all
