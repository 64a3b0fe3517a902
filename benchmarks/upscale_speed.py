"""Speed and peak memory of ``ganforge upscale``: output megapixels per second, and the peak memory of a
2048x2048 output with and without tiling.

    python benchmarks/upscale_speed.py                       # both presets' G, CPU, 1 thread
    python benchmarks/upscale_speed.py --device cuda --threads 16

Each measurement runs in a fresh subprocess, so ``ru_maxrss`` (the process's peak resident memory)
belongs to that measurement alone; the peak of the same process after building the network and
before upscaling is subtracted, which leaves what upscaling itself needed (on CUDA: the allocator's
peak instead). The network's weights are random (speed and memory do not depend on them); the
input is a 512x512 RGB image upscaled x4 through :func:`ganforge.upscaling.tiled`, exactly the
path of ``ganforge upscale``, after one warm-up tile. ``--size`` sets another LR side (the figures in
docs/benchmarks.md are at 512; a small one, e.g. ``--size 32``, checks the script end to end in seconds).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import torch

from ganforge import config, presets
from ganforge.nets import NetContext, build_generator
from ganforge.upscaling import tiled

SIZE = 512  # LR side by default: a 2048x2048 output at x4


def measure(preset: str, tile: int, device: str, threads: int, repeats: int, size: int = SIZE) -> dict:
    torch.set_num_threads(threads)
    cfg = config.resolve(presets.load_preset(preset)[0])
    G = build_generator(cfg.model.g, NetContext((3, 32, 32), 1)).to(device).eval()
    lr = torch.rand(1, 3, size, size, device=device)
    with torch.no_grad():
        G(lr[..., :32, :32])  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = tiled(lambda x: G(x).clamp(0, 1), lr, G.scale, tile, G.receptive_radius)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if device.startswith("cuda")
            else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
    best = min(times)
    return {"preset": preset, "tile": tile, "device": device, "threads": threads, "output": list(out.shape[-2:]),
            "seconds": best, "mpix_per_s": out.shape[-1] * out.shape[-2] / best / 1e6, "peak_mb": peak / 2**20}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=["srresnet-x4", "srresnet-x4-paper"])
    p.add_argument("--tiles", nargs="+", type=int, default=[0, 128], help="LR tile sides; 0 = untiled")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--size", type=int, default=SIZE, help=f"LR input side in px (default {SIZE})")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: one measurement, in this process
    args = p.parse_args(argv)
    if min(args.tiles) < 0:
        p.error(f"--tiles must be LR tile sides of 1 px or more, or 0 for untiled; got {min(args.tiles)}")
    if args.threads < 1 or args.repeats < 1 or args.size < 1:
        p.error(f"--threads, --repeats and --size must be at least 1, "
                f"got {args.threads}, {args.repeats} and {args.size}")
    if args.one:
        preset, tile = args.one.split(",")
        print(json.dumps(measure(preset, int(tile), args.device, args.threads, args.repeats, args.size)))
        return 0
    for preset in args.presets:  # an unknown name is one line here, before any table
        presets.load_preset(preset)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {args.threads} thread(s), "
          f"{args.device}; input {args.size}x{args.size} RGB, x4")
    print("| G | tile (LR px) | output | seconds | output MP/s | peak memory of upscaling |")
    print("|---|---|---|---|---|---|")
    for preset in args.presets:
        for tile in args.tiles:
            cmd = [sys.executable, __file__, "--one", f"{preset},{tile}", "--device", args.device, "--threads",
                   str(args.threads), "--repeats", str(args.repeats), "--size", str(args.size)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:  # the child's own one-line error (or its traceback's last line), not a CalledProcessError
                lines = out.stderr.strip().splitlines() or [f"exit code {out.returncode}"]
                print(f"upscale_speed.py: error: measuring {preset} at tile {tile} failed: {lines[-1]}", file=sys.stderr)
                return 2
            r = json.loads(out.stdout.splitlines()[-1])
            print(f"| {preset} | {tile or 'untiled'} | {r['output'][0]}x{r['output'][1]} | {r['seconds']:.2f} | "
                  f"{r['mpix_per_s']:.3f} | {r['peak_mb']:.0f} MB |")
    return 0


if __name__ == "__main__":
    from bench_cli import run_main  # benchmarks/ is on sys.path when a script runs

    raise SystemExit(run_main(main))
