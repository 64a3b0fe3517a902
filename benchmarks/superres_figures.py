"""The super-resolution figures of docs/benchmarks.md: scores on held-out data and crop pictures.

    python benchmarks/superres_figures.py photos SRResNet=RUN1 SRGAN=RUN2@CHECKPOINT --out docs/img/superres_crops.png
    python benchmarks/superres_figures.py mnist RUN_MNIST --out docs/img/superres_mnist.png

A run is ``[LABEL=]RUN_DIR[@CHECKPOINT_DIR]`` (default label: the directory's name; default
checkpoint: the latest). ``photos``: every run and bicubic on skimage-photos (each photo mod-cropped to the scale, shrunk
with ganforge.data.superres.downsample), the metrics of ganforge.metrics.superres, averaged over
the photos (and the truth's own ``checkerboard_y_x{s}``), and each run's ``checkerboard_flat_y_x{s}`` (its
output for a flat grey input); the picture shows one crop per photo: bicubic | each run | truth. ``--crops-only`` upscales just the pictured crops (each with the nets'
receptive radius of context, so equal to the whole photo's) and scores only their checkerboard.
``mnist``: the MNIST test split (10,000 digits), 28 -> 7 -> 28 (x4): Y-PSNR/SSIM with crop_border 4
(for grey images Y is the grey level mapped to [16, 235]), and a picture LR | bicubic | run | truth.
Neither takes any choice from the held-out data: the runs are the ones given, at their latest checkpoint.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.data import load_dataset
from ganforge.data.superres import bicubic_up, crop_to_multiple, downsample, photos
from ganforge.metrics import superres as m
from ganforge.runs.run import load_run
from ganforge.upscaling import tiled
from ganforge.figures.drawing import with_caption

CROP = 96  # HR pixels of each photo's crop in the picture
ZOOM = 2  # each crop shown at twice its size (nearest), so single pixels can be seen


def _parse(spec: str) -> tuple[str, str, str]:
    """``[LABEL=]RUN_DIR[@CHECKPOINT_DIR]`` -> (label, run directory, checkpoint)."""
    label, _, rest = spec.rpartition("=")
    run_dir, _, ckpt = rest.partition("@")
    return label or Path(run_dir).name, run_dir, ckpt or "latest"


def _upscaler(spec: str):
    _, run_dir, ckpt = _parse(spec)
    model = load_run(run_dir, ckpt).model
    return lambda lr: tiled(model.upscale, lr, model.scale, 256, model.receptive_radius).float().div(255), model


def _crops_only(upscalers: dict, held_out: list, scale: int, reach: int, kept: dict) -> dict[str, dict[str, float]]:
    """Upscale only each pictured crop's LR window, with ``reach`` LR pixels of context (what tiling uses,
    so each crop equals the whole photo's up to float order): a fraction of the full evaluation's
    compute. The only score is ``checkerboard_y_x{s}`` over the 96 px crops, named as such."""
    cells: dict[str, list[float]] = {name: [] for name in [*upscalers, "truth"]}
    for photo, img in held_out[:4]:
        hr = crop_to_multiple(img, scale)
        lr = m.tensor_to_hwc(downsample(m.hwc_to_tensor(hr), scale))
        h, w = img.shape[:2]
        top, left = (h - CROP) // 2 // scale * scale, (w - CROP) // 2 // scale * scale
        t0, l0 = max(top // scale - reach, 0), max(left // scale - reach, 0)
        window = lr[t0:(top + CROP) // scale + reach, l0:(left + CROP) // scale + reach]
        for name, fn in upscalers.items():
            with torch.no_grad():
                sr = m.tensor_to_hwc(fn(m.hwc_to_tensor(window)))
            crop = sr[(top // scale - t0) * scale:][:CROP, (left // scale - l0) * scale:][:, :CROP]
            kept[(name, photo)] = np.pad(crop, ((top, 0), (left, 0), (0, 0)))  # placed as in the whole photo
            cells[name].append(m.checkerboard(crop, scale, 0))
        cells["truth"].append(m.checkerboard(hr[top:top + CROP, left:left + CROP], scale, 0))
    return {name: {f"checkerboard_y_x{scale}_crops": float(np.mean(v))} for name, v in cells.items()}


def photos_figure(runs: list[str], out: Path, json_out: Path | None, crops_only: bool = False) -> dict:
    fns, models, scale = {}, {}, None
    for run in runs:
        fn, model = _upscaler(run)
        fns[_parse(run)[0]] = fn
        models[_parse(run)[0]] = model
        scale = model.scale
    kept: dict[tuple[str, str], np.ndarray] = {}
    upscalers = {"bicubic": m.bicubic(scale), **fns}
    held_out = photos()
    if crops_only:
        scores = _crops_only(upscalers, held_out, scale, max(mo.receptive_radius for mo in models.values()), kept)
    else:
        scores = m.evaluate(upscalers, held_out, scale,
                            keep=lambda method, photo, sr: kept.__setitem__((method, photo), sr))
        # The truth's own no-reference figure, the level a photo has without any upsampler's cross-hatch.
        checker = m.names(scale)["checker"]
        scores["truth"] = {checker: float(np.mean([m.checkerboard(crop_to_multiple(img, scale), scale, scale)
                                                   for _, img in held_out]))}
    for label, model in models.items():  # each net's own cross-hatch: a flat input, no tiling or 8-bit rounding
        scores[label][f"checkerboard_flat_y_x{scale}"] = m.flat_checkerboard(
            model.upscale, scale, model.channels, model.receptive_radius)
    rows = []
    for photo, img in held_out[:4]:
        h, w = img.shape[:2]
        top, left = (h - CROP) // 2 // scale * scale, (w - CROP) // 2 // scale * scale
        cells = [kept[(name, photo)][top:top + CROP, left:left + CROP] for name in upscalers]
        cells.append(img[top:top + CROP, left:left + CROP])
        rows.append(np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0)), constant_values=255) for c in cells], 1))
    grid = np.concatenate(rows, 0).repeat(ZOOM, 0).repeat(ZOOM, 1)
    caption = " | ".join([*upscalers, "truth"]) + f"  (x{scale}, centre crops of skimage-photos)"
    out.parent.mkdir(parents=True, exist_ok=True)
    with_caption(grid, [caption]).save(out)
    report = {"dataset": "skimage-photos" + (" (4 centre crops only)" if crops_only else ""),
              "photos": [p for p, _ in held_out[:4] if crops_only] or [p for p, _ in held_out], "scale": scale,
              "runs": runs, "scores": scores}
    if json_out:
        json_out.write_text(json.dumps(report, indent=1) + "\n")
    return report


def mnist_figure(spec: str, out: Path, json_out: Path | None, n: int) -> dict:
    label, run, ckpt = _parse(spec)
    model = load_run(run, ckpt).model
    hr = load_dataset("mnist", split="test").x[:n].float().div(255)
    lr = downsample(hr, model.scale)
    with torch.no_grad():
        sr = torch.cat([model.upscale(lr[i:i + 1000]) for i in range(0, n, 1000)])
    bic = bicubic_up(lr, model.scale)
    to8 = lambda t: (t.clamp(0, 1) * 255).round().to(torch.uint8)[:, 0].numpy()  # noqa: E731
    hr8, sr8, bic8, lr8 = to8(hr), to8(sr), to8(bic), to8(lr)
    b = model.scale
    scores = {name: {f"psnr_y_crop{b}": float(np.mean([m.psnr_y(x, t, b) for x, t in zip(imgs, hr8)])),
                     f"ssim_y_crop{b}": float(np.mean([m.ssim_y(x, t, b) for x, t in zip(imgs, hr8)]))}
              for name, imgs in (("bicubic", bic8), (label, sr8))}
    cols = []
    for i in range(8):
        small = np.asarray(Image.fromarray(lr8[i]).resize((28, 28), Image.NEAREST))
        cols.append(np.concatenate([np.pad(c, 1, constant_values=255) for c in (small, bic8[i], sr8[i], hr8[i])], 0))
    grid = np.concatenate(cols, 1).repeat(4, 0).repeat(4, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    with_caption(np.repeat(grid[..., None], 3, 2), ["rows: 7x7 input | bicubic | " + label + " | truth"]).save(out)
    report = {"dataset": f"mnist test[:{n}]", "scale": b, "run": run, "scores": scores}
    if json_out:
        json_out.write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("photos", "mnist"))
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--json", type=Path)
    p.add_argument("--n", type=int, default=10_000, help="mnist: test digits scored")
    p.add_argument("--crops-only", action="store_true",
                   help="photos: upscale only the pictured crops (a busy CPU); no PSNR/SSIM, only checkerboard figures")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    report = photos_figure(args.runs, args.out, args.json, args.crops_only) if args.what == "photos" else \
        mnist_figure(args.runs[0], args.out, args.json, args.n)
    for name, values in report["scores"].items():
        print(f"{name:>22}: " + "  ".join(f"{k} {v:.4f}" for k, v in values.items()))
    print(f"{args.out}: picture")
    return 0


if __name__ == "__main__":
    from bench_cli import run_main  # benchmarks/ is on sys.path when a script runs

    raise SystemExit(run_main(main))
