"""Issue 16's GPU figures in one command: whole-step CUDA graphs against the plain loop.

    python benchmarks/gpu_graphs_check.py OUT                # a CUDA machine, about 8 minutes
    python benchmarks/gpu_graphs_check.py OUT --cpu-smoke    # every part, tiny, on the CPU (the test)

Parts, most important first; each has its own time limit and the whole stops starting parts past
``--budget`` seconds (a part not run is reported as not run, never guessed):

1. ``dcgan128``: DCGAN at 64x64 on MNIST, batch 128, ganforge's auto switches (CUDA graphs, bf16,
   fused Adam, channels_last) against the plain example-style loop in the same process
   (benchmarks/throughput.py), with a torch.profiler breakdown. Target: >= 3.5x.
2. ``mlp100``: the 2014 MLP GAN on MNIST, batch 100, the same way. Target: >= 3x.
3. ``dcgan512``: DCGAN-64 at batch 512: achieved TFLOP/s. Target: >= 200 (25% of the bf16 peak).
4. ``train``: the real ``ganforge train`` at part 1's settings; its stats.jsonl images/s (median of
   the records after the first, which holds warm-up and capture) within 10% of part 1's.
5. ``fid``: the fast path (auto switches) and the plain path (every switch off) trained with the
   same preset, steps and seeds 0-2; ``fid10k_test_lenet`` of each (the LeNet judge's features).
   Target: the mean difference within the seeds' spread (max - min of either path).
6. ``dcgan128_compile``: part 1 with ``speed.compile=true`` too (inductor fuses batch norm and
   activation inside the captured step), if time is left.

OUT receives summary.md (the table, targets and verdicts), results.json, log.txt and each
throughput run's JSON: 8 files at most, as the device tool returns. Data: set GANFORGE_DATA to a
folder holding the MNIST cache and the lenet judge (benchmarks/gpu_graphs_check.sh does).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLAIN_SWITCHES = ["speed.precision=fp32", "speed.channels_last=false", "speed.optimizer=for-loop",
                  "speed.tf32=false", "speed.cudnn_benchmark=false", "speed.graphs=false"]
QUIET = ["log.tensorboard=false", "log.progress=false"]
FAST_SWITCHES = ["speed.graphs=auto"]  # graphs are opt-in until this check has passed; the rest is auto already

# What each part runs, on the GPU and in the CPU smoke test (same code, smaller numbers).
SETTINGS = {
    "gpu": {
        "dcgan": "dcgan-mnist", "dcgan_set": ["data.resolution=64"], "mlp": "gan2014-mnist",
        "timing": ["--windows", "5", "--steps", "50", "--warmup", "20", "--plain-workers", "8"],
        "profile": "20", "b_small": "128", "b_mlp": "100", "b_large": "512",
        "train_steps": 1200, "log_every": 200, "fid_preset": "dcgan-mnist", "fid_steps": 2000,
        "fid_metric": {"metrics": "fid10k_test_lenet", "device": "cuda"}, "timeout": 240,
    },
    "smoke": {
        "dcgan": "dcgan-digits", "dcgan_set": [], "mlp": "gan2014-digits",
        "timing": ["--windows", "1", "--steps", "3", "--warmup", "1"],
        "profile": "2", "b_small": "16", "b_mlp": "16", "b_large": "32",
        "train_steps": 12, "log_every": 4, "fid_preset": "gan2014-digits", "fid_steps": 8,
        "fid_metric": {"metrics": "fid", "n": 200}, "timeout": 300,
    },
}
# Evaluates run directories (argv[2:]) with the metric options in argv[1]; prints one JSON list.
EVAL_ALL = """
import json, sys
from ganforge import api
opts = json.loads(sys.argv[1])
print(json.dumps([api.evaluate(run, **opts) for run in sys.argv[2:]]))
"""
TARGETS = {"dcgan128": ("ratio", 3.5), "mlp100": ("ratio", 3.0), "dcgan512": ("tflop_per_s", 200.0),
           "dcgan128_compile": ("ratio", 3.5)}


class Check:
    def __init__(self, out: Path, mode: str, budget: float):
        self.out, self.s, self.budget, self.t0 = out, SETTINGS[mode], budget, time.monotonic()
        self.results: dict[str, dict] = {}
        self.log = open(out / "log.txt", "a")
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def left(self) -> float:
        return self.budget - (time.monotonic() - self.t0)

    def run(self, cmd: list[str], timeout: float) -> tuple[int, str]:
        self.log.write(f"\n$ {' '.join(cmd)}\n")
        self.log.flush()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=max(1.0, min(timeout, self.left())),
                               env=self.env)
            rc, text = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            rc, text = 124, f"{e.stdout or ''}{e.stderr or ''}\n(timed out after {e.timeout:.0f} s)"
            text = text if isinstance(text, str) else text.decode(errors="replace")
        self.log.write(text)
        self.log.flush()
        return rc, text

    def part(self, name: str, fn) -> None:
        if self.left() < 20:
            self.results[name] = {"status": "not run: the time budget was spent"}
            return
        t = time.monotonic()
        try:
            self.results[name] = {"status": "done", **fn()}
        except Exception as e:  # noqa: BLE001 - a failed part is reported, the others still run
            self.results[name] = {"status": f"failed: {type(e).__name__}: {e}"}
        self.results[name]["seconds"] = round(time.monotonic() - t, 1)

    def throughput(self, name: str, preset: str, sets: list[str], batch: str, profile: bool = True) -> dict:
        path = self.out / f"{name}.json"
        sets = [*FAST_SWITCHES, *sets]
        cmd = [sys.executable, str(HERE / "throughput.py"), preset, *[a for kv in sets for a in ("--set", kv)],
               "--batch", batch, *self.s["timing"],
               "--json", str(path), *(["--profile", self.s["profile"]] if profile else [])]
        rc, text = self.run(cmd, self.s["timeout"])
        if rc != 0:
            raise RuntimeError(f"throughput.py exited {rc}: {text.strip().splitlines()[-1] if text.strip() else ''}")
        figures = json.loads(path.read_text())
        key, target = TARGETS[name]
        return {**{k: figures[k] for k in ("img_per_s", "plain_img_per_s", "ratio", "tflop_per_s", "switches",
                                           "graphed", "device", "command")},
                "busy_share": (figures["profile"]["busy_ms"] / figures["profile"]["wall_ms"]
                               if figures.get("profile") else None),
                "target": f"{key} >= {target}", "met": figures[key] >= target}

    def train(self, run: Path, preset: str, steps: int, extra: list[str], timeout: float) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "ganforge", "train", preset, "--out", str(run), "--steps", str(steps),
               "--force", *[a for kv in [*QUIET, *extra] for a in ("--set", kv)]]
        self.log.write(f"\n$ {' '.join(cmd)}  (in the background)\n")
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env)

    def wait(self, procs: list[subprocess.Popen], timeout: float) -> None:
        end = time.monotonic() + min(timeout, self.left())
        for p in procs:
            try:
                out, _ = p.communicate(timeout=max(1.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            self.log.write(out or "")
            if p.returncode != 0:
                raise RuntimeError(f"{' '.join(p.args[3:6])} exited {p.returncode}")

    def train_matches_benchmark(self, tmp: Path) -> dict:
        bench = self.results.get("dcgan128", {}).get("img_per_s")
        if bench is None:
            raise RuntimeError("part dcgan128 has no figure to compare with")
        run = tmp / "train"
        extra = [*FAST_SWITCHES, f"train.batch_size={self.s['b_small']}", f"log.every={self.s['log_every']}", *self.s["dcgan_set"],
                 "log.sample_every=1000000", "log.checkpoint_every=1000000"]  # only the final ones
        proc = self.train(run, self.s["dcgan"], self.s["train_steps"], extra, self.s["timeout"])
        self.wait([proc], self.s["timeout"])
        rates = [json.loads(line)["img_per_s"] for line in (run / "stats.jsonl").read_text().splitlines()][1:]
        median = statistics.median(rates)
        return {"stats_img_per_s": median, "benchmark_img_per_s": bench, "relative": median / bench,
                "target": "within 10% of the benchmark", "met": abs(median / bench - 1) <= 0.10}

    def fid(self, tmp: Path) -> dict:
        s, runs = self.s, {}
        procs = []
        for path, extra in (("fast", FAST_SWITCHES), ("plain", PLAIN_SWITCHES)):
            for seed in range(3):
                runs[path, seed] = tmp / f"{path}-s{seed}"
                procs.append(self.train(runs[path, seed], s["fid_preset"], s["fid_steps"],
                                        [f"seed={seed}", *extra], s["timeout"]))
        self.wait(procs, s["timeout"])  # the six runs share the machine: seconds here mean nothing
        # One process measures the six runs (the judge and the reference features load once).
        rc, text = self.run([sys.executable, "-c", EVAL_ALL, json.dumps(s["fid_metric"]),
                             *[str(run) for run in runs.values()]], s["timeout"])
        if rc != 0:
            raise RuntimeError(f"the evaluation exited {rc}: {text.strip().splitlines()[-1] if text.strip() else ''}")
        measured = json.loads(text.strip().splitlines()[-1])
        metric = next(iter(measured[0]))
        values: dict[str, list[float]] = {"fast": [], "plain": []}
        for (path, _), figures in zip(runs, measured):
            values[path].append(float(figures[metric]))
        means = {p: statistics.mean(v) for p, v in values.items()}
        spread = max(max(v) - min(v) for v in values.values())
        return {"fid": values, "mean": means, "metric": metric,
                "difference": means["fast"] - means["plain"], "seed_spread": spread,
                "target": "|mean fast - mean plain| <= the seeds' spread",
                "met": abs(means["fast"] - means["plain"]) <= spread}

    def summary(self) -> str:
        lines = ["| part | figure | target | met | status |", "|---|---|---|---|---|"]
        for name, r in self.results.items():
            if "ratio" in r:
                fig = (f"{r['img_per_s']:,.0f} vs {r['plain_img_per_s']:,.0f} img/s = {r['ratio']:.2f}x, "
                       f"{r['tflop_per_s']:.1f} TFLOP/s"
                       + (f", busy {r['busy_share']:.0%} of the wall time" if r["busy_share"] else "")
                       + "".join(f"; {g}" for g in r["graphed"] if "(" in g))  # a phase that fell back, and why
            elif "relative" in r:
                fig = f"stats.jsonl {r['stats_img_per_s']:,.0f} img/s = {r['relative']:.2f} of the benchmark"
            elif "mean" in r:
                fig = (f"{r['metric']}: fast {r['mean']['fast']:.2f}, plain {r['mean']['plain']:.2f} "
                       f"(seeds 0-2; spread {r['seed_spread']:.2f})")
            else:
                fig = ""
            lines.append(f"| {name} | {fig} | {r.get('target', '')} | {r.get('met', '')} | {r['status']} |")
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="folder for summary.md, results.json, log.txt and the throughput JSON files")
    p.add_argument("--cpu-smoke", action="store_true", help="every part at toy size on the CPU")
    p.add_argument("--budget", type=float, default=470.0, help="seconds after which no part starts")
    p.add_argument("--only", help="comma-separated parts (dcgan128, mlp100, dcgan512, train, fid, dcgan128_compile)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    check = Check(out, "smoke" if args.cpu_smoke else "gpu", args.budget)
    s = check.s
    wanted = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory() as tmp:
        parts = {"dcgan128": lambda: check.throughput("dcgan128", s["dcgan"], s["dcgan_set"], s["b_small"]),
                 "mlp100": lambda: check.throughput("mlp100", s["mlp"], [], s["b_mlp"]),
                 "dcgan512": lambda: check.throughput("dcgan512", s["dcgan"], s["dcgan_set"], s["b_large"],
                                                      profile=False),
                 "train": lambda: check.train_matches_benchmark(Path(tmp)),
                 "fid": lambda: check.fid(Path(tmp)),
                 "dcgan128_compile": lambda: check.throughput("dcgan128_compile", s["dcgan"],
                                                              [*s["dcgan_set"], "speed.compile=true"], s["b_small"],
                                                              profile=False)}
        for name, fn in parts.items():
            if wanted is None or name in wanted:
                check.part(name, fn)
    table = check.summary()
    (out / "summary.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(check.results, indent=1))
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
