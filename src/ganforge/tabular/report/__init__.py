"""``ganforge table-report``: quality, privacy and utility of a synthetic table against the real one.

:func:`build` makes the whole report as one JSON-able dict (every per-column and per-pair score);
:func:`summary` is its few lines for a terminal; :mod:`.plots` and :mod:`.html` draw it. The parts:

* :mod:`.quality`: SDMetrics 0.32's quality score (column shapes, column-pair trends), cross-checked
  on SDMetrics' own demo pair (:mod:`.demo`);
* :mod:`.privacy`: exact copies, distance to closest record against a uniform baseline, and with a
  holdout the closer-to-train share and a membership-inference AUROC;
* :mod:`.utility`: train on synthetic, test on real, against train on real, with one fixed model.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ganforge.errors import DataError
from ganforge.tabular.report.privacy import Measures, privacy
from ganforge.tabular.report.quality import quality
from ganforge.tabular.report.utility import check_target, utility


def same_columns(real: pd.DataFrame, other: pd.DataFrame, what: str, flag: str) -> pd.DataFrame:
    """``other`` (the synthetic table or the holdout) with REAL's columns in REAL's order, or one line
    naming the columns that differ (a table written in another column order is just reordered)."""
    missing = [c for c in real.columns if c not in other.columns]
    extra = [c for c in other.columns if c not in real.columns]
    if missing or extra:
        raise DataError(f"{what} {flag} has other columns than REAL (" + "; ".join(
            x for x in (f"missing: {', '.join(map(str, missing))}" if missing else "",
                        f"not in REAL: {', '.join(map(str, extra))}" if extra else "") if x)
                        + "); give tables with the same columns")
    return other[list(real.columns)]


def build(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str], measures: Measures, *,
          holdout: pd.DataFrame | None = None, target: str | None = None, seed: int = 0,
          names: Mapping[str, str] | None = None) -> dict:
    """The full report. ``kinds`` maps every column to its kind (ID columns are not scored); ``names``
    holds the file names shown in the report (real, synthetic, holdout)."""
    names = dict(names or {})
    synthetic = same_columns(real, synthetic, "the synthetic table", names.get("synthetic", "SYN"))
    if holdout is not None:
        holdout = same_columns(real, holdout, "the holdout table", names.get("holdout", "--holdout"))
    kinds = {c: kinds[c] for c in real.columns}
    report: dict = {"real": names.get("real", "REAL"), "synthetic": names.get("synthetic", "SYN"),
                    "holdout": names.get("holdout") if holdout is not None else None,
                    "rows": {"real": len(real), "synthetic": len(synthetic),
                             "holdout": len(holdout) if holdout is not None else None},
                    "kinds": kinds, "not_scored": [c for c, k in kinds.items() if k == "id"], "seed": seed,
                    "quality": quality(real, synthetic, kinds),
                    "privacy": privacy(real, synthetic, kinds, measures, holdout=holdout, seed=seed)}
    try:
        chosen = check_target(target, kinds)
    except DataError as e:
        if target is not None:
            raise
        report["utility"], report["utility_skipped"] = None, str(e)
        return report
    report["utility"] = utility(real, synthetic, kinds, chosen, holdout=holdout, seed=seed)
    report["utility"]["target_chosen"] = "given (--target)" if target else "default: the last categorical column (else the last boolean)"
    return report


def _pct(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.2f}%"


def _f(x, digits: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def summary(report: dict) -> str:
    """A few lines for the terminal: the headline figures, each with what it means."""
    q, p, u = report["quality"], report["privacy"], report.get("utility")
    lines = [f"quality (SDMetrics 0.32 protocol): {_pct(q['overall'])} overall = mean of column shapes "
             f"{_pct(q['column_shapes'])} and column-pair trends {_pct(q['column_pair_trends'])} "
             f"({q['pairs_counted']} of {q['pairs_scored']} pairs counted)"]
    worst = sorted((c for c in q["columns"] if np.isfinite(c["score"])), key=lambda c: c["score"])[:3]
    if worst:
        lines.append("  worst columns: " + ", ".join(f"{c['column']} {c['score']:.2f}" for c in worst))
    lines.append(f"privacy: exact copies {_pct(p['exact_copy_rate'])} of synthetic rows; DCR baseline protection "
                 f"{_f(p['dcr_baseline_protection'])} (median distance to the closest real row, synthetic "
                 f"{_f(p['dcr_median_synthetic'])} / uniform random {_f(p['dcr_median_uniform'])}; 1 = no closer "
                 f"than random rows)")
    if p.get("membership"):
        m = p["membership"]
        lines.append(f"  closer to train than to holdout: {_f(p['closer_to_train_share'])} (0.5 ideal); membership "
                     f"AUROC {m['auroc']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}] (0.5 = no leak)")
    else:
        lines.append(f"  {p['without_holdout']}")
    if u is None:
        lines.append(f"utility: not measured: {report['utility_skipped']}")
    else:
        lines.append(f"utility on '{u['target']}' ({u['target_chosen']}): accuracy train-on-synthetic "
                     f"{_f(u['tstr']['accuracy'])} vs train-on-real {_f(u['trtr']['accuracy'])} "
                     f"({u['test_rows']} real test rows; {u['model']})")
        if u.get("note"):
            lines.append(f"  note: {u['note']}")
    if report["not_scored"]:
        lines.append(f"not scored (ID columns): {', '.join(report['not_scored'])}")
    return "\n".join(lines)


__all__ = ["Measures", "build", "same_columns", "summary"]
