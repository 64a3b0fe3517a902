"""Training throughput of a preset: ganforge's loop against a plain reference loop, in one run.

    python benchmarks/throughput.py gan2014-mnist --batch 100 --windows 5 --steps 20
    python benchmarks/throughput.py dcgan-mnist --batch 128 --append docs/benchmarks.md

For the preset on the current device it reports images/s (median over timed windows after a
warm-up), the model FLOPs of one training step (torch.utils.flop_counter) and the achieved
FLOP/s, and peak memory; then the same networks and batch size through a *plain* loop written in
the style of the common example scripts: fp32, data from a torch DataLoader on the host, real and
fake batches through D in separate passes, BCE losses. Both loops run the same number of D and G
updates per step (``train.d_steps`` and one G update).

images/s = steps x batch size / seconds, as in ganforge's stats.jsonl.

``--profile N`` then traces N of ganforge's steps with torch.profiler and prints where a step's
time goes: wall time per step against GPU kernel time per step (the GPU's busy share), kernels per
step, and the top kernels by GPU time -- on the CPU, operator time and the top operators instead.
``--json PATH`` writes the figures for scripts (benchmarks/gpu_graphs_check.py).

With whole-step CUDA graphs (speed.graphs) the first ``graphs.WARMUP`` calls of each phase run
eagerly and the next one captures; the FLOP count is taken on the second step, an eager one, since
a replay dispatches no operators to count.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from ganforge import config, presets
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.engine.loop import Trainer
from ganforge.runs.rundir import git_commit
from ganforge.training.schedules import make_optimizer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB -> MiB (whole process)


def _timed(step, steps: int, windows: int, warmup: int, batch: int, device: torch.device) -> list[float]:
    for _ in range(warmup):
        step()
    _sync(device)
    rates = []
    for _ in range(windows):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        rates.append(steps * batch / (time.perf_counter() - t0))
    return rates


def ganforge_loop(trainer: Trainer):
    def step() -> None:
        ctx = trainer.built.parts.context
        for phase in trainer.built.phases:
            if trainer.step % phase.every == 0:
                phase.run(ctx)
        trainer.step += 1
        ctx.step = trainer.step

    return step


def plain_loop(cfg, x: torch.Tensor, net_ctx, device: torch.device, workers: int = 0):
    """The example-script loop: host DataLoader, fp32, separate D passes, BCE."""
    G = build_generator(cfg.model.g, net_ctx).to(device).train()
    D = build_discriminator(cfg.model.d, net_ctx).to(device).train()
    opt_g, opt_d = make_optimizer(G.parameters(), cfg.optim.g), make_optimizer(D.parameters(), cfg.optim.d)
    lo, hi = G.output_range or (0.0, 1.0)
    data = x.float() * ((hi - lo) / 255.0) + lo if x.dtype == torch.uint8 else x.float()
    loader = DataLoader(TensorDataset(data), batch_size=cfg.train.batch_size, shuffle=True, drop_last=True,
                        num_workers=workers, pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    batches = iter(loader)
    bs, z_dim = cfg.train.batch_size, cfg.model.z_dim

    def next_real() -> torch.Tensor:
        nonlocal batches
        try:
            (real,) = next(batches)
        except StopIteration:
            batches = iter(loader)
            (real,) = next(batches)
        return real.to(device)

    ones = torch.ones(bs, device=device)
    zeros = torch.zeros(bs, device=device)

    def step() -> None:
        for _ in range(cfg.train.d_steps):
            real = next_real()
            opt_d.zero_grad()
            loss_real = F.binary_cross_entropy_with_logits(D(real), ones)
            loss_real.backward()
            fake = G(torch.randn(bs, z_dim, device=device))
            loss_fake = F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
            loss_fake.backward()
            opt_d.step()
        opt_g.zero_grad()
        fake = G(torch.randn(bs, z_dim, device=device))
        F.binary_cross_entropy_with_logits(D(fake), ones).backward()
        opt_g.step()

    return step


def profile_steps(step, steps: int, device: torch.device, top: int = 8) -> dict:
    """Trace ``steps`` calls of ``step``: wall ms/step, busy ms/step (GPU kernels on CUDA, operator
    self time on the CPU), events per step and the top ``top`` by time."""
    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    step()
    _sync(device)
    with profile(activities=activities) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        wall = time.perf_counter() - t0
    kind = DeviceType.CUDA if cuda else DeviceType.CPU
    rows = []
    for e in prof.key_averages():
        if e.device_type != kind:
            continue
        busy = (getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0)) if cuda \
            else e.self_cpu_time_total
        if busy > 0:
            rows.append((e.key, busy / 1e3 / steps, e.count / steps))
    if not cuda:  # operators nest on the CPU: count the top-level aten ops only, by self time
        rows = [r for r in rows if r[0].startswith("aten::")]
    total = sum(r[1] for r in rows)
    rows.sort(key=lambda r: -r[1])
    return {"device": "gpu kernels" if cuda else "cpu operators", "wall_ms": wall * 1e3 / steps,
            "busy_ms": total, "events_per_step": sum(r[2] for r in rows),
            "top": [{"name": n, "ms": ms, "share": ms / total if total else 0.0, "per_step": c}
                    for n, ms, c in rows[:top]]}


def profile_table(p: dict) -> str:
    what = "GPU kernel time" if p["device"] == "gpu kernels" else "CPU operator self time"
    busy = p["busy_ms"] / p["wall_ms"] if p["wall_ms"] else 0.0
    lines = [f"profile of ganforge's step: {p['wall_ms']:.3f} ms wall per step, {p['busy_ms']:.3f} ms {what} "
             f"per step ({busy:.0%} busy), {p['events_per_step']:.0f} {p['device']} per step", "",
             f"| top {p['device']} | ms/step | share | calls/step |", "|---|---|---|---|"]
    lines += [f"| `{t['name'][:90]}` | {t['ms']:.4f} | {t['share']:.1%} | {t['per_step']:.1f} |" for t in p["top"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("preset")
    p.add_argument("--batch", type=int, help="batch size (default: the preset's)")
    p.add_argument("--steps", type=int, default=20, help="steps per timed window")
    p.add_argument("--windows", type=int, default=5, help="timed windows (the median is reported)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--data-dir")
    p.add_argument("--plain-workers", type=int, default=0,
                   help="DataLoader workers of the plain loop (the example scripts use 2-8 on a GPU machine)")
    p.add_argument("--append", help="append the table, device and command to this markdown file")
    p.add_argument("--profile", type=int, default=0, metavar="STEPS",
                   help="then trace this many of ganforge's steps: wall vs GPU (or CPU) time, top kernels")
    p.add_argument("--json", help="write the figures to this JSON file")
    args = p.parse_args(argv)
    for flag, value in (("--steps", args.steps), ("--windows", args.windows)):
        if value < 1:
            p.error(f"{flag} must be at least 1, got {value}")
    for flag, value in (("--warmup", args.warmup), ("--profile", args.profile), ("--plain-workers", args.plain_workers)):
        if value < 0:
            p.error(f"{flag} must be 0 or more, got {value}")
    if args.batch is not None and args.batch < 1:
        p.error(f"--batch must be at least 1, got {args.batch} (leave it out for the preset's batch size)")
    for flag, path in (("--json", args.json), ("--append", args.append)):
        if path and not Path(path).resolve().parent.is_dir():
            p.error(f"{flag} {path}: folder {Path(path).resolve().parent} does not exist; create it first")

    overrides = ["log.tensorboard=false", "log.progress=false", *args.set]
    if args.batch is not None:
        overrides.append(f"train.batch_size={args.batch}")
    cfg = config.resolve(presets.load_preset(args.preset)[0], overrides)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run", data_dir=args.data_dir)
        device, bs, speed = trainer.built.device, cfg.train.batch_size, trainer.built.speed.describe()
        step = ganforge_loop(trainer)
        step()  # allocate everything once before counting
        with FlopCounterMode(display=False) as counter:
            step()
        flops = counter.get_total_flops()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        ours = _timed(step, args.steps, args.windows, args.warmup, bs, device)
        ours_mem = _peak_memory_mib(device)
        prof = profile_steps(step, args.profile, device) if args.profile else None
        graphed = [f"{ph.name}: {ph.replays} replays, {ph.eager_updates} eager"
                   + (f" ({ph.eager_reason})" if ph.eager_reason else "")
                   for ph in trainer.built.phases if hasattr(ph, "replays")]
        fell_back = [fn.name for fn in trainer.built.compiled if fn.failed]
        x, record = trainer.built.data.x, trainer.built.record
        net_ctx = NetContext(tuple(record["data_shape"]), cfg.model.z_dim, record["kind"], record["num_classes"],
                             data_mean=x.float().mean(0) / 255.0 if record["kind"] == "image" else None)
        del trainer, step
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        plain = _timed(plain_loop(cfg, x, net_ctx, device, args.plain_workers), args.steps, args.windows,
                       args.warmup, bs, device)
        plain_mem = _peak_memory_mib(device) if device.type == "cuda" else None

    med_ours, med_plain = statistics.median(ours), statistics.median(plain)
    steps_per_s = med_ours / bs
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.processor() or 'x86_64'}, {torch.get_num_threads()} threads)"
    command = "python benchmarks/throughput.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    when, commit = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), git_commit() or "no git"
    table = "\n".join([
        f"`{command}` on {name}, torch {torch.__version__}, {when}, commit {commit[:12]}; ganforge's switches: {speed}"
        + (f" (torch.compile failed for {', '.join(fell_back)}: eager)" if fell_back else ""),
        "",
        "| loop | images/s (median of windows) | spread (min-max) | model GFLOP/step | achieved TFLOP/s | peak memory (MiB) |",
        "|---|---|---|---|---|---|",
        f"| ganforge | {med_ours:,.0f} | {min(ours):,.0f}-{max(ours):,.0f} | {flops / 1e9:.2f} | "
        f"{flops * steps_per_s / 1e12:.3f} | {ours_mem:,.0f} |",
        f"| plain reference | {med_plain:,.0f} | {min(plain):,.0f}-{max(plain):,.0f} | {flops / 1e9:.2f} | "
        f"{flops * med_plain / bs / 1e12:.3f} | {'' if plain_mem is None else f'{plain_mem:,.0f}'} |",
        f"| ratio | {med_ours / med_plain:.2f}x | | | | |",
    ])
    if graphed:
        table += "\n\nCUDA-graph phases (updates after warm-up): " + "; ".join(graphed)
    if prof is not None:
        table += "\n\n" + profile_table(prof)
    print(table)
    if args.append:
        with open(args.append, "a") as f:
            f.write("\n" + table + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "command": command, "device": name, "date": when, "commit": commit, "switches": speed, "batch": bs, "img_per_s": med_ours,
            "plain_img_per_s": med_plain, "ratio": med_ours / med_plain, "gflop_per_step": flops / 1e9,
            "tflop_per_s": flops * steps_per_s / 1e12, "windows": ours, "plain_windows": plain,
            "graphed": graphed, "profile": prof}, indent=1))
    return 0


if __name__ == "__main__":
    from bench_cli import run_main  # benchmarks/ is on sys.path when a script runs

    raise SystemExit(run_main(main))
