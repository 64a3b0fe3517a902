"""``ganforge eval``: measure a run (or a .npy of samples) with protocol-labelled metrics."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from ganforge import outputs
from ganforge.api import check_eval_applies, check_labels, evaluate_run
from ganforge.cli import options
from ganforge.cli.device import device_option
from ganforge.cli.help import examples
from ganforge.errors import GanforgeError
from ganforge.metrics import describe
from ganforge.metrics.evaluation import Evaluator, write_report
from ganforge.metrics.judges import DEFAULT_JUDGE, INCEPTION, JUDGES
from ganforge.representation.classification import (SPLITS, accuracy_name, check_split, evaluate_classifier,
                                                     label_protocol)
from ganforge.run_layout import CHECKPOINTS, eval_report
from ganforge.runs.checkpoint import list_checkpoints
from ganforge.runs.lock import still_training
from ganforge.runs.rundir import read_config
from ganforge.runs.run import load_run


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load_samples(path: str, flag: str = "--samples") -> np.ndarray:
    """A non-empty array from a .npy file (the one reader of user .npy inputs: eval, translate, anomaly score)."""
    p = Path(path)
    if p.suffix != ".npy":
        raise GanforgeError(f"{flag} must name a .npy file (as `ganforge sample` writes), got '{p}'")
    if not p.is_file():
        raise GanforgeError(f"{flag} {p} does not exist; write it with `ganforge sample RUN --n N --out {p}`")
    try:
        with open(p, "rb") as f:
            head = f.read(6)
    except OSError as exc:
        raise GanforgeError(f"cannot read {flag} {p}: {exc.strerror}; check its permissions") from None
    if head != b"\x93NUMPY":  # numpy calls any other file "pickled data"
        raise GanforgeError(f"{flag} {p} is not a .npy file (no numpy header); save the array with numpy.save")
    try:
        x = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise GanforgeError(f"{flag} {p} is not a readable .npy array ({str(exc).splitlines()[0]}); save it "
                            f"with numpy.save") from None
    if not isinstance(x, np.ndarray) or x.ndim == 0 or len(x) == 0:
        shape = tuple(x.shape) if isinstance(x, np.ndarray) else "an archive"
        raise GanforgeError(f"{flag} {p} holds no samples (shape {shape}); write some with "
                            f"`ganforge sample RUN --n N --out {p}`")
    return x


def check_checkpoint_named(run_dir: str, which: str) -> None:
    """``--checkpoint`` is latest, best or a checkpoint directory's path. A bare name (step-0000050) that is
    no path here was called "not a checkpoint directory (no manifest.json)", as if a folder were there:
    say it does not exist and give the path it may mean, or the run's checkpoints."""
    if which in ("latest", "best") or Path(which).exists():
        return
    inside = Path(run_dir) / CHECKPOINTS / which
    if (inside / "manifest.json").is_file():
        raise GanforgeError(f"--checkpoint {which} does not exist here; for the run's checkpoint of that name "
                            f"pass --checkpoint {inside}")
    saved = list_checkpoints(Path(run_dir) / CHECKPOINTS)
    have = (f"{run_dir}'s are {', '.join(p.name for p in saved[-3:])}" + (" (the last 3)" if len(saved) > 3 else "")
            if saved else f"{run_dir} has none saved yet")
    raise GanforgeError(f"--checkpoint {which} does not exist ({have}); pass latest, best or a path like "
                        f"{Path(run_dir) / CHECKPOINTS / (saved[-1].name if saved else which)}")


def _write_json(report, path: Path) -> None:
    """``--json``: by the output rule (checked before measuring; written whole or not at all)."""
    print(f"report: {write_report(report, path, merge=False)}")


def _keep_report(report, run_dir: Path, name: str, json_given: bool) -> Path:
    """RUN_DIR/eval/<checkpoint>.json, after the metrics were printed: a run that cannot be written
    costs the user the file, not the measurement."""
    target = eval_report(run_dir, name)
    try:
        outputs.check_dir_writable(target.parent, flag="--json")
        return write_report(report, target)
    except (GanforgeError, OSError) as exc:
        why = str(exc) if isinstance(exc, GanforgeError) else outputs.describe_os_error(exc, target, "--json")
        saved = "the report is in --json" if json_given else "pass --json FILE to save it elsewhere"
        raise GanforgeError(f"the metrics above were measured, but the run's copy could not be kept ({why}); "
                            f"{saved}") from None


def _list_metrics() -> int:
    for family, values, summary in describe():
        print(f"{family:<7} {values}\n        {summary}")
    print("\njudges (feature networks):")
    for name, spec in JUDGES.items():
        print(f"  {name:<9} {spec.description}")
    print(f"  {INCEPTION:<9} the FID InceptionV3 (pytorch-fid weights; --inception-weights PATH)")
    print("default judge by dataset: " + ", ".join(f"{d}: {j}" for d, j in DEFAULT_JUDGE.items()))
    print("\nnames: <family><count>[_<reference split>][_<judge>], e.g. fid10k_test_lenet, parzen10k_test, "
          "is10k_lenet, modes2500_3std; parts left out take the dataset's defaults")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list_metrics:
        return _list_metrics()
    if args.force and args.json is None:
        raise GanforgeError("--force needs --json: it lets eval replace the --json file you name; a run's "
                            "RUN_DIR/eval/<checkpoint>.json is merged into without it; drop --force, or name a file with --json")
    if args.n is not None and args.n < 2:
        raise GanforgeError(f"--n must be at least 2 samples, got {args.n}")
    if args.metrics is not None and not [m for m in args.metrics.split(",") if m.strip()]:
        raise GanforgeError("--metrics names no metric; name some (e.g. --metrics fid,prdc; --list-metrics shows "
                            "them), or leave it out for the dataset's default set")
    given_seed, args.seed = args.seed is not None, options.DEFAULT_SEED if args.seed is None else args.seed
    if args.json is not None and args.samples:  # --force must not replace the samples being read
        outputs.check_not_input(args.json, args.samples, flag="--json", input_flag="--samples")
    json_path = outputs.check_file(args.json, flag="--json", force=args.force) if args.json is not None else None
    device = device_option(args.device)
    if args.samples:
        if args.run_dir:
            raise GanforgeError("give either RUN_DIR or --samples FILE.npy, not both")
        if not args.dataset:
            raise GanforgeError("--samples needs --dataset NAME, the data to measure against (e.g. --dataset mnist)")
        x = load_samples(args.samples)
        ev = Evaluator(args.dataset, args.metrics, n=args.n, available=len(x), data_dir=args.data_dir,
                       seed=args.seed, device=device, inception_weights=args.inception_weights, log_fn=_say)
        labels = check_labels(load_samples(args.labels, "--labels"), len(x), f"--labels {args.labels}") \
            if args.labels else None
        if labels is not None and not any(s.family == "acc" for s in ev.specs):  # read by acc alone
            raise GanforgeError(f"--labels is read by the acc metric only, and {', '.join(ev.names)} "
                                f"{'is' if len(ev.names) == 1 else 'are'} measured without labels; add acc to "
                                f"--metrics, or drop --labels")
        report = ev.run(x, labels)
        report.samples = {"source": "file", "path": str(Path(args.samples).resolve()), "n": int(len(x)),
                          "seed": args.seed}
        print(f"{args.samples}: {len(x)} samples measured against {report.dataset}")
        print(report.table())
        if json_path is not None:
            _write_json(report, json_path)
        return 0
    if not args.run_dir:
        raise GanforgeError("give a RUN_DIR to measure, or --samples FILE.npy --dataset NAME")
    if args.dataset:
        raise GanforgeError("--dataset goes with --samples; a run is always measured against the data it was "
                            "trained on")
    if args.labels:
        raise GanforgeError("--labels goes with --samples; a run's samples carry the labels its generator drew "
                            "them for: drop --labels")
    check_eval_applies(args.run_dir, read_config(Path(args.run_dir)))  # before any checkpoint is read
    check_checkpoint_named(args.run_dir, args.checkpoint)
    opened = load_run(args.run_dir, args.checkpoint, device=device)
    if args.checkpoint == "latest" and (note := still_training(args.run_dir)):
        print(f"ganforge: note: {note}, {opened.checkpoint.name}", file=sys.stderr)
    if hasattr(opened.model, "class_logits"):  # a D that classifies (semi-supervised): its accuracy
        unused = [flag for flag, given in (("--n", args.n is not None), ("--seed", given_seed),
                                           ("--inception-weights", args.inception_weights is not None)) if given]
        if unused:  # the accuracy reads the whole split through D, with no samples drawn
            raise GanforgeError(f"{args.run_dir} is a classifier, whose accuracy reads every image of the split "
                                f"through D and draws no samples; drop {unused[0]}")
        return _classifier_report(args, opened, json_path)
    report, _ = evaluate_run(opened, args.metrics, n=args.n, seed=args.seed, data_dir=args.data_dir,
                             inception_weights=args.inception_weights, log_fn=_say, write=False)
    s = report.samples
    print(f"{args.run_dir}: {s['checkpoint']} (step {s['step']}), {s['n']} samples (seed {s['seed']}) "
          f"against {report.dataset}")
    print(report.table(), flush=True)
    if json_path is not None:
        _write_json(report, json_path)
    print(f"report: {_keep_report(report, opened.path, opened.checkpoint.name, json_path is not None)}")
    return 0


def _classifier_report(args: argparse.Namespace, opened, json_path: Path | None) -> int:
    """A classifying run's accuracy, named with its protocol (acc_test_100labels_seed0); --metrics may
    name acc, acc_test or acc_valid (the split to select checkpoints on, where the dataset has one: MNIST)."""
    names = [m.strip() for m in (args.metrics or "acc").split(",") if m.strip()]
    splits = []
    for name in names:
        split = _accuracy_split(name, args.run_dir, opened)
        splits += [split] if split not in splits else []
    values = {}
    for split in splits:
        values.update(evaluate_classifier(opened, split, data_dir=args.data_dir))
    print(f"{args.run_dir}: {opened.checkpoint.name} (step {opened.step}), D's classification of {opened.config.data.name}")
    for key, value in values.items():
        print(f"  {key:<36} {value:.4f}")
    report = {"run_dir": str(opened.path), "checkpoint": opened.checkpoint.name, "step": opened.step, "metrics": values}
    if json_path is not None:
        written = outputs.write_text(json_path, json.dumps(report, indent=2) + "\n", flag="--json")
        print(f"report: {written}")
    target = eval_report(opened.path, opened.checkpoint.name)
    kept = _earlier_accuracies(target, opened.checkpoint.name)  # as image runs' reports merge: a split
    merged = {**report, "metrics": {**kept, **values}}  # measured now replaces its old figure; the others stay
    written = outputs.write_text(target, json.dumps(merged, indent=2) + "\n", flag="--json")
    print(f"report: {written}")
    return 0


def _earlier_accuracies(path: Path, checkpoint: str) -> dict[str, float]:
    """The accuracies the run's copy of this checkpoint's report already holds ({} when none can be read)."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    metrics = old.get("metrics") if isinstance(old, dict) and old.get("checkpoint") == checkpoint else None
    return {k: v for k, v in metrics.items() if k.startswith("acc_")} if isinstance(metrics, dict) else {}


# acc[_split][_<N>labels|_alllabels][_seed<S>]: the protocol parts a user may name (docs/semi-supervised.md)
_ACC_NAME = re.compile(rf"acc(?:_(?P<split>{'|'.join(SPLITS)}))?(?:_(?P<labels>\d+|all)labels)?"
                       rf"(?:_seed(?P<seed>\d+))?")


def _accuracy_split(name: str, run_dir: str, opened) -> str:
    """The split an accuracy name asks for. The labels and seed it names must be the run's own: D is
    measured as trained, and a name naming another protocol was reported under the run's name instead."""
    if not name.lower().startswith("acc"):
        raise GanforgeError(f"{run_dir} is a classifier: its metric is acc (acc_test, acc_valid), not '{name}'")
    m = _ACC_NAME.fullmatch(name.lower())
    if m is None:
        raise GanforgeError(f"'{name}' is not an accuracy name; write acc, acc_test or acc_valid (or the full "
                            f"name, e.g. acc_test_100labels_seed0)")
    split = m["split"] or "test"
    check_split(opened, split)  # first, so that the name suggested below is one the dataset can measure
    labels, seed = label_protocol(opened)  # what evaluate_classifier names the accuracy by
    own = accuracy_name(split, labels, seed)
    asked_labels = None if m["labels"] in (None, "all") else int(m["labels"])
    if (m["labels"] is not None and asked_labels != labels) or (m["seed"] is not None and
                                                                (labels is None or int(m["seed"]) != seed)):
        drew = ("trained with every label, drawn by no seed" if labels is None
                else f"drew its {labels} labels with seed {seed}")
        raise GanforgeError(f"{run_dir} {drew}, so it cannot measure {name}; ask for {own} (another protocol "
                            f"needs a run trained with it)")
    return split


def add_parser(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("eval", help="measure a run (or a .npy of samples) with protocol-labelled metrics",
                       description="Measure generated samples. Metric names carry their protocol: "
                                   "fid10k_test_lenet = FID of 10,000 samples against the test split in "
                                   "LeNet features. Writes RUN_DIR/eval/<checkpoint>.json.",
                       **examples("ganforge eval runs/ring8                                # modes2500_3std",
                                  "ganforge eval runs/cgan --metrics acc,fid --json cgan.json",
                                  "ganforge eval --samples s.npy --dataset ring8"))
    options.run_dir(e, "a run directory written by `ganforge train`", nargs="?")
    e.add_argument("--samples", help="measure this .npy instead (uint8 (N, C, H, W) images or float (N, D) points)")
    e.add_argument("--dataset", help="with --samples: the dataset to measure against (e.g. mnist, digits)")
    e.add_argument("--labels", help="with --samples: the class of each sample (FILE.labels.npy from "
                                    "`ganforge sample --class`), for the acc metric")
    e.add_argument("--metrics", help="comma-separated names, full (fid10k_test_lenet) or partial (fid, pr5k, "
                                     "fid_train); default: the dataset's set")
    e.add_argument("--n", type=int, help="samples for metrics whose name gives no count (default 10k; "
                                         "2500 for 2-D modes, 26k for Stacked MNIST modes)")
    options.checkpoint(e)
    e.add_argument("--json", help="also write the report to this file")
    e.add_argument("--force", action="store_true", help="overwrite the --json file if it exists")
    options.seed(e, f"noise seed for the samples (default {options.DEFAULT_SEED})", default=None)
    options.data_dir(e)
    e.add_argument("--inception-weights", help="pt_inception-2015-12-05-6726825d.pth for *_inception metrics")
    options.device(e)
    e.add_argument("--list-metrics", action="store_true", help="list metric families and judges, then stop")
    e.set_defaults(func=run, on_interrupt="nothing was written")
