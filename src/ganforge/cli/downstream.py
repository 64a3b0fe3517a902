"""``ganforge downstream``: train-on-synthetic scores of a class-conditional run.

``cas``: a fixed classifier trained only on the run's samples (as many as the real training
set, classes balanced), tested on the real test split, beside the same classifier trained on
the real data (CAS / TSTR / GAN-train); a test split that shares images with the training split
is refused (by content: :mod:`ganforge.data.split_overlap`). ``gan-test``: the real-trained classifier's accuracy on
the samples. ``augment``: real data at 1%, 10% and 100%, with and without the samples added.
Every number is a mean over classifier seeds with its spread; the classifier recipe is fixed
per image shape (:mod:`ganforge.synthetic.classifier`) and written into the report.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from ganforge import capabilities as cap
from ganforge import memory, outputs
from ganforge.cli import options
from ganforge.cli.help import examples
from ganforge.data.split_overlap import check_unseen
from ganforge.errors import GanforgeError
from ganforge.synthetic import classifier, scores
from ganforge.synthetic.sources import check_labelled, labelled_samples, reference_split, training_data
from ganforge.tabular.report.utility import check_target, utility
from ganforge.tabular.sampling import run_tables

WHAT = ("cas", "gan-test", "augment")
DEFAULT_WHAT, DEFAULT_TEST_SPLIT = "cas,gan-test", "test"
DEFAULT_SEEDS = ",".join(map(str, classifier.SEEDS))
# Image runs' options: None by default (the real defaults above are filled in after a table run refused any of
# them), so a table run refuses the option whenever it is given, even with its default value.
IMAGE_ONLY = (("--what", "what"), ("--seeds", "seeds"), ("--test-split", "test_split"),
              ("--data-dir", "data_dir"))  # a table is read from csv:PATH, with no dataset or judge cache
# Bytes per pixel value the synthetic set costs: the uint8 samples, the real+synthetic copy the
# augmentation table concatenates, and the float32 batch the generator makes them from.
BYTES_PER_VALUE = 1 + 1 + 4


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("downstream", help="train-on-synthetic scores: CAS (TSTR), GAN-test, augmentation",
                       **examples("ganforge downstream runs/cgan --what cas,gan-test --out cas.json",
                                  "ganforge downstream runs/cgan --what augment --seeds 0,1,2,3,4"))
    options.run_dir(s, "a class-conditional run directory written by `ganforge train`")
    s.add_argument("--what", help=f"image runs: comma-separated {', '.join(WHAT)} (default {DEFAULT_WHAT})")
    s.add_argument("--n", type=int, help="synthetic samples (default: as many as the real training set)")
    s.add_argument("--seeds", help=f"image runs: classifier seeds, at least 3 (default {DEFAULT_SEEDS})")
    s.add_argument("--test-split", help=f"image runs: real split the classifiers are tested on (default "
                                        f"{DEFAULT_TEST_SPLIT})")
    s.add_argument("--holdout-data", metavar="csv:PATH",
                   help="table runs: real rows never trained on, the test set (default: a seeded 30%% of the "
                        "training table, which the generator saw, so the figure is optimistic)")
    options.checkpoint(s)
    options.data_dir(s, "image runs: ")
    options.device(s, "device that generates the samples: cpu (default) or cuda")
    s.add_argument("--out", help="write the report here (.json)")
    s.add_argument("--force", action="store_true", help="overwrite --out")
    s.set_defaults(func=run, on_interrupt="nothing was written")


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise GanforgeError(f"--seeds must be integers separated by commas, got '{text}'") from None
    if any(s < 0 for s in seeds):
        raise GanforgeError(f"--seeds must be integers >= 0, got '{text}'")
    if len(set(seeds)) < 3:
        raise GanforgeError(f"--seeds needs at least 3 different classifier seeds (their spread is part of the "
                            f"figure), got {len(set(seeds))}")
    return seeds


def run(args: argparse.Namespace) -> int:
    given = [flag for flag, key in IMAGE_ONLY if getattr(args, key, None) is not None]
    args.what = DEFAULT_WHAT if args.what is None else args.what
    args.seeds = DEFAULT_SEEDS if args.seeds is None else args.seeds
    args.test_split = DEFAULT_TEST_SPLIT if args.test_split is None else args.test_split
    what = [w.strip() for w in args.what.split(",") if w.strip()]
    bad = [w for w in what if w not in WHAT]
    if bad or not what:
        raise GanforgeError(f"--what '{args.what}' is not a list of {', '.join(WHAT)}")
    seeds = _seeds(args.seeds)
    if args.n is not None and args.n <= 0:
        raise GanforgeError(f"--n must be a positive number of samples, got {args.n}")
    out = outputs.check_file(args.out, flag="--out", force=args.force, suffixes=(".json",)) if args.out is not None else None
    opened = options.open_run(args)
    if cap.TABLE in cap.capabilities_of(opened.model):  # a table run: a fixed scikit-learn model on data.target
        if given:
            raise GanforgeError(f"{given[0]} is for image runs, and {args.run_dir} is a table run "
                                f"({opened.config.recipe}), whose downstream score is TSTR against TRTR on "
                                f"data.target, tested on --holdout-data csv:PATH; drop {given[0]}")
        return _table_downstream(opened, args, out)
    if args.holdout_data is not None:  # an image run tests on --test-split: a silently unused option misleads
        raise GanforgeError(f"--holdout-data is for table runs, and {args.run_dir} is an image run "
                            f"({opened.config.recipe}), tested on its dataset's --test-split; drop --holdout-data")
    check_labelled(opened)
    if args.test_split == opened.config.data.split:
        raise GanforgeError(f"--test-split {args.test_split} is the split the run trained on; the classifiers must "
                            f"be tested on images the run never saw (e.g. --test-split test)")
    train = training_data(opened, args.data_dir)
    recipe = classifier.recipe_for(train.shape, train.num_classes)
    n = args.n or len(train)
    memory.check_memory(n, int(np.prod(train.shape)) * BYTES_PER_VALUE + 8, flag="--n")
    test = reference_split(opened, args.test_split, args.data_dir)
    # by content, not by name: a run trained on digits' `all` has seen every image of its `test`
    check_unseen(test, train, what=f"the test split {opened.config.data.name} ({args.test_split})",
                 trained=f"{args.run_dir} trained on ({opened.config.data.name}, split {opened.config.data.split})",
                 fix="the classifiers must be tested on images the run never saw: pass another --test-split, or "
                     "train the run on a split that leaves them out")
    sx, sy = labelled_samples(opened, n, seed=0)
    rx, ry, tx, ty = train.x.numpy(), train.y.numpy(), test.x.numpy(), test.y.numpy()
    report: dict = {"run": str(opened.path), "checkpoint": str(opened.checkpoint), "step": opened.step,
                    "test": f"{opened.config.data.name} ({args.test_split}, {len(tx)} images)",
                    "recipe": recipe.describe(), "seeds": seeds}
    if "cas" in what:
        r = report["cas"] = scores.cas(sx, sy, rx, ry, tx, ty, recipe, seeds)
        print(f"{r['name']}: {_pm(r['synthetic'])} trained on synthetic, {_pm(r['real'])} on real "
              f"({len(rx)} images); gap {r['gap'] * 100:.2f} points")
    if "gan-test" in what:
        r = report["gan_test"] = scores.gan_test(sx, sy, rx, ry, recipe, seeds)
        print(f"{r['name']}: {_pm(r)} of samples classified as their requested class by real-trained classifiers")
    if "augment" in what:
        r = report["augment"] = scores.augmentation(sx, sy, rx, ry, tx, ty, recipe, seeds=seeds)
        for row in r["rows"]:
            print(f"{r['name']} real {row['fraction']:.0%}: {_pm(row['real_only'])} real only, "
                  f"{_pm(row['with_synthetic'])} with {len(sx)} synthetic ({row['change'] * 100:+.2f} points)")
    if out is not None:
        outputs.write_text(out, json.dumps(report, indent=1, default=_plain) + "\n", flag="--out", force=args.force)
        print(f"{out}: the full report (per-class accuracies, every seed)")
    return 0


def _pm(r: dict) -> str:
    return f"{r['top1_mean'] * 100:.2f}% +- {r['top1_std'] * 100:.2f}"


def _plain(value):
    return value.item() if isinstance(value, np.generic) else str(value)


def _table_downstream(opened, args: argparse.Namespace, out) -> int:
    """A table run (recipe tabular): train on synthetic, test on real (TSTR) against train on real (TRTR), one
    fixed scikit-learn model (:mod:`ganforge.tabular.report.utility`, as ``ganforge table-report``) predicting
    the run's ``data.target`` (else the last categorical, else boolean, column) from the other columns."""
    t = run_tables(opened, args.holdout_data, args.n, 0)  # --n: as many synthetic rows as the real table by default
    target = check_target(opened.config.data.target, t["kinds"],
                          how=f"{opened.path} learned none; train again with --set data.target=COLUMN (a column of "
                              f"class codes is learned as categories then), and run downstream on that run")
    report = utility(t["real"], t["synthetic"], t["kinds"], target, holdout=t["holdout"], seed=0)
    report.update({"run": str(opened.path), "checkpoint": str(opened.checkpoint), "step": opened.step,
                   "synthetic_rows": len(t["synthetic"])})
    trtr, tstr = report["trtr"], report["tstr"]
    print(f"tstr_accuracy {tstr['accuracy']:.4f} (macro-F1 {tstr['macro_f1']:.4f}) trained on {len(t['synthetic'])} "
          f"synthetic rows; trtr_accuracy {trtr['accuracy']:.4f} (macro-F1 {trtr['macro_f1']:.4f}) on real; target "
          f"{target}, {report['model']}; {report['protocol']}")
    if out is not None:
        outputs.write_text(out, json.dumps(report, indent=1, default=_plain) + "\n", flag="--out", force=args.force)
        print(f"{out}: the full report")
    return 0
