"""Measuring a translation run: its own task's test split, translated and scored under protocol names.

This is the one implementation behind ``ganforge translate RUN --eval`` and the translation
benchmark (``benchmarks/translation_figures.py``), so the numbers a user gets are the numbers
docs/benchmarks.md reports. What it does:

- translates the first ``n`` images of the *test* split of the dataset the run was trained on
  (the held-out split: nothing was trained or chosen on it) in the run's direction (A -> B, or
  B -> A for a CycleGAN run);
- scores them with :func:`ganforge.metrics.translation.score`: L1 / PSNR / SSIM against the
  hidden truth where the split is paired, the judge's label accuracy (source labels) and judge
  FID against the target domain where the task declares a judge for that domain
  (:func:`ganforge.data.translation_tasks.domain_judge`, with the view it needs, e.g.
  ``_uninverted``), colourfulness for RGB outputs;
- for a run that can translate back (CycleGAN), the cycle error ``cycle_l1_test`` and
  ``ssim_test_input``, SSIM of the output against its own *input*: above ``ssim_test_truth``
  means the model collapsed to the identity map, which a low cycle error alone would hide.

It takes an opened run (:func:`ganforge.runs.run.load_run`); opening one is the caller's
business, which keeps the metrics package free of the run loader (and of import cycles). What it
reads of one is :class:`OpenedRun`, named here, so metrics (below runs) never refers to runs at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from ganforge.capabilities import TRANSLATE, capabilities_of, describe
from ganforge.data import load_dataset
from ganforge.data.registry import dataset_splits
from ganforge.data.translation_tasks import JUDGE_VIEWS, domain_judge
from ganforge.errors import GanforgeError
from ganforge.metrics import translation as tm
from ganforge.metrics.judges import Judge, Log, load_judge
from ganforge.metrics.registry import DEFAULT_N
from ganforge.version import __version__

SPLIT = "test"
REPORT_FORMAT = 1
OTHER = {"AB": "BA", "BA": "AB"}
# Which way each metric family is better, by the name's first part (fid64, fid10k: "fid").
BETTER = {"l1": "lower", "psnr": "higher", "ssim": "higher", "labelacc": "higher", "fid": "lower", "cycle": "lower"}


def better(name: str) -> str | None:
    """"lower", "higher", or None for the two read against something else: ``ssim_test_input`` (against
    ``ssim_test_truth``) and colourfulness (near the truth's is best, not more)."""
    if name == f"ssim_{SPLIT}_input" or name.startswith("colourfulness"):
        return None
    family = name.split("_")[0]
    return BETTER.get("fid" if family.startswith("fid") else family)


class OpenedRun(Protocol):
    """The parts of an opened run (:class:`ganforge.runs.run.Run`) a translation is measured with: the
    metrics package sits below runs, so it names what it reads instead of importing the class."""

    path: Path
    config: Any  # a RunConfig: its data.name and recipe
    checkpoint: Path
    model: Any  # a TrainedModel that translates (TranslationModel)
    device: Any  # a torch.device

    @property
    def step(self) -> int: ...


@dataclass
class TranslationReport:
    """The scores of one checkpoint on one task's test split, with what is needed to repeat them."""

    run_dir: str
    checkpoint: str
    step: int
    dataset: str
    direction: str
    n: int
    seed: int
    values: dict[str, float]
    judge: dict[str, Any] | None = None  # the judge's summary (name, test accuracy, cache key) when one read them
    judge_view: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"format": REPORT_FORMAT, "kind": "translation", "run_dir": self.run_dir, "checkpoint": self.checkpoint,
                "step": self.step, "dataset": self.dataset, "split": SPLIT, "direction": self.direction, "n": self.n,
                "seed": self.seed, "judge": self.judge, "judge_view": self.judge_view, "values": self.values,
                "better": {k: better(k) for k in self.values}, "ganforge": __version__,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def table(self) -> str:
        """One row per metric: name, value, which way is better."""
        rows = [("metric", "value", "better")]
        rows += [(k, f"{v:.6g}", better(k) or "-") for k, v in self.values.items()]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _test_split(run: OpenedRun, data_dir: Any) -> Any:
    """The run's own dataset, test split, or one line saying why there is nothing held out to score."""
    name = run.config.data.name
    splits = dataset_splits(name)
    if SPLIT not in splits:
        raise GanforgeError(f"{run.path} was trained on '{name}', which has no {SPLIT} split (only "
                            f"{', '.join(splits)}), so there is no held-out truth to score against; translate your "
                            f"own held-out images with --input/--out, or train on a task with one (mnist-edges, "
                            f"mnist-inverted, mnist-thick, cifar10-jpeg-colour)")
    data = load_dataset(name, split=SPLIT, data_dir=data_dir)
    if getattr(data, "b", None) is None:
        raise GanforgeError(f"the {SPLIT} split of '{name}' has one domain, so there is nothing to compare "
                            f"translations with")
    return data


def _judge(name: str, judges: dict[str, Judge], data_dir: Any, log_fn: Log | None, device: Any) -> Judge:
    if name not in judges:
        judges[name] = load_judge(name, data_dir, log_fn=log_fn, device=device)
    return judges[name]


def evaluate_translation(run: OpenedRun, n: int | None = None, *, direction: str = "AB", seed: int = 0,
                         data_dir: Any = None, judges: dict[str, Judge] | None = None,
                         log_fn: Log | None = None) -> TranslationReport:
    """Translate the first ``n`` test images (default 10,000, or all if fewer) of the run's own task in
    ``direction`` and score them (see the module docstring). ``judges``: judges already loaded, by
    name, reused and filled in (a caller scoring many runs loads each judge once); ``seed`` seeds
    dropout when the run's ``translation.test_mode`` is train."""
    model = run.model
    if TRANSLATE not in capabilities_of(model):
        raise GanforgeError(f"{run.path} is a {run.config.recipe} run, which does not translate images (it offers "
                            f"{describe(capabilities_of(model))}); --eval measures paired-translation (pix2pix) and "
                            f"cycle-translation (CycleGAN) runs")
    if direction not in model.directions:
        raise GanforgeError(f"this run translates {' and '.join(model.directions)} only, not {direction}; "
                            f"a paired (pix2pix) run has no B -> A generator")
    n = DEFAULT_N if n is None else n
    if n < 2:
        raise GanforgeError(f"--n must be at least 2 test images (the judge FID needs a spread), got {n}")
    data = _test_split(run, data_dir)
    source, target = (data, data.b) if direction == "AB" else (data.b, data)
    n = min(n, len(source))
    x = source.x[:n].numpy()
    truth = target.x[:n].numpy() if data.paired else None
    labels = source.y[:n].numpy() if source.y is not None else None
    declared = domain_judge(data, direction[1])
    judge = view = None
    if declared is not None:
        judge = _judge(declared[0], {} if judges is None else judges, data_dir, log_fn, run.device)
        view = declared[1]
    out = model.translate(x, direction, seed=seed, device=run.device)
    values = tm.score(out, truth, split=SPLIT, labels=labels, judge=judge, colour=out.shape[1] == 3,
                      reference=None if truth is not None else target.x[:n].numpy(),
                      judge_view=(view, JUDGE_VIEWS[view]) if view else None)
    if OTHER[direction] in model.directions:  # CycleGAN: back again, and the identity-map check
        back = model.translate(out, OTHER[direction], seed=seed, device=run.device)
        values[f"cycle_l1_{SPLIT}"] = round(tm.l1(back, x), 6)
        if out.shape == x.shape:  # SSIM needs the same channels (colourisation has not)
            values[f"ssim_{SPLIT}_input"] = round(tm.ssim(out, x), 6)
    return TranslationReport(run_dir=str(run.path), checkpoint=run.checkpoint.name, step=run.step, dataset=data.name,
                             direction=direction, n=n, seed=seed, values=values,
                             judge=judge.summary() if judge is not None else None, judge_view=view)
