"""``ganforge figures``: the 2014 paper's figures for a run, in RUN_DIR/figures/."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

from ganforge import memory, outputs
from ganforge.cli import options
from ganforge.cli.evaluate import check_checkpoint_named
from ganforge.cli.device import device_option
from ganforge.cli.help import examples
from ganforge.errors import GanforgeError
from ganforge.figures.run_figures import make_figures
from ganforge.run_layout import CHECKPOINTS, FIGURES
from ganforge.runs.checkpoint import list_checkpoints
from ganforge.runs.rundir import read_config
from ganforge.runs.run import checkpoint_path, load_run


def add_parser(sub: argparse._SubParsersAction) -> None:
    f = sub.add_parser("figures", help="draw a run's figures into RUN_DIR/figures/",
                       description="Nearest-training-neighbour sheet and distance histogram (memorisation "
                                   "check), latent interpolations, and training curves.",
                       **examples("ganforge figures runs/ring8                  # PNGs in runs/ring8/figures/",
                                  "ganforge figures runs/digits --n 2000 --out figs/digits",
                                  "ganforge figures runs/cgan --checkpoint best"))
    options.run_dir(f)
    options.checkpoint(f)
    f.add_argument("--n", type=int, default=1000, help="samples for the nearest-neighbour histogram (default 1000)")
    options.seed(f)
    options.data_dir(f)
    options.device(f)
    f.add_argument("--out", help="folder for the figures (default: RUN_DIR/figures)")
    f.add_argument("--force", action="store_true", help="with --out: overwrite figures already in that folder")
    f.set_defaults(func=run, on_interrupt="figures already drawn are kept; none is half-written")


def run(args: argparse.Namespace) -> int:
    if args.force and args.out is None:
        raise GanforgeError(f"--force needs --out: it lets figures replace files in a folder you name; "
                            f"{Path(args.run_dir) / FIGURES} is always redrawn without it; drop --force, or name a folder "
                            f"with --out")
    if args.n < 2:
        raise GanforgeError(f"--n must be at least 2 samples, got {args.n}")
    read_config(args.run_dir)  # not a run directory: say so before anything is written
    out = None if args.out is None else outputs.named(args.out, flag="--out")  # '' or . is no new folder
    device = device_option(args.device)
    if args.checkpoint not in ("latest", "best"):
        check_checkpoint_named(args.run_dir, args.checkpoint)  # a bare name: it does not exist, and what it may mean
        checkpoint_path(args.run_dir, args.checkpoint)  # a wrong path is an error, not a skipped figure
    opener = partial(load_run, args.run_dir, args.checkpoint, device=device)
    # only a run with no checkpoint saved yet gets its curves alone; a damaged one is an error, as everywhere
    none_saved = args.checkpoint == "latest" and not list_checkpoints(Path(args.run_dir) / CHECKPOINTS)
    paths = make_figures(args.run_dir, opener, n=args.n, seed=args.seed, data_dir=args.data_dir, log_fn=print,
                         out=out, force=args.force, none_saved=none_saved, check_memory=memory.check_memory)
    for p in paths:
        print(f"figure: {p}")
    return 0
