"""Serving benchmark: latency and images/s of ``POST /v1/generate`` on loopback, with and without batching.

For each run (dcgan-digits and cgan-mnist unless run directories are given), a real
``ganforge serve`` process is started twice, with ``--max-batch 1`` (one forward pass per request)
and with the default batching, and driven by C concurrent clients (1, 8, 64) on 127.0.0.1. Each
client asks for one image (``{"n": 1, "seed": s, "format": "npy"}``) as soon as its previous
answer came, for a fixed time after a warm-up; a request's latency is from sending to the last
byte of its answer. Then one client asks for a 64-digit PNG grid, the size of a page's grid.

Serving speed depends on the networks' size, not on what they learned, so runs trained inside the
benchmark are a few steps of the presets at their own sizes (the step count is printed); pass
``--run NAME=DIR`` for trained ones. The machine's load (``os.getloadavg``) is printed beside the
figures: on a shared machine the other jobs' load is part of every number.

    python benchmarks/serve.py                      # trains 2-step runs of both presets in a temp dir
    python benchmarks/serve.py --run cgan-mnist=runs/cgan --seconds 10 --clients 1 8 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

import ganforge
from ganforge.run_layout import CONFIG, OPTIONS

PRESETS = ("dcgan-digits", "cgan-mnist")
TRAIN_STEPS = 2  # serving speed depends on the nets' size, not their training: a checkpoint is all it needs
QUIET = ["log.tensorboard=false", "log.progress=false", "log.sample_every=100000"]
GRID_N = 64  # the grid goal: 64 digits in one answer
GRID_REPEATS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run_dir: Path, max_batch: int | None, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "ganforge", "serve", str(run_dir), "--port", str(port)]
    if max_batch is not None:
        cmd += ["--max-batch", str(max_batch)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc, wait_healthy(proc, port)


def wait_healthy(proc: subprocess.Popen, port: int) -> str:
    """The server's URL once ``GET /health`` answers 200; the server's last words if it exits first."""
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stderr.read()[-500:]}")
        try:
            if httpx2.get(url + "/health", timeout=1).status_code == 200:
                return url
        except httpx2.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not answer /health within 120 s")


class RawClient:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol to POST JSON and read the answer.

    The load generator shares the 2 cores with the server, so it must cost as little as it can. httpx's
    AsyncClient, used until round 4, was the bottleneck: against one batched cgan-mnist server on a quiet
    machine, 64 httpx clients took 6.4 CPU-seconds in 6.5 s (a whole core) and got 235 images/s, while
    64 of these took 0.58 CPU-seconds and got 2,513 (docs/serve.md). Each simulated client is one asyncio
    stream writing its request whole and reading the answer by its Content-Length.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def load(url: str, clients: int, seconds: float, warmup: float) -> dict:
    """``clients`` closed-loop clients for ``warmup`` + ``seconds``; latencies of the requests started after warm-up."""
    latencies: list[float] = []
    start = time.perf_counter()
    measure_from, stop = start + warmup, start + warmup + seconds
    done_images = 0
    host, port = url.removeprefix("http://").split(":")

    async def one_client(k: int) -> None:
        nonlocal done_images
        seed = k * 1_000_000
        client = RawClient(host, int(port))
        try:
            while True:
                t0 = time.perf_counter()
                if t0 >= stop:
                    return
                status, body = await client.post("/v1/generate", json.dumps(
                    {"n": 1, "seed": seed, "format": "npy"}).encode())
                t1 = time.perf_counter()
                if status != 200:
                    raise SystemExit(f"/v1/generate answered {status}: {body[:200]!r}")
                seed += 1
                if t0 >= measure_from and t1 <= stop:
                    latencies.append(t1 - t0)
                    done_images += 1
        finally:
            await client.close()
    await asyncio.gather(*(one_client(k) for k in range(clients)))
    latencies.sort()
    return {"clients": clients, "requests": len(latencies), "images_per_s": done_images / seconds,
            "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else None}


def grid_latency(url: str) -> dict:
    """One client, a PNG grid of 64 images: median and worst of ``GRID_REPEATS`` requests after one warm-up."""
    times = []
    with httpx2.Client(base_url=url, timeout=60) as client:
        for i in range(GRID_REPEATS + 1):
            t0 = time.perf_counter()
            r = client.post("/v1/generate", json={"n": GRID_N, "seed": i})
            elapsed = time.perf_counter() - t0
            if r.status_code != 200 or r.headers["content-type"] != "image/png":
                raise SystemExit(f"the grid request answered {r.status_code}: {r.text[:200]}")
            if i:
                times.append(elapsed)
    return {"n": GRID_N, "median_ms": 1000 * statistics.median(times), "max_ms": 1000 * max(times)}


def train_runs(root: Path) -> dict[str, Path]:
    runs = {}
    for preset in PRESETS:
        out = root / preset
        ganforge.train(preset, out=out, steps=TRAIN_STEPS, set=[*QUIET, f"log.checkpoint_every={TRAIN_STEPS}"])
        runs[preset] = out
    return runs


def ms(value: float | None) -> str:
    return "none finished" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", action="append", default=[], metavar="NAME=DIR", help="a trained run (repeatable)")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    p.add_argument("--seconds", type=float, default=6.0, help="measured time per setting")
    p.add_argument("--warmup", type=float, default=1.5)
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of the server")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)
    for item in args.run:  # checked before anything trains or serves
        name, _, run_dir = item.partition("=")
        if not name or not run_dir:
            p.error(f"--run {item!r}: give NAME=DIR, e.g. --run dcgan=runs/dcgan-mnist")
        if not ((Path(run_dir) / CONFIG).is_file() and (Path(run_dir) / OPTIONS).is_file()):
            p.error(f"--run {item!r}: {run_dir} is not a run directory (no config.yaml and options.json); "
                    "pass the directory `ganforge train` wrote")
    if min(args.clients) < 1 or args.threads < 1 or args.seconds <= 0 or args.warmup < 0:
        p.error("--clients and --threads must be at least 1, --seconds above 0 and --warmup 0 or more")
    if args.json and not Path(args.json).resolve().parent.is_dir():
        p.error(f"--json {args.json}: folder {Path(args.json).resolve().parent} does not exist; create it first")
    with tempfile.TemporaryDirectory() as tmp:
        runs = dict(item.split("=", 1) for item in args.run) if args.run else train_runs(Path(tmp))
        rows, grids = [], []
        for name, run_dir in runs.items():
            for label, max_batch in (("one at a time (--max-batch 1)", 1), ("batched (default --max-batch 64)", None)):
                proc, url = start_server(Path(run_dir), max_batch, args.threads)
                try:
                    for c in args.clients:
                        r = asyncio.run(load(url, c, args.seconds, args.warmup))
                        rows.append({"run": name, "serving": label, "load": os.getloadavg()[0], **r})
                        print(json.dumps(rows[-1]), flush=True)
                    if max_batch is None:
                        grids.append({"run": name, "load": os.getloadavg()[0], **grid_latency(url)})
                        print(json.dumps(grids[-1]), flush=True)
                finally:
                    proc.terminate()
                    proc.wait(60)
    print(f"\nganforge {ganforge.__version__}, {os.cpu_count()} CPUs, server OMP_NUM_THREADS={args.threads}, "
          f"{args.seconds:g} s measured per row after {args.warmup:g} s warm-up; runs: "
          + ", ".join(f"{k}={v}" for k, v in runs.items()) + (f" ({TRAIN_STEPS}-step runs)" if not args.run else ""))
    print("\n| run | serving | clients | p50 ms | p99 ms | images/s | load (1 min) |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | {r['serving']} | {r['clients']} | {ms(r['p50_ms'])} | {ms(r['p99_ms'])} | "
              f"{r['images_per_s']:.0f} | {r['load']:.1f} |")
    print("\n| run | clients | batched / one at a time (images/s) |\n|---|---|---|")
    for name in runs:
        for c in args.clients:
            one = next(r for r in rows if r["run"] == name and r["clients"] == c and "--max-batch 1" in r["serving"])
            many = next(r for r in rows if r["run"] == name and r["clients"] == c and "default" in r["serving"])
            print(f"| {name} | {c} | {many['images_per_s'] / max(one['images_per_s'], 1e-9):.2f}x |")
    print("\n| run | 64-image PNG grid, median ms | max ms | load (1 min) |\n|---|---|---|---|")
    for g in grids:
        print(f"| {g['run']} | {g['median_ms']:.1f} | {g['max_ms']:.1f} | {g['load']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "grids": grids}, indent=1))


if __name__ == "__main__":
    from bench_cli import run_main  # benchmarks/ is on sys.path when a script runs

    raise SystemExit(run_main(main))
