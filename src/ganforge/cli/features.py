"""``ganforge features``: a run's D as a feature extractor (Radford et al. 2015's linear-probe protocol).

Every activation module of D (or the ``--layers`` named) is read, conv maps are max-pooled to
``--pool x --pool`` (4, the DCGAN paper's grid) and everything is flattened and concatenated:
``--out F.npy`` gets float32 (N, F). ``--list-layers`` shows the layer names. The linear probe on
these features is ``benchmarks/linear_probe.py``.
"""

from __future__ import annotations

import argparse

import numpy as np

from ganforge import capabilities as cap
from ganforge import outputs
from ganforge.cli import options
from ganforge.cli.evaluate import load_samples
from ganforge.cli.help import examples
from ganforge.errors import GanforgeError
from ganforge.representation import d_features, feature_layers, to_d_input
from ganforge.representation.features import POOL
from ganforge.runs.run import load_run


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("features", help="D's features of a .npy of images, max-pooled and concatenated (a "
                                        "representation for a linear probe)",
                       **examples("ganforge features runs/dcgan --input test.npy --out feats.npy",
                                  "ganforge features runs/dcgan --input test.npy --out f.npy --layers blocks.1.2 --pool 2",
                                  "ganforge features runs/dcgan --list-layers"))
    options.run_dir(s, "a run directory whose recipe has a D (noise-to-image, semi-supervised, ...)")
    s.add_argument("--input", help="uint8 (N, C, H, W) or (N, H, W) images in a .npy")
    s.add_argument("--out", help="write the features (float32, (N, F)) here")
    s.add_argument("--layers", help="comma-separated module names of D (default: every activation module)")
    s.add_argument("--pool", type=int, help=f"max-pool conv maps to POOL x POOL (default {POOL})")
    s.add_argument("--list-layers", action="store_true", help="print D's module names and the default layers")
    options.checkpoint(s)
    options.device(s)
    s.add_argument("--force", action="store_true", help="overwrite --out")
    s.set_defaults(func=run, on_interrupt="no output was written (existing files are unchanged)")


def _discriminator(opened):
    D = opened.nets.get("D")
    if D is None or not hasattr(D, "features"):
        raise GanforgeError(f"{opened.path} is a {opened.config.recipe} run without a discriminator D; use a run "
                            f"with one (e.g. ganforge train dcgan-mnist)")
    return D


def run(args: argparse.Namespace) -> int:
    if args.list_layers:
        extra = [flag for flag, value in (("--input", args.input), ("--out", args.out), ("--layers", args.layers),
                                          ("--pool", args.pool)) if value is not None]
        if extra:
            raise GanforgeError(f"--list-layers prints D's layer names and reads no images; drop {extra[0]} (or "
                                f"drop --list-layers to write features)")
        opened = load_run(args.run_dir, args.checkpoint)
        D = _discriminator(opened)
        default = feature_layers(D)
        for name, module in D.named_modules():
            if name:
                print(f"{name:<28} {type(module).__name__}{'  (default)' if name in default else ''}")
        if not default:
            print("default: D.features(x) (D has no activation modules)")
        return 0
    if not args.input or not args.out:
        raise GanforgeError("give --input X.npy and --out F.npy (or --list-layers)")
    if not args.out.endswith(".npy"):
        raise GanforgeError(f"--out must name a .npy file, got '{args.out}'")
    outputs.check_not_input(args.out, args.input)  # --force must not replace the images being read
    out = outputs.check_file(args.out, flag="--out", force=args.force)
    x = load_samples(args.input, "--input")
    opened = options.open_run(args)
    if cap.TABLE in cap.capabilities_of(opened.model):  # its D reads transformed rows, which no .npy here holds
        raise GanforgeError(f"{args.run_dir} is a table run (recipe {opened.config.recipe}); features reads images "
                            f"through an image or point run's D, so give one of those")
    if cap.TRANSLATE in cap.capabilities_of(opened.model):  # its D judges (input, output) pairs, not one image
        raise cap.refusal(opened.model, cap.TRANSLATE, run=args.run_dir, recipe=opened.config.recipe,
                          doing="give D's features of single images (its D judges input-output pairs)")
    D = _discriminator(opened)
    layers = [n.strip() for n in args.layers.split(",") if n.strip()] if args.layers is not None else None
    record = opened.state.get("net_context") or {}
    t = to_d_input(x, record["data_shape"], opened.generator.output_range)
    feats = d_features(D, t, layers=layers, pool=args.pool)
    with outputs.atomic(out, flag="--out") as (temp,):
        np.save(temp, feats)
    print(f"wrote {out}: {feats.shape[0]} x {feats.shape[1]} features from "
          f"{', '.join(layers or feature_layers(D)) or 'D.features'}")
    return 0
