"""The datasheet that travels with exported synthetic data (JSON for programs, Markdown for people).

Synthetic data separated from its provenance is a privacy and quality risk: nobody can say
which model made it, how good that model was, or whether it leaks its training set. So every
export carries where it came from (run, checkpoint, step, seed, the config's sha256, the data
the run was trained on), how it was drawn (count, classes, truncation), what was measured
about the exported checkpoint and, when given, the privacy audit. Fields that were not measured
say so rather than being left out.

Every figure is of the checkpoint exported, not of a nearby log step: the metrics are that
checkpoint's ``ganforge eval`` report when there is one (an in-training evaluation from
stats.jsonl otherwise, its step named when it is another one), and DP-SGD's epsilon is
computed by Opacus from the accountant history saved in the checkpoint itself, since
stats.jsonl logs epsilon only every ``log.every`` steps and a checkpoint between two of them
would be described by an earlier, smaller epsilon.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file

from ganforge import capabilities as cap, run_stats
from ganforge.download import sha256_file
from ganforge.metrics.registry import split_key
from ganforge.recipes.private import DP_STATE, epsilon_after, overlaps_training
from ganforge.run_layout import STATS, eval_report
from ganforge.runs import rundir
from ganforge.runs.run import Run
from ganforge.version import __version__

FORMAT = 1
NOT_MEASURED = "not measured"


def _stats(run_dir: Path) -> list[dict[str, Any]]:
    """The run's logged statistics; none when its stats.jsonl cannot be read (the datasheet then says
    "not measured" rather than failing the export)."""
    try:
        return list(run_stats.records(run_dir / STATS))
    except OSError:
        return []


NOT_PRIVATE = "not trained with DP-SGD"


def _eval_report(run: Run) -> dict[str, Any] | None:
    """The metrics of ``ganforge eval``'s report of exactly this checkpoint (its name and step), each named
    with its protocol, with the reference, judge and samples (n, seed) it was measured on; None when there
    is no such report or it cannot be read (the in-training evaluation is used then)."""
    path = eval_report(run.path, Path(run.checkpoint).name)
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or not isinstance(report.get("metrics"), dict):
        return None
    samples = report["samples"] if isinstance(report.get("samples"), dict) else report  # a classifier's report
    if samples.get("checkpoint") != Path(run.checkpoint).name or samples.get("step") != run.step:
        return None  # a report of an earlier checkpoint of that name (a run trained again) describes another G
    values: dict[str, float] = {}
    protocol: dict[str, Any] = {}
    for name, metric in report["metrics"].items():
        if isinstance(metric, dict):  # an image run's report: a family's values, protocol and samples
            values.update(metric.get("values") or {})
            protocol[name] = {**(metric.get("protocol") or {}),
                              "samples": metric.get("samples") or {k: samples.get(k) for k in ("n", "seed")}}
        elif isinstance(metric, int | float):  # a classifier's accuracies, named with their split and labels
            values[name] = metric
    if not values:
        return None
    return {"source": f"ganforge eval of this checkpoint ({path})", "step": run.step, "values": values,
            **({"protocol": protocol} if protocol else {})}


def _training_eval(run: Run) -> dict[str, Any] | str:
    """The last evaluation logged during training up to the checkpoint's step, saying so when it was made
    at an earlier step than the checkpoint's (it then describes another G)."""
    evals = [r for r in _stats(Path(run.path)) if any(k.startswith("eval/") for k in r) and r["step"] <= run.step]
    if not evals:
        return NOT_MEASURED
    step = evals[-1]["step"]
    source = "in-training evaluation (stats.jsonl)" + ("" if step == run.step else
                                                        f" at step {step}, not at the exported checkpoint's step "
                                                        f"{run.step}: run ganforge eval {run.path} --checkpoint "
                                                        f"{run.checkpoint} to measure that one")
    return {"source": source, "step": step,
            "values": {k.removeprefix("eval/"): v for k, v in evals[-1].items() if k.startswith("eval/")}}


def _accountant_history(checkpoint: Path) -> list[tuple[float, float, int]] | str | None:
    """The RDP accountant's history (noise multiplier, sample rate, updates) saved in the checkpoint; None
    when the checkpoint holds none (a run without DP-SGD); a sentence when it holds one that cannot be read
    (damaged after the checkpoint was verified): "not trained with DP-SGD" would then be false."""
    path = checkpoint / f"{DP_STATE}.safetensors"
    if not path.is_file():
        return None
    try:
        history = load_file(str(path))["history"]
    except (SafetensorError, OSError, KeyError) as e:
        return f"trained with DP-SGD, epsilon unknown: the checkpoint's accountant history {path} cannot be read ({e})"
    return [(float(sigma), float(rate), int(updates)) for sigma, rate, updates in history.tolist()]


def _one_or_each(values: list[float]) -> float | list[float]:
    """One number when every entry of the history has it, else the entry's own, in order."""
    return values[0] if len(set(values)) == 1 else values


# What a private run's datasheet says of its sampling when the checkpoint's real stream was shuffled (a private image
# run of a ganforge before dp-noise-to-image drew Poisson samples: its stream state then has an epoch position)
SHUFFLED_SAMPLING = ("shuffled fixed-size batches of train.batch_size; the RDP accountant assumes Poisson sampling at "
                     "rate batch/N, so the epsilon is the standard approximation for shuffled batches, not a proof")


def _dp_sampling(state: dict[str, Any]) -> str | None:
    """A sentence when the checkpoint's D drew shuffled fixed-size batches (its state, as the run loaded it, holds
    an epoch position), which the accountant's Poisson assumption does not describe exactly; None when it drew the
    Poisson sample the accountant counts (every private recipe now)."""
    stream = state.get("real")
    return SHUFFLED_SAMPLING if isinstance(stream, dict) and "position" in stream else None


def _privacy(run: Run) -> dict[str, Any] | str:
    """The checkpoint's DP accounting. Noise multiplier and sampling rate are the accountant history's, which
    counted every update, not the config's, which a resume with --allow-config-change may have changed."""
    history = _accountant_history(Path(run.checkpoint))
    if history is None or isinstance(history, str):
        return history or NOT_PRIVATE
    dp = run.config.dp
    epsilon = epsilon_after(history, dp.delta)
    sampling = _dp_sampling(run.state)
    return {"epsilon": epsilon if math.isfinite(epsilon) else "infinite (dp.noise_multiplier 0: no privacy)",
            "delta": dp.delta, "step": run.step, "d_updates_counted": sum(updates for _, _, updates in history),
            "noise_multiplier": _one_or_each([sigma for sigma, _, _ in history]) if history else dp.noise_multiplier,
            "sample_rate": _one_or_each([rate for _, rate, _ in history]) if history else None,
            "history": [{"noise_multiplier": sigma, "sample_rate": rate, "d_updates": updates}
                        for sigma, rate, updates in history],
            "max_grad_norm": dp.max_grad_norm,
            "accountant": "Opacus RDP, from the checkpoint's accountant history",
            **({"sampling": sampling} if sampling else {})}


FINGERPRINT_WITHHELD = ("withheld: a sha256 of every training record lets someone who knows all records but one "
                        "confirm the last, which the differential privacy guarantee does not allow")


def _reads_training(name: str, protocol: dict[str, Any], trained_on: str) -> bool:
    """Whether the metric ``name`` was measured on training records: a split in its name, or in the reference or
    sigma images its protocol names ("digits/train[1200:1500]"), that holds them."""
    splits = name.split("_")[1:]
    for text in (protocol.get("reference"), protocol.get("sigma_selected_on")):
        if isinstance(text, str) and "/" in text:
            splits.append(re.split(r"[^a-z0-9]", text.split("/", 1)[1], maxsplit=1)[0])
    return any(overlaps_training(split, trained_on) for split in splits)


def _held_out_only(metrics: dict[str, Any] | str, trained_on: str) -> dict[str, Any] | str:
    """A private run's metrics without those measured on its training records: such a figure is a statistic of the
    private data with no clipping or noise, outside the guarantee the datasheet states. Named as withheld."""
    if not isinstance(metrics, dict):
        return metrics
    protocol = metrics.get("protocol") or {}
    private = sorted(k for k in metrics["values"]
                     if _reads_training(split_key(k)[0], protocol.get(split_key(k)[0]) or {}, trained_on))
    if not private:
        return metrics
    withheld = (f"{', '.join(private)}: measured on the training split ({trained_on}), a statistic of the private "
                f"records outside the differential privacy guarantee; measure the samples against held-out data "
                f"with ganforge eval")
    values = {k: v for k, v in metrics["values"].items() if k not in private}
    if not values:
        return f"{NOT_MEASURED} on held-out data (withheld: {withheld})"
    kept = {name: p for name, p in protocol.items() if any(split_key(k)[0] == name for k in values)}
    return {**metrics, "values": values, **({"protocol": kept} if protocol else {}), "withheld": withheld}


def run_measurements(run: Run) -> dict[str, Any]:
    """What was measured about the exported checkpoint: its metrics (named with their protocol) and its DP
    accounting, if any."""
    privacy = _privacy(run)
    metrics = _eval_report(run) or _training_eval(run)
    if privacy != NOT_PRIVATE:
        metrics = _held_out_only(metrics, run.config.data.split)
    return {"metrics": metrics, "differential_privacy": privacy}


def what_it_holds(run: Run, n: int) -> dict[str, str]:
    """What the exported images are, said truthfully for the run's kind of model: a translator's export
    is real held-out images put through it, not samples drawn from noise."""
    if cap.TRANSLATE in cap.capabilities_of(run.model) and cap.GENERATE not in cap.capabilities_of(run.model):
        return {"what": f"translated real images: the first {n} held-out inputs of '{run.config.data.name}' "
                        f"(its test split where it has one) put through the run's A-to-B translator; derived from "
                        f"real data, not synthetic samples drawn from noise",
                "title": "translated real images"}
    return {"what": "synthetic samples from a generative model; not real data", "title": "synthetic data"}


def build(run: Run, *, output: Path, kind: str, n: int, seed: int, shape: tuple[int, ...], dtype: str,
          classes: dict[str, int] | None, class_balanced: bool, truncation: float | None,
          audit: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        options = json.loads((Path(run.path) / rundir.OPTIONS).read_text())
    except (OSError, ValueError):
        options = {}
    holds = what_it_holds(run, n)
    measured = run_measurements(run)
    data = dict(options.get("data") or {})
    if measured["differential_privacy"] != NOT_PRIVATE and "fingerprint" in data:
        del data["fingerprint"]
        data["fingerprint_withheld"] = FINGERPRINT_WITHHELD
    return {
        "format": FORMAT,
        "what": holds["what"],
        "title": holds["title"],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "ganforge": __version__,
        "output": {"path": str(output), "kind": kind, "n": n, "shape": list(shape), "dtype": dtype,
                   "labels": "the class each sample was generated for" if classes else
                   "none (unconditional run)" if cap.GENERATE in cap.capabilities_of(run.model) else "none",
                   "class_counts": classes},
        "sampling": {"seed": seed, "class_balanced": class_balanced, "truncation": truncation},
        "run": {"path": str(run.path), "checkpoint": str(run.checkpoint), "step": run.step,
                "run_seed": run.config.seed, "recipe": run.config.recipe, "preset": options.get("preset"),
                "config_sha256": sha256_file(Path(run.path) / rundir.CONFIG),
                "git_commit": options.get("git_commit")},
        "training_data": {"dataset": run.config.data.name, "split": run.config.data.split, **data},
        **measured,
        "privacy_audit": audit if audit is not None else "not run (ganforge audit RUN --out audit.json, then "
                                                          "export --audit audit.json)",
    }


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict | list):
        return "`" + json.dumps(v) + "`"
    return str(v)


def markdown(sheet: dict[str, Any]) -> str:
    """The same facts for a reader: one section per part, the audit's flags first among its lines."""
    out = [f"# Datasheet: {sheet.get('title', 'synthetic data')}", "", f"_{sheet['what']}_", ""]
    for section in ("output", "sampling", "run", "training_data", "metrics", "differential_privacy"):
        body = sheet[section]
        out += [f"## {section.replace('_', ' ')}", ""]
        if isinstance(body, dict):
            out += [f"- **{k}**: {_value(v)}" for k, v in body.items()]
        else:
            out.append(str(body))
        out.append("")
    out += ["## privacy audit", ""]
    audit = sheet["privacy_audit"]
    if isinstance(audit, dict):
        flags = audit.get("flags") or []
        out.append("Findings: " + ("; ".join(flags) if flags else "none crossed a line") + ".")
        out.append("")
        for space, r in audit.get("dcr", {}).items():
            out.append(f"- DCR ({space}): ratio {r['ratio']:.3f}, near-copies {r['near_copies']} of "
                       f"{r['n_synthetic']} (threshold: the {r['threshold_quantile']:.0%} quantile of held-out real "
                       f"data), exact copies {r['exact_copies']}")
        for attack, r in audit.get("membership", {}).items():
            out.append(f"- membership inference, {attack}: AUROC {r['auroc']:.3f} "
                       f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] ({r['level']:.0%} bootstrap)")
    else:
        out.append(str(audit))
    out += ["", f"_ganforge {sheet['ganforge']}, datasheet format {sheet['format']}, {sheet['created']}_", ""]
    return "\n".join(out)


__all__ = ["FORMAT", "NOT_MEASURED", "NOT_PRIVATE", "build", "markdown", "run_measurements", "what_it_holds"]
