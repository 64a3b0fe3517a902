"""``ganforge audit``: does a run's synthetic data leak its training set?

Distances to closest records (pixels and a judge's features) against a held-out real split,
near-copies below a threshold calibrated on that real split, and membership inference
(white-box through D, black-box through distances) as AUROC with a bootstrap interval. It
needs the run's training data exactly as trained on (checked against the run's fingerprint)
and a held-out split that shares no images with them (checked by content:
:mod:`ganforge.data.split_overlap`); each missing case ends in one line. See
:mod:`ganforge.privacy.audit`.
"""

from __future__ import annotations

import argparse
import json
import sys

from ganforge import capabilities as cap
from ganforge import memory, outputs
from ganforge.cli import options
from ganforge.cli.help import examples
from ganforge.data.registry import dataset_splits
from ganforge.data.split_overlap import check_unseen
from ganforge.errors import DataError, GanforgeError
from ganforge.metrics.judges import default_judge, load_judge
from ganforge.privacy import audit as privacy_audit
from ganforge.privacy.distances import NEAR_COPY_QUANTILE, nearest
from ganforge.privacy.membership import black_box
from ganforge.tabular.report import Measures
from ganforge.tabular.report.privacy import privacy as table_privacy
from ganforge.tabular.sampling import run_tables
from ganforge.synthetic.sources import reference_split, training_data
from ganforge.figures.drawing import nn_sheet

HOLDOUT_SPLITS = ("valid", "test")  # the first of these the dataset has is the default non-member split


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("audit", help="privacy audit of a run: distances to closest records, membership inference",
                       **examples("ganforge audit runs/cgan --out audit.json --figure pairs.png",
                                  "ganforge audit runs/small --holdout-data mnist --holdout-split valid"))
    options.run_dir(s)
    s.add_argument("--n", type=int, default=privacy_audit.N_SYNTHETIC,
                   help=f"synthetic samples drawn (default {privacy_audit.N_SYNTHETIC})")
    s.add_argument("--members", type=int,
                   help=f"training images and held-out images the attacks are scored on (default "
                        f"{privacy_audit.N_MEMBERS}, or all there are when fewer; more than there are is refused)")
    s.add_argument("--holdout-data", help="dataset of the held-out real images (default: the run's own dataset)")
    s.add_argument("--holdout-split", help="its split (default: valid, else test)")
    s.add_argument("--judge", help="judge for the feature distances (default: the dataset's; 'none' = pixels only)")
    s.add_argument("--quantile", type=float,
                   help=f"near-copy threshold: this quantile of held-out distances (default {NEAR_COPY_QUANTILE})")
    options.seed(s, "seed of the samples and the subsets (default 0)")
    options.checkpoint(s)
    options.data_dir(s, "image runs: ")
    options.device(s)
    s.add_argument("--out", help="write the full audit here (.json)")
    s.add_argument("--figure", help="write the closest synthetic/training pairs here (.png)")
    s.add_argument("--force", action="store_true", help="overwrite --out and --figure")
    s.set_defaults(func=run, on_interrupt="nothing was written")


def _holdout_split(name: str, given: str | None, run_data: str) -> str:
    if given is not None:
        return given
    splits = dataset_splits(name)
    for split in HOLDOUT_SPLITS:
        if split in splits:
            return split
    raise DataError(f"the dataset {name} has no held-out split ({', '.join(splits)} only), and the audit needs real "
                    f"images the run never saw; pass --holdout-data NAME --holdout-split SPLIT (e.g. mnist valid "
                    f"for a run trained on a slice of mnist train)" if name == run_data else
                    f"dataset {name} has no split {'/'.join(HOLDOUT_SPLITS)}; pass --holdout-split")


def _members(asked: int | None, train: int, holdout: int) -> int:
    """How many members (and as many non-members) the attacks use: all there are, or fewer when asked; a
    number above what exists is refused rather than quietly capped."""
    there = min(train, holdout)
    if asked is None:
        if there < privacy_audit.N_MEMBERS:
            print(f"ganforge: note: membership attacks use {there} training and {there} held-out images (all the "
                  f"{'held-out' if holdout <= train else 'training'} images there are; the default is "
                  f"{privacy_audit.N_MEMBERS})", file=sys.stderr)
        return min(there, privacy_audit.N_MEMBERS)
    if asked > there:
        raise GanforgeError(f"--members {asked} is more than there are: {train} training and {holdout} held-out "
                            f"images; use --members {there} or less")
    return asked


# Image runs' options, None by default (the real defaults are filled in after the check), so a table run
# refuses one whenever it is given, even with its default value.
IMAGE_ONLY = (("--members", "members"), ("--quantile", "quantile"), ("--figure", "figure"), ("--judge", "judge"),
              ("--holdout-split", "holdout_split"), ("--data-dir", "data_dir"))  # a table is csv:PATH, no cache


def run(args: argparse.Namespace) -> int:
    given = [flag for flag, key in IMAGE_ONLY if getattr(args, key, None) is not None]
    args.quantile = NEAR_COPY_QUANTILE if args.quantile is None else args.quantile
    if args.n < 2 or (args.members is not None and args.members < 2):
        raise GanforgeError(f"--n and --members must be at least 2, got {args.n} and {args.members}")
    if not 0 < args.quantile < 0.5:
        raise GanforgeError(f"--quantile must be in (0, 0.5), got {args.quantile}")
    out = outputs.check_file(args.out, flag="--out", force=args.force, suffixes=(".json",)) if args.out is not None else None
    fig = outputs.check_file(args.figure, flag="--figure", force=args.force, suffixes=(".png",)) if args.figure is not None else None
    opened = options.open_run(args)
    if cap.TABLE in cap.capabilities_of(opened.model):  # a table run: its rows, on the table report's encoding
        return _table_audit(opened, args, out, given)
    # The audit compares samples drawn from noise with the training images; a translation run's D takes
    # (input, output) pairs and an upscaler draws nothing, so both crashed deep inside the attacks.
    cap.require_any(opened.model, (cap.GENERATE,), run=args.run_dir, recipe=opened.config.recipe,
                    doing="be audited (the audit compares samples drawn from noise with the training images)")
    privacy_audit.check_images(opened)
    train = training_data(opened, args.data_dir)
    name = args.holdout_data or opened.config.data.name
    split = _holdout_split(name, args.holdout_split, opened.config.data.name)
    if name == opened.config.data.name and split == opened.config.data.split:
        raise GanforgeError(f"--holdout-split {split} is the split the run trained on; held-out images must be "
                            f"unseen (e.g. --holdout-split valid)")
    holdout = reference_split(opened, split, args.data_dir, dataset=args.holdout_data)
    if holdout.shape != train.shape:
        raise GanforgeError(f"held-out images are {holdout.shape}, training images {train.shape}; pick held-out "
                            f"data of the same kind")
    # by content, not by name: digits' `all` holds its `test`, mnist's `train60k` its `train`
    check_unseen(holdout, train, what=f"the held-out split {name} ({split})",
                 trained=f"{args.run_dir} trained on ({opened.config.data.name}, split {opened.config.data.split})",
                 fix="held-out images must be ones the run never saw: pass another --holdout-split (or "
                     "--holdout-data), or train the run on a split that leaves them out")
    memory.check_memory(args.n, privacy_audit.audit_bytes(1, tuple(train.shape)), flag="--n")
    members = _members(args.members, len(train), len(holdout))
    judge_name = args.judge or default_judge(name)
    judge = load_judge(judge_name, args.data_dir) if judge_name and judge_name != "none" else None
    result, synthetic, report = privacy_audit.audit_run(opened, train, holdout, judge=judge, n_synthetic=args.n,
                                                        n_members=members, quantile=args.quantile,
                                                        seed=args.seed)
    result["holdout_data"] = f"{name} ({split})"
    for space, r in result["dcr"].items():
        print(f"DCR {space}: ratio {r['ratio']:.3f} (synthetic/held-out median), near-copies {r['near_copies']}/"
              f"{r['n_synthetic']} (independent data: ~{r['threshold_quantile']:.0%}), exact copies "
              f"{r['exact_copies']}")
    for attack, r in result["membership"].items():
        print(f"membership {attack}: AUROC {r['auroc']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] (0.5 = no leak)")
    print("findings: " + ("; ".join(result["flags"]) if result["flags"] else "none crossed a line"))
    if out is not None:
        outputs.write_text(out, json.dumps(result, indent=1) + "\n", flag="--out", force=args.force)
        print(f"{out}: the full audit")
    if fig is not None:
        s, nb, d = privacy_audit.closest_pairs(synthetic, train, report)
        with outputs.atomic(fig, flag="--figure", force=args.force) as (temp,):
            nn_sheet(s, nb, d, title=f"{opened.path.name}, step {opened.step}: the samples closest to a training "
                                     f"image").save(temp)
        print(f"{fig}: the closest pairs")
    return 0


def _table_audit(opened, args: argparse.Namespace, out, given: list[str]) -> int:
    """A table run (recipe tabular): exact copies, DCR against a uniform baseline, the closer-to-train share
    and the black-box membership AUROC, on the normalised encoding of :mod:`ganforge.tabular.report.privacy`
    (the same measures as ``ganforge table-report``), between ``--n`` sampled rows, the training table and
    ``--holdout-data csv:PATH`` (real rows never trained on)."""
    if given:
        raise GanforgeError(f"{given[0]} is for image runs, and {args.run_dir} is a table run "
                            f"({opened.config.recipe}); a table run's audit takes --holdout-data csv:PATH, --n, "
                            f"--seed and --out: drop {given[0]}")
    if args.holdout_data is None:
        raise GanforgeError("a table run's audit needs real rows it never trained on; pass --holdout-data "
                            "csv:HOLDOUT.csv (the same columns as the training table)")
    t = run_tables(opened, args.holdout_data, args.n, args.seed)
    result = table_privacy(t["real"], t["synthetic"], t["kinds"], Measures(nearest=nearest, black_box=black_box),
                           holdout=t["holdout"], seed=args.seed)
    result["run"] = {"path": str(opened.path), "checkpoint": str(opened.checkpoint),
                     **privacy_audit.run_identity(opened), "train_data": opened.config.data.name}
    result["holdout_data"], result["n_synthetic"] = args.holdout_data, args.n
    mia = result["membership"]
    print(f"exact copies of training rows: {result['exact_copy_rate']:.2%} of {args.n} synthetic rows")
    print(f"DCR baseline protection {result['dcr_baseline_protection']:.3f} (median distance to the closest training "
          f"row, over that of uniform random rows; 1 = no nearer than random); closer to train than to holdout: "
          f"{result['closer_to_train_share']:.3f} (0.5 = no lean)")
    print(f"membership black_box: AUROC {mia['auroc']:.3f} [{mia['ci_low']:.3f}, {mia['ci_high']:.3f}] (0.5 = no leak)")
    if out is not None:
        outputs.write_text(out, json.dumps(result, indent=1, default=float) + "\n", flag="--out", force=args.force)
        print(f"{out}: the full audit")
    return 0
