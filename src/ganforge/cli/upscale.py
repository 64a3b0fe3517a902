"""``ganforge upscale``: super-resolve images with a trained srresnet/srgan run, or with bicubic.

``--input`` is an image, a folder of images (the outputs keep their relative names, as PNG) or an
``.npy`` of uint8 (N, C, H, W); any size, tiled with overlap (:mod:`ganforge.upscaling`) so memory
stays bounded. ``--bicubic`` gives the baseline through the same command and the same
degradation model (:func:`ganforge.data.superres.bicubic_up`), with the run's scale or
``--scale``. ``--eval skimage-photos`` scores the run and bicubic on the held-out photos
(:mod:`ganforge.metrics.superres`: Y-PSNR/SSIM with crop_border = scale, gradient energy,
LR-consistency). Every output follows :mod:`ganforge.outputs`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from ganforge import outputs, upscaling
from ganforge.capabilities import UPSCALE, capabilities_of, describe
from ganforge.cli import options
from ganforge.cli.device import device_option
from ganforge.cli.help import examples
from ganforge.data.superres import bicubic_up, photos
from ganforge.errors import DataError, GanforgeError
from ganforge.metrics import superres as sr_metrics
from ganforge.runs.run import load_run

DEFAULT_TILE = 256  # LR pixels per tile side: a 1024x1024 x4 output tile, ~0.5 GB of activations at 64 channels
BICUBIC_RADIUS = 2  # the cubic kernel reaches 2 LR pixels: tiles of the bicubic baseline are exact with this


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("upscale", help="super-resolve images with a srresnet/srgan run (or bicubic)",
                       **examples("ganforge upscale runs/srresnet --input photo.png --out photo_x4.png",
                                  "ganforge upscale runs/srresnet --input photos/ --out big/ --tile 128",
                                  "ganforge upscale runs/srresnet --eval skimage-photos --json sr.json"))
    options.run_dir(s, "a srresnet or srgan run directory (optional with --bicubic --scale)", nargs="?")
    s.add_argument("--input", help="an image, a folder of images, or an .npy of uint8 (N, C, H, W)")
    s.add_argument("--out", help="output: a .png for an image, a folder for a folder, a .npy for an .npy")
    s.add_argument("--tile", type=int,
                   help=f"LR tile side in pixels (default {DEFAULT_TILE}); 0 = the whole image at once")
    s.add_argument("--overlap", type=int,
                   help="LR context pixels around each tile (default: the model's receptive radius, exact tiling)")
    s.add_argument("--bicubic", action="store_true", help="the bicubic baseline instead of the run's model")
    s.add_argument("--scale", type=int, help="with --bicubic and no run: the upscaling factor")
    s.add_argument("--eval", choices=("skimage-photos",), help="score the model and bicubic on held-out photos")
    s.add_argument("--json", help="with --eval: also write the scores to this .json file")
    options.checkpoint(s)
    options.device(s)
    s.add_argument("--force", action="store_true", help="overwrite outputs that exist")
    s.set_defaults(func=run, on_interrupt="no output file was left half-written")


def _method(args: argparse.Namespace, device: torch.device) -> tuple[str, upscaling.Upscaler, int, int | None, int]:
    """(name, LR -> SR function, scale, channels the model takes or None, default overlap)."""
    if args.run_dir is None:
        if not (args.bicubic and args.scale is not None):
            raise GanforgeError("give a run directory, or --bicubic with --scale N for the baseline alone")
        if args.scale < 2:
            raise GanforgeError(f"--scale must be an integer >= 2, got {args.scale}")
        return "bicubic", lambda x: bicubic_up(x, args.scale), args.scale, None, BICUBIC_RADIUS
    opened = load_run(args.run_dir, args.checkpoint, device=device)
    model = opened.model
    if UPSCALE not in capabilities_of(model):
        raise GanforgeError(f"{args.run_dir} is a {opened.config.recipe} run, which does not upscale images (it offers "
                            f"{describe(capabilities_of(model))}); give a srresnet or srgan run (or --bicubic --scale N)")
    if args.scale is not None and args.scale != model.scale:
        raise GanforgeError(f"--scale {args.scale} differs from the run's scale x{model.scale}; leave --scale out")
    if args.bicubic:
        return "bicubic", lambda x: bicubic_up(x, model.scale), model.scale, model.channels, BICUBIC_RADIUS
    return opened.config.recipe, model.upscale, model.scale, model.channels, model.receptive_radius


def _check_options(args: argparse.Namespace) -> None:
    """Options that would be ignored in this combination are refused, so nothing is silently dropped."""
    if (args.tile is not None and args.tile < 0) or (args.overlap is not None and args.overlap < 0):
        raise GanforgeError("--tile and --overlap must be >= 0 (--tile 0: no tiling)")
    if args.scale is not None and args.scale < 2:
        raise GanforgeError(f"--scale must be an integer >= 2, got {args.scale}")
    if args.tile == 0 and args.overlap is not None:
        raise GanforgeError("--overlap is the context around each tile, and --tile 0 makes no tiles; drop --overlap "
                            "or give --tile N")
    if args.eval:
        given = [f for f, v in (("--input", args.input), ("--out", args.out), ("--bicubic", args.bicubic)) if v]
        if given:
            raise GanforgeError(f"--eval scores the run and bicubic on the held-out photos and takes no "
                                f"{' or '.join(given)}; drop {given[0]}, or drop --eval to upscale files")
    elif args.json is not None:
        raise GanforgeError("--json writes the scores of --eval; add --eval skimage-photos, or drop --json")
    if args.bicubic and args.checkpoint != options.DEFAULT_CHECKPOINT:
        raise GanforgeError("--bicubic takes no weights, so --checkpoint would be ignored; drop --checkpoint, or "
                            "drop --bicubic to upscale with that checkpoint")


def _check_memory(jobs: list[tuple[Path, Path]], scale: int, tile: int, overlap: int, fix: str) -> None:
    """Every image's size from its header (a decompression bomb is refused here) and the memory its output
    needs (four channels: colour and alpha), checked before the first one is upscaled."""
    for source, _ in jobs:
        w, h = upscaling.image_size(source)
        upscaling.check_output_memory(str(source), 4, h, w, scale, tile, overlap, fix=fix)


def run(args: argparse.Namespace) -> int:
    _check_options(args)
    asked_tile, args.tile = args.tile, DEFAULT_TILE if args.tile is None else args.tile
    if args.eval:
        return _evaluate(args)
    if not args.input or not args.out:
        raise GanforgeError("give --input and --out (or --eval skimage-photos)")
    src = Path(args.input)
    suffix = "" if src.is_dir() else ".npy" if src.suffix.lower() == ".npy" else ".png"
    outputs.named(args.out, flag="--out", suffix=suffix)
    if not src.exists():
        raise DataError(f"--input {src} does not exist; give an image, a folder of images or an .npy file")
    outputs.check_not_input(args.out, src)  # before --force is looked at: it never replaces the input
    device = device_option(args.device)
    if src.is_dir():
        images = upscaling.find_images(src)
        jobs = [(p, Path(args.out) / p.relative_to(src).with_suffix(".png")) for p in images]
        options.one_output_each(jobs, "outputs are PNG with the input's name")
        if Path(args.out).is_file():
            raise GanforgeError(f"--out {args.out} is a file; a folder --input needs a folder --out")
        outputs.check_folder_out(args.out)
        outputs.check_not_input(args.out, src, targets=[t for _, t in jobs], inputs=images)
        for _, target in jobs:  # every path checked before any work
            outputs.check_file(target, flag="--out", force=args.force, suffixes=(".png",))
    else:
        jobs = [(src, outputs.check_file(args.out, flag="--out", force=args.force, suffixes=(suffix,)))]
    name, fn, scale, channels, radius = _method(args, device)
    overlap = radius if args.overlap is None else args.overlap
    fix = "give a smaller --scale or smaller images" if args.run_dir is None else "give smaller images"
    if len(jobs) == 1 and jobs[0][0].suffix.lower() == ".npy":
        _upscale_npy(jobs[0][0], jobs[0][1], fn, scale, channels, args.tile, overlap, device, args.force, fix)
        print(f"{jobs[0][1]}: {name} x{scale}")
        return 0
    _check_memory(jobs, scale, args.tile, overlap, fix)
    # A folder is written whole or not at all: every image goes to a temporary name first, and the names
    # appear together only when the last one is done (a failure on file k leaves none of them).
    with outputs.atomic(*(t for _, t in jobs), flag="--out", force=args.force) as temps:
        for k, ((source, target), temp) in enumerate(zip(jobs, temps)):
            try:
                rgb, alpha = upscaling.read_image(source, channels)
            except GanforgeError as e:
                if len(jobs) == 1:
                    raise
                raise type(e)(f"{e}; nothing was written to {args.out} (file {k + 1} of {len(jobs)}, a folder is "
                              f"written whole or not at all)") from None
            h, w = rgb.shape[-2:]
            if asked_tile and max(h, w) <= asked_tile:  # said when the user chose the tile, not for the default
                print(f"ganforge: note: {source} ({w}x{h}) fits in one --tile {args.tile}; upscaled whole",
                      file=sys.stderr)
            x = torch.from_numpy(np.array(rgb)).float().div(255).unsqueeze(0).to(device)
            out = upscaling.tiled(fn, x, scale, args.tile, overlap)[0].numpy()
            if alpha is not None:  # transparency kept: upscaled apart, by bicubic (a model knows no alpha)
                a = torch.from_numpy(np.array(alpha)).float().div(255).unsqueeze(0)
                out = np.concatenate([out, upscaling.tiled(lambda t: bicubic_up(t, scale), a, scale, args.tile,
                                                           max(overlap, BICUBIC_RADIUS))[0].numpy()])
            upscaling.save_with_alpha(out, temp)
    for (source, target) in jobs:
        print(f"{target}: {name} x{scale}")
    return 0


def _upscale_npy(source: Path, target: Path, fn, scale: int, channels: int | None, tile: int, overlap: int,
                 device: torch.device, force: bool, fix: str) -> None:
    x = upscaling.read_npy(source, channels)
    n, c, h, w = x.shape
    upscaling.check_output_memory(f"each image of {source}", c, h, w, scale, tile, overlap, fix=fix)
    outputs.check_space(target, outputs.npy_bytes(n, (c, h * scale, w * scale), np.uint8), flag="--out")

    def chunks():
        for i in range(n):
            lr = torch.from_numpy(np.array(x[i:i + 1])).float().div(255).to(device)
            yield upscaling.tiled(fn, lr, scale, tile, overlap).numpy(), None

    outputs.stream_npy(target, n, (c, h * scale, w * scale), np.uint8, chunks(), force=force)


def _evaluate(args: argparse.Namespace) -> int:
    if args.run_dir is None:
        raise GanforgeError("--eval needs a srresnet or srgan run directory (bicubic is scored beside it)")
    target = outputs.check_file(args.json, flag="--json", force=args.force, suffixes=(".json",)) if args.json is not None else None
    device = device_option(args.device)
    name, fn, scale, channels, radius = _method(argparse.Namespace(**{**vars(args), "bicubic": False}), device)
    if channels != 3:
        raise GanforgeError(f"skimage-photos are RGB photos and {args.run_dir}'s model takes {channels}-channel "
                            f"images; evaluate an RGB model")
    overlap = radius if args.overlap is None else args.overlap

    def model_fn(lr: torch.Tensor) -> torch.Tensor:
        return upscaling.tiled(fn, lr.to(device), scale, args.tile, overlap).float().div(255)

    held_out = photos()
    scores = sr_metrics.evaluate({"bicubic": sr_metrics.bicubic(scale), name: model_fn}, held_out, scale)
    report = {"dataset": "skimage-photos", "photos": [p for p, _ in held_out], "scale": scale,
              "lr": "data.superres.downsample (antialiased bicubic, uint8)", "run": str(args.run_dir),
              "scores": scores}
    for method, values in scores.items():
        print(f"{method:>10}: " + "  ".join(f"{k} {v:.4f}" for k, v in values.items()))
    if target is not None:
        outputs.write_text(target, json.dumps(report, indent=1) + "\n", flag="--json", force=args.force)
        print(f"{target}: scores")
    return 0
