"""``curves.png``: a run's training curves (losses, D outputs, every metric logged or evaluated), read from
``stats.jsonl`` and ``eval/*.json``.

Apart from the run's other figures because the curves come from the run's records, not from a checkpoint:
nothing here opens a model or its data.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ganforge import run_stats
from ganforge.errors import GanforgeError
from ganforge.plotting import pyplot
from ganforge.run_layout import EVAL, STATS

TRAIN_KEYS = ("step", "epoch", "img_per_s", "event", "message")  # and every network's lr_<name>
SPREADS = (".std", ".se", ".sigma")  # metric values that are spreads or settings, not curves


def read_curves(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """``{key: [(step, value), ...]}`` from stats.jsonl (its statistics, read by :mod:`ganforge.run_stats`)
    and eval/*.json."""
    series: dict[str, list[tuple[int, float]]] = {}
    try:
        for rec in run_stats.records(run_dir / STATS):
            for k, v in rec.items():
                k = k.removeprefix("eval/")  # the training loop logs metric values as eval/<key>
                if (k not in TRAIN_KEYS and not k.startswith("lr_") and run_stats.is_number(v)
                        and not k.endswith(SPREADS)):
                    series.setdefault(k, []).append((int(rec["step"]), float(v)))
    except OSError as e:  # unreadable (permissions, a folder of that name): not "no records yet"
        raise GanforgeError(f"cannot read {run_dir / STATS} ({e.strerror or e}); curves.png is drawn from it: "
                            f"restore the file (or move it away to draw the other figures)") from None
    for path in sorted((run_dir / EVAL).glob("*.json")):
        try:
            rep = json.loads(path.read_text())
            step = int(rep["samples"]["step"])
            values = dict(rep["values"])
        except (ValueError, KeyError, TypeError, OverflowError):  # not a report eval wrote: skipped, like a bad line
            continue
        for k, v in values.items():
            if run_stats.is_number(v) and not k.endswith(SPREADS):
                pts = series.setdefault(k, [])
                if all(s != step for s, _ in pts):
                    pts.append((step, float(v)))
    return {k: sorted(v) for k, v in series.items()}


def plot_curves(series: dict[str, list[tuple[int, float]]], path: Path, title: str | None = None) -> Path | None:
    if not series:
        return None
    groups = {
        "losses": [k for k in series if k.startswith("loss")],
        "D outputs": [k for k in series if k.startswith("D_")],
    }
    used = {k for ks in groups.values() for k in ks}
    metrics = [k for k in series if k not in used]
    panels = [(title, keys) for title, keys in groups.items() if keys] + [(k, [k]) for k in metrics]
    plt = pyplot()
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), dpi=100, squeeze=False)
    for ax, (panel, keys) in zip(axes.flat, panels):
        singles = [k for k in keys if len(series[k]) == 1]
        for k in keys:
            if k not in singles:
                steps, vals = zip(*series[k])
                ax.plot(steps, vals, marker="o" if len(steps) < 30 else None, ms=3, label=k)
        if singles:
            _single_points(ax, {k: series[k][0] for k in singles}, window=len(singles) == len(keys))
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        if len(keys) > 1:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    # the suptitle gets its own strip above the panels (plain tight_layout put it over the top row's titles)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / (3.2 * rows)) if title else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


LABEL_GAP = 13  # points between the labels of single measurements in one panel


def _single_points(ax, points: dict[str, tuple[int, float]], window: bool) -> None:
    """Measurements made once: large labelled markers, not lone dots at an axis corner. With ``window``
    (every key of the panel measured once) the panel's limits are set once, from all of its points, so
    each of them is inside; the labels are stacked in the order of the values, one LABEL_GAP apart, so
    they never overlap. A value that cannot be drawn (inf: e.g. a reverse KL with a mode missed entirely)
    is written out."""
    finite = {k: sv for k, sv in points.items() if math.isfinite(sv[1])}
    named = len(points) > 1
    for i, (k, (step, value)) in enumerate(sorted(finite.items(), key=lambda kv: (kv[1][1], kv[0]))):
        ax.plot([step], [value], marker="o", ms=8, ls="none", label=k)
        offset = LABEL_GAP * (i - (len(finite) - 1) / 2)
        ax.annotate(f"{k}: " * named + f"{value:.4g} at step {step:g}", (step, value), textcoords="offset points",
                    xytext=(10, offset), ha="left", va="center", fontsize=8)
    for i, (k, (step, value)) in enumerate(kv for kv in points.items() if kv[0] not in finite):
        ax.text(0.5, 0.5 - 0.1 * i, f"{k}: " * named + f"{value} at step {step:g}", transform=ax.transAxes,
                ha="center", fontsize=9)
    if not window:
        return
    steps = [s for s, _ in points.values()]
    lo_s, hi_s = min(steps), max(steps)
    span = max(abs(hi_s) * 0.5, hi_s - lo_s, 1.0)
    ax.set_xlim(lo_s - 0.6 * span, hi_s + 1.4 * span)  # room on the right for the labels
    if not finite:
        ax.set_yticks([])
        return
    vals = [v for _, v in finite.values()]
    lo, hi = min(vals), max(vals)
    pad = max((hi - lo) * 0.5, max(abs(lo), abs(hi)) * 0.5, 1e-3)
    ax.set_ylim(lo - pad, hi + pad)


def curves_title(run_dir: Path, series: dict[str, list[tuple[int, float]]]) -> str:
    """"run · training curves · steps A–B": the curves come from the run's records, not from a checkpoint,
    so the title names the steps they cover."""
    steps = [s for pts in series.values() for s, _ in pts]
    span = f"step {min(steps)}" if min(steps) == max(steps) else f"steps {min(steps)}–{max(steps)}"
    return f"{Path(run_dir).resolve().name} · training curves · {span}"
