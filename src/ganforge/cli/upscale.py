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
from ganforge.cli.device import device_option
from ganforge.cli.help import examples
from ganforge.data.images import save_png
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
    s.add_argument("run_dir", nargs="?", help="a srresnet or srgan run directory (optional with --bicubic --scale)")
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
    s.add_argument("--checkpoint", default="latest", help="latest (default), best, or a checkpoint directory")
    s.add_argument("--device", help="cpu (default) or cuda")
    s.add_argument("--force", action="store_true", help="overwrite outputs that exist")
    s.set_defaults(func=run, on_interrupt="no output file was left half-written")


def _method(args: argparse.Namespace, device: torch.device) -> tuple[str, upscaling.Upscaler, int, int | None, int]:
    """(name, LR -> SR function, scale, channels the model takes or None, default overlap)."""
    if args.run_dir is None:
        if not (args.bicubic and args.scale):
            raise GanforgeError("give a run directory, or --bicubic with --scale N for the baseline alone")
        if args.scale < 2:
            raise GanforgeError(f"--scale must be an integer >= 2, got {args.scale}")
        return "bicubic", lambda x: bicubic_up(x, args.scale), args.scale, None, BICUBIC_RADIUS
    opened = load_run(args.run_dir, args.checkpoint, device=device)
    model = opened.model
    if UPSCALE not in capabilities_of(model):
        raise GanforgeError(f"{args.run_dir} is a {opened.config.recipe} run, which does not upscale images (it can "
                            f"{describe(capabilities_of(model))}); give a srresnet or srgan run (or --bicubic --scale N)")
    if args.scale is not None and args.scale != model.scale:
        raise GanforgeError(f"--scale {args.scale} differs from the run's scale x{model.scale}; leave --scale out")
    if args.bicubic:
        return "bicubic", lambda x: bicubic_up(x, model.scale), model.scale, model.channels, BICUBIC_RADIUS
    return opened.config.recipe, model.upscale, model.scale, model.channels, model.receptive_radius


def run(args: argparse.Namespace) -> int:
    if (args.tile is not None and args.tile < 0) or (args.overlap is not None and args.overlap < 0):
        raise GanforgeError("--tile and --overlap must be >= 0 (--tile 0: no tiling)")
    asked_tile, args.tile = args.tile, DEFAULT_TILE if args.tile is None else args.tile
    if args.eval:
        return _evaluate(args)
    if not args.input or not args.out:
        raise GanforgeError("give --input and --out (or --eval skimage-photos)")
    src = Path(args.input)
    if not src.exists():
        raise DataError(f"--input {src} does not exist; give an image, a folder of images or an .npy file")
    device = device_option(args.device)
    if src.is_dir():
        jobs = [(p, Path(args.out) / p.relative_to(src).with_suffix(".png")) for p in upscaling.find_images(src)]
        if Path(args.out).is_file():
            raise GanforgeError(f"--out {args.out} is a file; a folder --input needs a folder --out")
        for _, target in jobs:  # every path checked before any work
            outputs.check_file(target, flag="--out", force=args.force, suffixes=(".png",))
    else:
        suffix = ".npy" if src.suffix.lower() == ".npy" else ".png"
        jobs = [(src, outputs.check_file(args.out, flag="--out", force=args.force, suffixes=(suffix,)))]
    name, fn, scale, channels, radius = _method(args, device)
    overlap = radius if args.overlap is None else args.overlap
    for source, target in jobs:
        if source.suffix.lower() == ".npy":
            _upscale_npy(source, target, fn, scale, channels, args.tile, overlap, device)
        else:
            lr = upscaling.read_image(source, channels)
            h, w = lr.shape[-2:]
            if asked_tile and max(h, w) <= asked_tile:  # said when the user chose the tile, not for the default
                print(f"ganforge: note: {source} ({w}x{h}) fits in one --tile {args.tile}; upscaled whole",
                      file=sys.stderr)
            x = torch.from_numpy(np.array(lr)).float().div(255).unsqueeze(0).to(device)
            out = upscaling.tiled(fn, x, scale, args.tile, overlap)[0].numpy()
            with outputs.atomic(target, flag="--out") as (temp,):
                save_png(out, temp)
        print(f"{target}: {name} x{scale}")
    return 0


def _upscale_npy(source: Path, target: Path, fn, scale: int, channels: int | None, tile: int, overlap: int,
                 device: torch.device) -> None:
    x = upscaling.read_npy(source, channels)
    n, c, h, w = x.shape
    outputs.check_space(target, outputs.npy_bytes(n, (c, h * scale, w * scale), np.uint8), flag="--out")

    def chunks():
        for i in range(n):
            lr = torch.from_numpy(np.array(x[i:i + 1])).float().div(255).to(device)
            yield upscaling.tiled(fn, lr, scale, tile, overlap).numpy(), None

    outputs.stream_npy(target, n, (c, h * scale, w * scale), np.uint8, chunks())


def _evaluate(args: argparse.Namespace) -> int:
    if args.run_dir is None:
        raise GanforgeError("--eval needs a srresnet or srgan run directory (bicubic is scored beside it)")
    target = outputs.check_file(args.json, flag="--json", force=args.force, suffixes=(".json",)) if args.json else None
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
        outputs.write_text(target, json.dumps(report, indent=1) + "\n", flag="--json")
        print(f"{target}: scores")
    return 0
