"""The datasheet that travels with exported synthetic data (JSON for programs, Markdown for people).

Synthetic data separated from its provenance is a privacy and quality risk: nobody can say
which model made it, how good that model was, or whether it leaks its training set. So every
export carries where it came from (run, checkpoint, step, seed, the config's sha256, the data
the run was trained on), how it was drawn (count, classes, truncation), what was measured
about the run (its last evaluation, DP-SGD's (epsilon, delta)) and, when given, the privacy
audit. Fields that were not measured say so rather than being left out.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ganforge import capabilities as cap, run_stats
from ganforge.download import sha256_file
from ganforge.run_layout import STATS
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


def run_measurements(run: Run) -> dict[str, Any]:
    """The run's last evaluation (metrics named with their protocol) and its DP accounting, if any."""
    stats = _stats(Path(run.path))
    evals = [r for r in stats if any(k.startswith("eval/") for k in r) and r["step"] <= run.step]
    dp = [r for r in stats if "dp_epsilon" in r and r["step"] <= run.step]
    metrics = ({"step": evals[-1]["step"], **{k.removeprefix("eval/"): v for k, v in evals[-1].items()
                                              if k.startswith("eval/")}} if evals else NOT_MEASURED)
    privacy = ({"epsilon": dp[-1]["dp_epsilon"], "delta": run.config.dp.delta, "step": dp[-1]["step"],
                "noise_multiplier": run.config.dp.noise_multiplier, "max_grad_norm": run.config.dp.max_grad_norm,
                "accountant": "Opacus RDP"} if dp else "not trained with DP-SGD")
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
        "training_data": {"dataset": run.config.data.name, "split": run.config.data.split,
                          **(options.get("data") or {})},
        **run_measurements(run),
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


__all__ = ["FORMAT", "NOT_MEASURED", "build", "markdown", "run_measurements", "what_it_holds"]
