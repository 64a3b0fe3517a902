"""``ganforge anomaly``: score images with a run trained on normal data, or measure it on its protocol.

``score`` writes one score per image (higher = more anomalous) to a .npy (for a folder ``--input``,
the files' order beside it, ``<stem>.files.txt``) and, with ``--maps``, one residual overlay PNG per
image; ``eval`` scores the protocol's validation (normal only, for the threshold) and test splits and
prints the per-class table (``--out`` also writes it as JSON). Scoring methods and protocols: :mod:`ganforge.anomaly`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ganforge import outputs
from ganforge.anomaly import METHODS, evaluate, format_table, scorer
from ganforge.anomaly.maps import check_overlays, save_overlays
from ganforge.cli import options
from ganforge.cli.evaluate import load_samples
from ganforge.cli.help import examples
from ganforge.data import load_dataset
from ganforge.data.sources import list_items
from ganforge.errors import DataError, GanforgeError


def add_parser(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("anomaly", help="anomaly scores and protocol metrics from a run trained on normal data",
                       **examples("ganforge anomaly score runs/fano3 --input x.npy --out scores.npy --maps maps/",
                                  "ganforge anomaly eval runs/fano3 --out fano3.json",
                                  "ganforge anomaly eval runs/dcgan3 --method anogan --limit 1000"))
    commands = a.add_subparsers(dest="anomaly_command", required=True, metavar="{score,eval}")
    s = commands.add_parser("score", help="one anomaly score (and residual map) per image")
    options.run_dir(s)
    s.add_argument("--input", required=True, help="uint8 images (N, C, H, W) in a .npy, or a folder of images")
    s.add_argument("--out", required=True, help="output .npy of float64 scores, one per image (a folder --input "
                                                "also writes its file order beside it, OUT-STEM.files.txt)")
    s.add_argument("--maps", help="also write one residual overlay PNG per image into this folder")
    _common(s)
    options.data_dir(s, "for a folder --input: ")
    s.add_argument("--force", action="store_true", help="overwrite --out (and its .files.txt) and earlier maps "
                                                       "in --maps")
    s.set_defaults(func=run_score, on_interrupt="no output file was written (an existing one is unchanged)")
    e = commands.add_parser("eval", help="AUROC, PR-AUC, F1 and the per-class table on the run's protocol")
    options.run_dir(e, "a run directory trained on an anomaly protocol")
    e.add_argument("--protocol", help="mnist-one-normal, mnist-one-anomalous or anomaly-folder:PATH (default: the "
                                      "run's data.name; it must be the protocol the run was trained on)")
    e.add_argument("--limit", type=int, help="score a fixed random subset of this many test (and valid) images, "
                                             "for slow methods (AnoGAN); the report says so")
    e.add_argument("--out", help="also write the report as JSON here")
    options.data_dir(e)
    _common(e)
    e.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    e.set_defaults(func=run_eval, on_interrupt="no report file was written")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=list(METHODS), metavar="{" + ",".join(METHODS) + "}",
                   help="scoring method (default: the run's own: fanogan, ganomaly, or anogan for a plain GAN)")
    options.seed(p, "AnoGAN's starting code, the same for every image (default 0)")
    options.checkpoint(p)
    options.device(p)


def _read_input(path: str, shape: tuple[int, ...], data_dir: str | None) -> tuple[np.ndarray, list[str] | None]:
    """The images of ``--input`` and, for a folder, their paths inside it (in the images' order, sorted by path).
    A folder is read at the run's trained image shape ``shape`` (C, H, W, from its checkpoint), converted to its
    channels and resized as training reads ``folder:`` (short side, centre crop), through folder:'s cache in
    ``data_dir`` (which is why score takes --data-dir); a .npy must hold that shape."""
    p = Path(path)
    if p.is_dir():
        c, h, w = shape
        data = load_dataset(f"folder:{p}", split="all", resolution=h if h == w else None, channels=c,
                            data_dir=data_dir)
        skipped = set(data.meta.get("skipped") or ())
        names = [i.name for i in list_items(p, every_file=False) if i.name not in skipped]
        if len(names) != len(data):  # the folder changed while it was read
            raise DataError(f"--input {path} changed while it was read ({len(names)} images now, {len(data)} "
                            f"read); score it again once nothing writes there")
        return data.x.numpy(), names
    if p.suffix.lower() != ".npy":
        raise DataError(f"--input {path} must be a .npy file of uint8 images (N, C, H, W) or a folder of images")
    return load_samples(path, flag="--input"), None


def files_path(out: Path) -> Path:
    """Where ``anomaly score`` writes the input files' order for a folder --input: ``<out stem>.files.txt``."""
    return out.with_name(f"{out.stem}.files.txt")


def run_score(args: argparse.Namespace) -> int:
    outputs.check_not_input(args.out, args.input)  # before --force is looked at: it never replaces the input
    if args.maps is not None:
        outputs.check_not_input(args.maps, args.input, flag="--maps")
    out = outputs.check_file(args.out, flag="--out", force=args.force, suffixes=(".npy",))
    folder_input = Path(args.input).is_dir()
    listing = stale = None
    if folder_input:  # the folder's file order goes beside the scores, by the same rule
        listing = outputs.check_file(files_path(out), flag="--out", force=args.force)
    elif files_path(out).exists() or files_path(out).is_symlink():
        # an earlier folder score's file order: left beside an array's scores it would name the wrong images
        stale = outputs.check_file(files_path(out), flag="--out", force=args.force)
    if args.maps is not None:
        outputs.check_dir_writable(outputs.named(args.maps, flag="--maps"), flag="--maps")
    opened = options.open_run(args)
    sc = scorer(opened, args.method, args.seed)
    images, names = _read_input(args.input, sc.shape, args.data_dir)
    # Every output checked before the scoring (minutes, with AnoGAN): the maps folder's earlier maps and
    # foreign files, and room for the scores.
    if args.maps:
        check_overlays(len(images), args.maps, force=args.force)
    outputs.check_space(out, outputs.npy_bytes(len(images), (), np.float64), flag="--out")
    result = sc.score(images, where=f"--input {args.input}")
    # the scores (and the file order) go in place in one step, with the maps: never maps without their scores
    written = [(out, lambda temp: np.save(temp, result.score))]
    if listing is not None and names is not None:
        written.append((listing, lambda temp: temp.write_text("".join(f"{n}\n" for n in names))))
    if args.maps:
        save_overlays(images if images.ndim == 4 else images[:, None], result.residual, args.maps, force=args.force,
                      beside=written)
    else:
        with outputs.atomic(*(target for target, _ in written), flag="--out", force=args.force) as temps:
            for temp, (_, write) in zip(temps, written):
                write(temp)
    print(f"{out}: {len(result.score)} {sc.method} scores (higher = more anomalous) from step {opened.step}")
    if stale is not None:
        stale.unlink()
        print(f"{stale}: removed (the replaced scores' file order; an array's rows are their own order)")
    if listing is not None:
        print(f"{listing}: the --input file of each score, one per line in the scores' order")
    if args.maps:
        print(f"{args.maps}: {len(result.score)} residual overlays (image | residual)")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 2:
        raise GanforgeError(f"--limit must be at least 2 images, got {args.limit}")
    out = outputs.check_file(args.out, flag="--out", force=args.force, suffixes=(".json",)) if args.out is not None else None
    opened = options.open_run(args)
    report = evaluate(opened, args.protocol, method=args.method, seed=args.seed, data_dir=args.data_dir,
                      limit=args.limit)
    print(format_table(report), end="")
    if out is not None:
        outputs.write_text(out, json.dumps(report, indent=2) + "\n", flag="--out", force=args.force)
        print(f"{out}: the report as JSON")
    return 0
