"""``ganforge sample``: draw samples from a trained run into a .npy file (and a picture).

Any number of samples: they are generated a chunk at a time and written straight into the
.npy through a memory map, so memory holds one chunk and only the disk limits ``--n`` (its
free space is checked first). Every output follows :mod:`ganforge.outputs`: all paths are
checked before work starts, and files appear only when complete.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ganforge import capabilities as cap
from ganforge import outputs, progress
from ganforge.cli import options
from ganforge.cli.device import device_option
from ganforge.cli.help import examples
from ganforge.errors import GanforgeError
from ganforge.figures.run_figures import figure_title
from ganforge.runs.lock import still_training
from ganforge.runs.run import load_run
from ganforge.tabular.sampling import write_table_samples
from ganforge.figures.drawing import save_image_grid, save_points_plot

GRID_SAMPLES = 100  # images in a --grid picture (a points plot shows up to POINTS_SHOWN)
POINTS_SHOWN = 10_000


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sample", help="draw samples from a trained run into a .npy file",
                       **examples("ganforge sample runs/ring8 --n 2500 --out s.npy --grid s.png",
                                  "ganforge sample runs/cgan --n 100 --out sevens.npy --class 7 --truncation 1.0",
                                  "ganforge sample runs/adult --n 5000 --out syn.csv --condition income='>50K'"))
    options.run_dir(s)
    s.add_argument("--n", type=int, required=True, help="number of samples")
    s.add_argument("--out", required=True, help="output .npy: uint8 (N, C, H, W) images or float32 (N, 2) points; "
                                                "a table run (recipe tabular) writes .csv or .parquet")
    options.seed(s)
    options.checkpoint(s)
    options.device(s)
    s.add_argument("--class", dest="classes", type=int, action="append", metavar="C",
                   help="class-conditional runs: generate class C (repeat for several, cycled)")
    s.add_argument("--truncation", type=float,
                   help="truncation trick: redraw noise components beyond this |z|; for a style-based run "
                        "(stylegan2-*), psi: pull w towards the mean w (1 = off, 0 = the mean image)")
    s.add_argument("--truncation-centres", type=int, metavar="K",
                   help="style-based runs, with --truncation: psi pulls each w towards the nearest of K clusters "
                        "of the run's images instead of the one mean w (multi-modal truncation; for data of "
                        "several classes, whose mean w draws a blend of them; 64 is a good start)")
    s.add_argument("--mix-seed", action=options.SeedAction, metavar="S",
                   help="style-based runs (stylegan2-*): the fine styles come from the noise of seed S")
    s.add_argument("--mix-layer", type=int, metavar="K",
                   help="with --mix-seed: style inputs K and above come from seed S (default: half of them)")
    s.add_argument("--condition", metavar="COL=VALUE", action="append",  # append: a second one is refused, not lost
                   help="table runs: every row has this category, by G's conditional vector (not rejection); "
                        "one --condition at a time")
    s.add_argument("--grid", help="also save a PNG picture of the samples here")
    s.add_argument("--force", action="store_true", help="overwrite --out, its .labels.npy and --grid if they exist")
    s.set_defaults(func=run, on_interrupt="no output file was written (an existing one is unchanged)")


def run(args: argparse.Namespace) -> int:
    if args.n <= 0:
        raise GanforgeError(f"--n must be a positive number of samples, got {args.n}")
    # G was trained with one column's category asked at a time, so two conditions cannot both be honoured
    if args.condition is not None and len(args.condition) > 1:
        raise GanforgeError(f"--condition was given {len(args.condition)} times ({', '.join(args.condition)}); a table "
                            f"run's G is conditioned on one column at a time: give one --condition (the other columns "
                            f"follow it as in the real table)")
    args.condition = args.condition[0] if args.condition else None
    out = outputs.check_file(args.out, flag="--out", force=args.force, suffixes=(".npy", ".csv", ".parquet", ".pq"))
    grid = outputs.check_file(args.grid, flag="--grid", force=args.force, suffixes=(".png",)) if args.grid is not None else None
    if grid is not None and grid.resolve() == out.resolve():
        raise GanforgeError("--grid and --out name the same file; give the picture its own name")
    device = device_option(args.device)
    opened = load_run(args.run_dir, args.checkpoint, device=device)
    if args.checkpoint == "latest" and (note := still_training(args.run_dir)):
        print(f"ganforge: note: {note}, {opened.checkpoint.name}", file=sys.stderr)
    if cap.TABLE in cap.capabilities_of(opened.model):  # a table run writes rows in the table's own columns
        return write_table_samples(opened, args, out)
    if args.condition is not None or out.suffix != ".npy":
        raise GanforgeError(f"{'--condition' if args.condition is not None else f'--out *{out.suffix}'} is for table runs "
                            f"(recipe tabular), and this run's recipe is {opened.config.recipe}; drop it "
                            f"(write .npy)")
    options = {k: v for k, v in (("classes", args.classes), ("truncation", args.truncation)) if v is not None}
    options.update({k: v for k, v in (("truncation_centres", args.truncation_centres), ("mix_seed", args.mix_seed),
                                      ("mix_layer", args.mix_layer)) if v is not None})
    _check_options(opened, options)
    first, first_labels = next(iter(opened.sample_chunks(1, args.seed, **options)))  # shape, dtype; bad --class
    beside = out.with_name(out.name.removesuffix(".npy") + ".labels.npy")
    labels = beside if first_labels is not None else None
    stale = None
    if labels is not None:
        outputs.check_file(labels, flag="--out", force=args.force)
    elif beside.exists() or beside.is_symlink():  # another run's classes, which eval --labels would read as these
        if not args.force:
            raise GanforgeError(f"{beside} is beside --out and holds the classes of earlier samples, and this run "
                                f"draws no classes; pass --force to remove it with the old --out, or choose another "
                                f"--out")
        stale = outputs.check_file(beside, flag="--out", force=True)
    shape, dtype = first.shape[1:], first.dtype
    need = outputs.npy_bytes(args.n, shape, dtype) + (outputs.npy_bytes(args.n, (), np.int64) if labels else 0)
    outputs.check_space(out, need, flag="--out")

    with progress.bar(args.n, desc=f"sampling {out.name}") as bar:
        outputs.stream_npy(out, args.n, shape, dtype, opened.sample_chunks(args.n, args.seed, **options),
                           labels_path=labels, on_chunk=bar.update)
    print(f"{out}: {np.dtype(dtype)} {(args.n, *shape)} from step {opened.step}")
    if labels is not None:
        print(f"{labels}: the class each sample was generated for")
    if stale is not None:
        stale.unlink()
        print(f"{stale}: removed (the classes of the samples --out replaced; this run draws none)")
    if grid is not None:
        _picture(out, grid, opened, args.run_dir)
        print(f"{grid}: picture of the samples")
    return 0


FLAGS = {"classes": "--class", "truncation": "--truncation", "truncation_centres": "--truncation-centres",
         "mix_seed": "--mix-seed", "mix_layer": "--mix-layer"}
NEEDS = {"classes": cap.CLASSES, "truncation": cap.TRUNCATION, "truncation_centres": cap.TRUNCATION_CENTRES,
         "mix_seed": cap.STYLE_MIX, "mix_layer": cap.STYLE_MIX}
WHY = {"classes": "is not class-conditional", "truncation": "takes no truncation",
       "truncation_centres": "has no style space to cluster", "mix_seed": "has no style inputs to mix",
       "mix_layer": "has no style inputs to mix"}


def _check_options(opened, options: dict) -> None:
    """One line for a run that draws nothing (an upscaler) or an option its model does not declare (style
    mixing on a DCGAN); a translation run samples by translating its held-out inputs."""
    cap.require_any(opened.model, (cap.GENERATE, cap.TRANSLATE), run=str(opened.path),
                    recipe=opened.config.recipe, doing="draw samples")
    caps = cap.capabilities_of(opened.model)
    if cap.GENERATE not in caps:
        return  # a translation run's model names the options that do not apply to translating, itself
    for key in options:
        if NEEDS[key] not in caps:
            raise GanforgeError(f"this run's model (recipe {opened.config.recipe}) {WHY[key]}, so it has no "
                                f"{FLAGS[key]} option (it offers {cap.describe(caps)}); drop it, or sample a run whose recipe takes it "
                                f"(style mixing: a stylegan2 preset; classes: a conditional one such as cgan-mnist)")


def _picture(out: Path, grid: Path, opened, run_dir: str) -> None:
    """The grid (images) or scatter plot (points) of the first samples, read back from the .npy."""
    samples = np.load(out, mmap_mode="r")
    title = figure_title(Path(run_dir), opened.step, opened.checkpoint)
    with outputs.atomic(grid, flag="--grid") as (temp,):
        if hasattr(opened.model, "save_picture"):  # a model with its own picture (translation: input | output | target)
            opened.model.save_picture(temp, title=title)
        elif samples.ndim == 4:
            save_image_grid(np.asarray(samples[:GRID_SAMPLES]), temp, title=title)
        else:
            save_points_plot(np.asarray(samples[:POINTS_SHOWN]), temp, title=title)
