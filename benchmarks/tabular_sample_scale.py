"""Tables at scale, the model side: rows/s of CTGAN training steps and of ``ganforge sample --out x.csv``.

The tables are benchmarks/tabular_scale.py's (30 columns: an ID, 20 numeric, 6 small categoricals,
a boolean, a date and a 20,000-category column). Each size runs in a fresh process: the ``ctgan``
preset's networks (G and D (256, 256), pac 10, batch 500) are trained for ``--steps`` steps through
the engine (``Trainer``, the same path as ``ganforge train ctgan --set data.name=csv:PATH``), then as
many rows as the table has are sampled and written as CSV exactly as ``ganforge sample RUN --n N
--out x.csv`` does (``write_table_samples``). Measured: seconds of loading (the table read and
transformed, as section 15), of the training steps (rows/s = steps x 500 / seconds), of sampling
(G in eval mode, the inverse transform, the CSV write), and the process's peak RSS (``ru_maxrss``).

    python benchmarks/tabular_sample_scale.py --rows 10000 100000 [--steps 20] [--dir DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from ganforge.api import resolve_config
from ganforge.engine.loop import Trainer
from ganforge.runs.run import load_run
from ganforge.tabular.sampling import write_table_samples

HERE = Path(__file__).resolve().parent


def _generate(path: Path, n: int) -> None:
    spec = importlib.util.spec_from_file_location("tabular_scale", HERE / "tabular_scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(path, n)


def measure_one(path: Path, work: Path, steps: int) -> dict:
    cfg, _ = resolve_config("ctgan", [f"data.name=csv:{path}", "tabular.epochs=null", f"train.steps={steps}",
                                      "train.device=cpu", f"log.every={steps}", "log.progress=false",
                                      "log.tensorboard=false", "tabular.score_rows=0"])
    run_dir = work / f"run-{path.stem}"
    t0 = time.perf_counter()
    trainer = Trainer(cfg, run_dir)
    t1 = time.perf_counter()
    trainer.fit()
    t2 = time.perf_counter()
    n = len(trainer.built.data)
    out = work / f"synthetic-{path.stem}.csv"
    args = SimpleNamespace(classes=None, truncation=None, mix_seed=None, mix_layer=None, grid=None, condition=None,
                           n=n, seed=0, force=True)
    opened = load_run(run_dir)
    t3 = time.perf_counter()
    write_table_samples(opened, args, out)
    t4 = time.perf_counter()
    return {"rows": n, "width": int(trainer.built.data.x.shape[1]), "cond_dim": trainer.built.record["cond_dim"],
            "load_seconds": round(t1 - t0, 2), "steps": steps, "train_seconds": round(t2 - t1, 2),
            "train_rows_per_second": round(steps * cfg.train.batch_size / (t2 - t1)),
            "sample_seconds": round(t4 - t3, 2), "sample_rows_per_second": round(n / (t4 - t3)),
            "csv_mb": round(out.stat().st_size / 2**20, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--dir", default=None, help="where the tables, runs and samples go (default: a temporary folder)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: measure one table in this process
    args = ap.parse_args()
    if min(args.rows) < 1:
        ap.error(f"--rows must all be at least 1, got {min(args.rows)}")
    if args.steps < 1:
        ap.error(f"--steps must be at least 1, got {args.steps}")
    base = Path(args.dir or tempfile.mkdtemp(prefix="tabular-sample-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    if args.one:
        print(json.dumps(measure_one(Path(args.one), base, args.steps)), flush=True)
        return 0
    results = []
    for n in args.rows:
        path = base / f"table-{n}.csv"
        if not path.exists():
            _generate(path, n)
        out = subprocess.run([sys.executable, __file__, "--one", str(path), "--dir", str(base), "--steps",
                              str(args.steps)], capture_output=True, text=True)
        if out.returncode:  # the child's own one-line error (or the last line of its traceback), not a CalledProcessError
            lines = out.stderr.strip().splitlines() or [f"exit code {out.returncode}"]
            print(f"{Path(__file__).name}: error: measuring {path} failed: {lines[-1]}", file=sys.stderr)
            return 2
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    print("\n| rows | row width | load (s) | training rows/s | sample + CSV (s) | sample rows/s | CSV (MB) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['rows']:,} | {r['width']} | {r['load_seconds']} | {r['train_rows_per_second']:,} | "
              f"{r['sample_seconds']} | {r['sample_rows_per_second']:,} | {r['csv_mb']} | {r['peak_rss_mb']} |")
    return 0


if __name__ == "__main__":
    from bench_cli import run_main  # benchmarks/ is on sys.path when a script runs

    raise SystemExit(run_main(main))
