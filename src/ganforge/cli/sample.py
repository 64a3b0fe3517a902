"""``ganforge sample``: draw samples from a trained run into a .npy file (and a picture)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ganforge.errors import GanforgeError
from ganforge.runs.run import load_run
from ganforge.viz import save_image_grid, save_points_plot


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sample", help="draw samples from a trained run into a .npy file")
    s.add_argument("run_dir", help="a run directory written by `ganforge train`")
    s.add_argument("--n", type=int, required=True, help="number of samples")
    s.add_argument("--out", required=True, help="output .npy: uint8 (N, C, H, W) images or float32 (N, 2) points")
    s.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    s.add_argument("--checkpoint", default="latest", help="latest (default), best, or a checkpoint directory")
    s.add_argument("--device", help="cpu (default) or cuda")
    s.add_argument("--class", dest="classes", type=int, action="append", metavar="C",
                   help="class-conditional runs: generate class C (repeat for several, cycled)")
    s.add_argument("--truncation", type=float, help="truncation trick: redraw noise components beyond this |z|")
    s.add_argument("--grid", help="also save a PNG picture of the samples here")
    s.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.n <= 0:
        raise GanforgeError(f"--n must be a positive number of samples, got {args.n}")
    out = Path(args.out)
    if out.suffix != ".npy":
        raise GanforgeError(f"--out must name a .npy file, got '{out}'")
    if out.exists() and not args.force:
        raise GanforgeError(f"{out} already exists; pass --force to overwrite it or choose another --out")
    opened = load_run(args.run_dir, args.checkpoint, device=args.device or "cpu")
    options = {k: v for k, v in (("classes", args.classes), ("truncation", args.truncation)) if v is not None}
    samples, labels = opened.sample_with_labels(args.n, args.seed, **options)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, samples)
    print(f"{out}: {samples.dtype} {tuple(samples.shape)} from step {opened.step}")
    if labels is not None:
        label_path = out.with_suffix(".labels.npy")
        np.save(label_path, labels)
        print(f"{label_path}: the class each sample was generated for")
    if args.grid:
        if samples.ndim == 4:
            save_image_grid(samples[:100], args.grid)
        else:
            save_points_plot(samples, args.grid)
        print(f"{args.grid}: picture of the samples")
    return 0
