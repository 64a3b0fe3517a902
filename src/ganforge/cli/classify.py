"""``ganforge classify``: class predictions of a semi-supervised run's D (its moving average when kept).

``--input X.npy`` holds images as ``ganforge sample`` writes them (uint8 (N, C, H, W), or (N, H, W)
for grey), or floats already in the range D was trained on. ``--out P.npy`` gets the predicted
classes (int64, (N,)); ``--probs`` adds ``P.probs.npy`` (float32 (N, K), softmax over the K real
classes). Without ``--out`` the class counts are printed. Accuracy on the test split is
``ganforge eval RUN`` (``acc_test_<N>labels_seed<S>``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ganforge import outputs
from ganforge.cli import options
from ganforge.cli.evaluate import load_samples
from ganforge.cli.help import examples
from ganforge.errors import GanforgeError
from ganforge.representation import predict


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("classify", help="class predictions of a semi-supervised run's D for a .npy of images",
                       **examples("ganforge classify runs/ssgan --input test.npy --out pred.npy",
                                  "ganforge classify runs/ssgan --input test.npy --out pred.npy --probs",
                                  "ganforge eval runs/ssgan                 # acc_test_100labels_seed0"))
    options.run_dir(s, "a run directory of recipe semi-supervised")
    s.add_argument("--input", required=True, help="uint8 (N, C, H, W) or (N, H, W) images in a .npy")
    s.add_argument("--out", help="write the predicted classes (int64, (N,)) here; default: print class counts")
    s.add_argument("--probs", action="store_true", help="with --out: also write OUT.probs.npy, the class "
                                                       "probabilities (float32, (N, K))")
    options.checkpoint(s)
    options.device(s)
    s.add_argument("--force", action="store_true", help="overwrite --out (and its .probs.npy)")
    s.set_defaults(func=run, on_interrupt="no output was written (existing files are unchanged)")


def _targets(args: argparse.Namespace) -> list[Path]:
    if args.out is None:
        if args.probs:
            raise GanforgeError("--probs writes OUT.probs.npy beside --out; give --out P.npy")
        return []
    if not args.out.endswith(".npy"):
        raise GanforgeError(f"--out must name a .npy file, got '{args.out}'")
    outputs.check_not_input(args.out, args.input)
    probs = args.out[:-4] + ".probs.npy"
    if args.probs:
        outputs.check_not_input(probs, args.input)
    out = outputs.check_file(args.out, flag="--out", force=args.force, suffixes=(".npy",))
    if not args.probs:
        return [out]
    return [out, outputs.check_file(probs, flag="--out", force=args.force, suffixes=(".npy",))]


def run(args: argparse.Namespace) -> int:
    targets = _targets(args)  # every output path checked before any work
    x = load_samples(args.input, "--input")
    if x.ndim < 3:  # one value per sample: D's shape check would call each sample "of shape ()"
        raise GanforgeError(f"--input {args.input} holds a {x.ndim}-D array {tuple(x.shape)}, not images; pass "
                            f"uint8 images (N, C, H, W) or (N, H, W), as `ganforge sample` writes them")
    opened = options.open_run(args)
    classes, probs = predict(opened, x)
    if not targets:
        counts = np.bincount(classes, minlength=probs.shape[1])
        print(f"{args.input}: {len(classes)} images; predicted class counts: "
              + ", ".join(f"{c}: {n}" for c, n in enumerate(counts)))
        return 0
    with outputs.atomic(*targets, flag="--out") as temps:
        np.save(temps[0], classes)
        if args.probs:
            np.save(temps[1], probs)
    print(f"wrote {', '.join(map(str, targets))} ({len(classes)} images)")
    return 0
