"""Tables at scale: rows/s and peak memory of loading a table for training (docs/benchmarks.md section 15).

Generates a table of N rows and 30 columns (an ID, 20 numeric columns of several shapes, one with
nulls, 6 small categoricals (one with nulls), a boolean, a date and a 20,000-category column whose codes follow a
Zipf law), written to CSV in chunks so that generating it never holds it. Each size is then loaded
in a fresh process, exactly as ``ganforge train`` loads ``csv:PATH`` (``load_dataset``: pass 1
profiles and subsamples, the modes are fitted, pass 2 transforms chunk by chunk into the memory-mapped
float32 file) and indexed for training (``ConditionalSampler``, which reads the mapped rows in chunks),
and measured: seconds of each part, rows per second of the whole, width of a transformed row, size of
the rows file, and the process's peak resident memory (``resource.getrusage``: ru_maxrss, which counts
the mapped file's pages that were read as well as the heap; the split at the end is printed too).

    python benchmarks/tabular_scale.py --rows 10000 100000 [1000000] [--dir DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganforge.data import load_dataset
from ganforge.tabular.conditional import ConditionalSampler
from ganforge.tabular.transform import TableTransformer

BIG_CATEGORIES = 20_000  # the high-cardinality column
GEN_CHUNK = 100_000  # rows generated and appended at a time


def generate(path: Path, n: int, seed: int = 0) -> None:
    """Write the benchmark table of ``n`` rows to ``path`` (CSV), a chunk at a time."""
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, BIG_CATEGORIES + 1)
    zipf /= zipf.sum()
    first = True
    for start in range(0, n, GEN_CHUNK):
        m = min(GEN_CHUNK, n - start)
        cols: dict[str, object] = {"row_id": [f"R{i:08d}" for i in range(start, start + m)]}
        for j in range(20):
            shape = j % 4
            if shape == 0:
                cols[f"num{j}"] = np.round(np.where(rng.random(m) < 0.5, rng.normal(0, 1, m), rng.normal(6, 2, m)), 3)
            elif shape == 1:
                cols[f"num{j}"] = np.round(rng.lognormal(8, 1, m), 2)
            elif shape == 2:
                cols[f"num{j}"] = rng.integers(0, 100, m)
            else:
                v = np.round(rng.gamma(2, 10, m), 1)
                cols[f"num{j}"] = np.where(rng.random(m) < 0.1, np.nan, v) if j == 3 else v
        for j in range(5):
            k = 3 + 2 * j
            cols[f"cat{j}"] = rng.choice([f"c{j}_{i}" for i in range(k)], m)
        cols["segment"] = np.where(rng.random(m) < 0.05, None, rng.choice(["retail", "trade", "online"], m))
        cols["flag"] = rng.random(m) < 0.2
        cols["day"] = (pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3000, m), unit="D")).strftime("%Y-%m-%d")
        cols["merchant"] = np.char.add("m", rng.choice(BIG_CATEGORIES, m, p=zipf).astype(str))
        pd.DataFrame(cols).to_csv(path, mode="w" if first else "a", header=first, index=False)
        first = False


def measure_one(path: Path, data_dir: Path) -> dict:
    """Load ``path`` as training does and index it; runs in its own process (its peak memory is the figure)."""
    os.environ["GANFORGE_DATA"] = str(data_dir)
    t0 = time.perf_counter()
    data = load_dataset(f"csv:{path}", seed=0)
    t1 = time.perf_counter()
    transformer = TableTransformer.from_state_dict(data.meta["transformer"])
    sampler = ConditionalSampler(data.x.numpy(), transformer)
    cond, _, rows = sampler.sample_train(500, np.random.default_rng(0))
    batch = data.x[torch.as_tensor(rows)]  # one training batch of real rows, read from the mapped file
    t2 = time.perf_counter()
    n = len(data)
    status = _status()
    return {"rows": n, "columns": len(data.meta["columns"]), "width": int(data.x.shape[1]),
            "cond_dim": int(sampler.cond_dim), "load_seconds": round(t1 - t0, 2), "index_seconds": round(t2 - t1, 2),
            "rows_per_second": round(n / (t2 - t0)), "rows_file_mb": round(os.path.getsize(
                Path(data.meta["cache"]) / "rows.f32") / 2**20, 1), "csv_mb": round(os.path.getsize(path) / 2**20, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_anon_mb_at_end": status.get("RssAnon"), "rss_file_mb_at_end": status.get("RssFile"),
            "batch_ok": bool(batch.shape == (500, data.x.shape[1]))}


def _status() -> dict[str, float]:
    """Resident memory now, split into the heap (RssAnon) and mapped files' pages (RssFile), in MB (Linux)."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--dir", default=None, help="where the tables and rows files go (default: a temporary folder)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: measure one table in this process
    args = ap.parse_args()
    if min(args.rows) < 1:
        ap.error(f"--rows must all be at least 1, got {min(args.rows)}")
    if args.json and not Path(args.json).resolve().parent.is_dir():
        ap.error(f"--json {args.json}: folder {Path(args.json).resolve().parent} does not exist; create it first")
    if args.one:
        print(json.dumps(measure_one(Path(args.one), Path(args.dir))), flush=True)
        return 0
    base = Path(args.dir or tempfile.mkdtemp(prefix="tabular-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.rows:
        path = base / f"table-{n}.csv"
        if not path.exists():
            t = time.perf_counter()
            generate(path, n)
            print(f"generated {path} ({n} rows) in {time.perf_counter() - t:.1f}s", flush=True)
        out = subprocess.run([sys.executable, __file__, "--one", str(path), "--dir", str(base / "data")],
                             capture_output=True, text=True)
        if out.returncode:  # the child's own one-line error (or the last line of its traceback), not a CalledProcessError
            lines = out.stderr.strip().splitlines() or [f"exit code {out.returncode}"]
            print(f"{Path(__file__).name}: error: measuring {path} failed: {lines[-1]}", file=sys.stderr)
            return 2
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    print("\n| rows | columns | row width | load (s) | index (s) | rows/s | CSV (MB) | rows file (MB) | peak RSS (MB) "
          "| at the end: heap / mapped file (MB) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['rows']:,} | {r['columns']} | {r['width']} | {r['load_seconds']} | {r['index_seconds']} | "
              f"{r['rows_per_second']:,} | {r['csv_mb']} | {r['rows_file_mb']} | {r['peak_rss_mb']} | "
              f"{r['rss_anon_mb_at_end']} / {r['rss_file_mb_at_end']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    from bench_cli import run_main  # benchmarks/ is on sys.path when a script runs

    raise SystemExit(run_main(main))
