"""``ganforge table-report REAL SYN``: how faithful, how private and how useful a synthetic table is.

Column types are inferred from REAL (as ``ganforge train`` does for ``csv:PATH``) and printed; the
report scores quality (SDMetrics 0.32's definitions), privacy (exact copies, distance to closest
record against random rows, and with ``--holdout`` the closer-to-train share and a membership AUROC)
and utility (train on synthetic, test on real). ``--out`` writes every per-column and per-pair score as
JSON, ``--html`` one self-contained page with the figures. See :mod:`ganforge.tabular.report`.
"""

from __future__ import annotations

import argparse
import json
import math

from ganforge import outputs
from ganforge.cli import options
from ganforge.cli.help import examples
from ganforge.errors import DataError
from ganforge.privacy.distances import nearest
from ganforge.privacy.membership import black_box
from ganforge.tabular.report import Measures, build, summary
from ganforge.tabular.report.html import render
from ganforge.tabular.report.plots import columns_figure, correlation_figure
from ganforge.tabular.report.tables import check_holdout, kinds_of, read

MEASURES = Measures(nearest=nearest, black_box=black_box)


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("table-report", help="quality, privacy and utility of a synthetic table against the real one",
                       **examples("ganforge table-report real.csv syn.csv --holdout holdout.csv --out report.json",
                                  "ganforge table-report real.csv syn.csv --html report.html --target label"))
    s.add_argument("real", help="the real table the generator was trained on (.csv or .parquet)")
    s.add_argument("synthetic", help="the synthetic table, with REAL's columns (in any order)")
    s.add_argument("--holdout", help="real rows the generator never saw: enables the closer-to-train share and "
                                     "the membership AUROC, and is the utility test set")
    s.add_argument("--target", help="the column utility predicts (default: the last categorical column, else the last boolean)")
    s.add_argument("--discrete", default="", help="comma-separated columns to treat as categorical")
    s.add_argument("--ids", default="", help="comma-separated ID columns (not scored)")
    options.seed(s, help="seed of the subsets, random rows and splits (default 0)")
    s.add_argument("--out", help="write the full report here (.json)")
    s.add_argument("--html", help="write a one-file HTML report with the figures here (.html)")
    s.add_argument("--force", action="store_true", help="overwrite --out and --html")
    s.set_defaults(func=run, on_interrupt="nothing was written")


def _names(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _json_safe(value):
    """NaN and infinities as null: JSON has no such numbers, and strict readers refuse them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def run(args: argparse.Namespace) -> int:
    out = outputs.check_file(args.out, flag="--out", force=args.force, suffixes=(".json",)) if args.out is not None else None
    page = outputs.check_file(args.html, flag="--html", force=args.force, suffixes=(".html",)) if args.html is not None else None
    if out is not None and page is not None and out.resolve() == page.resolve():
        raise DataError("--out and --html name the same file; give two names")
    real = read(args.real, "REAL", strict=True)
    synthetic = read(args.synthetic, "SYN", strict=False)
    holdout = read(args.holdout, "--holdout", strict=False) if args.holdout else None
    kinds, described = kinds_of(real, discrete=_names(args.discrete), ids=_names(args.ids))
    if holdout is not None:
        check_holdout(holdout, real, args.holdout, args.real, kinds)
    if args.target is not None and args.target not in kinds:
        raise DataError(f"--target {args.target} is not a column of REAL; its columns: {', '.join(kinds)}")
    print(described)
    report = build(real, synthetic, kinds, MEASURES, holdout=holdout, target=args.target, seed=args.seed,
                   names={"real": args.real, "synthetic": args.synthetic, "holdout": args.holdout})
    print(summary(report))
    if out is not None:
        outputs.write_text(out, json.dumps(_json_safe(report), indent=1) + "\n", flag="--out", force=args.force)
        print(f"{out}: every per-column and per-pair score")
    if page is not None:
        shapes = {c["column"]: c["score"] for c in report["quality"]["columns"]}
        text = render(report, columns_figure(real, synthetic, kinds, shapes),
                      correlation_figure(real, synthetic, kinds))
        outputs.write_text(page, text, flag="--html", force=args.force)
        print(f"{page}: the report with its figures")
    return 0
