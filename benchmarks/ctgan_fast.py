"""``ganforge train ctgan-fast`` (or ``ctgan``) on scikit-learn's breast_cancer and wine: wall time and quality.

Each dataset is written to CSV with its target as a categorical column (the class names as text,
so it is learned as a category, not a number), trained with the ctgan-fast preset through the
public API (the same code path as ``ganforge train ctgan-fast --set data.name=csv:PATH
--set data.target=target``), then as many rows as the table has are sampled (seed 0) and scored
against the table with the table report's quality (column shapes, column-pair trends, their mean;
``ganforge.tabular.report.quality``). Wall time is the training call alone (the data read and
transform included, sampling and scoring excluded), on whatever machine runs it: say which.

    python benchmarks/ctgan_fast.py --out /tmp/ctgan_fast [--seeds 0,1,2] [--datasets breast_cancer,wine] [--preset ctgan]

``--set KEY=VALUE`` (repeatable) adds config settings after the script's own, as ``ganforge train --set``
does, and each row records them: e.g. ``--set train.steps=4`` for an end-to-end check in seconds
(tests/test_benchmarks_ctgan_fast.py); the figures in docs/tabular.md use none.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd
from sklearn import datasets

import ganforge
from ganforge.tabular.columns import infer_columns
from ganforge.tabular.report.quality import quality

LOADERS = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}


def write_csv(name: str, folder: Path) -> Path:
    """The dataset as CSV, its target the class names (text) in a last column named ``target``."""
    bunch = LOADERS[name]()
    df = pd.DataFrame(bunch.data, columns=[str(c) for c in bunch.feature_names])
    df["target"] = [str(bunch.target_names[t]) for t in bunch.target]
    path = folder / f"{name}.csv"
    df.to_csv(path, index=False)
    return path


def one(name: str, seed: int, folder: Path, preset: str, settings: list[str] = ()) -> dict:
    path = write_csv(name, folder)
    real = pd.read_csv(path)
    run_dir = folder / f"{preset}-{name}-seed{seed}"
    t0 = time.perf_counter()
    run = ganforge.train(preset, out=run_dir, seed=seed, force=True, device="cpu",
                         set=[f"data.name=csv:{path}", "data.target=target", "log.progress=false",
                              "log.tensorboard=false", *settings])
    seconds = time.perf_counter() - t0
    synthetic = run.model.sample_table(len(real), seed=0)
    kinds = {s.name: s.kind for s in infer_columns(real, target="target")}
    q = quality(real, synthetic, kinds)
    stats = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    figure = [v for s in stats for k, v in s.items() if k.startswith("column_shapes_")]
    return {"preset": preset, "dataset": name, "rows": len(real), "columns": real.shape[1], "seed": seed, "steps": run.step,
            "train_seconds": round(seconds, 1), "quality": q.get("overall"), "column_shapes": q.get("column_shapes"),
            "column_pair_trends": q.get("column_pair_trends"),
            "convergence_figure_first_last": [figure[0], figure[-1]] if figure else None,
            "threads": os.environ.get("OMP_NUM_THREADS", "default"), "set": list(settings)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder for the CSVs, runs and results-PRESET.json")
    p.add_argument("--seeds", default="0")
    p.add_argument("--datasets", default=",".join(LOADERS))
    p.add_argument("--preset", default="ctgan-fast", help="ctgan-fast (default) or ctgan (the paper's 300 epochs)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config setting after the script's own (repeatable), recorded in each row")
    args = p.parse_args(argv)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [one(name, int(seed), folder, args.preset, args.set)
            for name in args.datasets.split(",") for seed in args.seeds.split(",")]
    for r in rows:
        print(json.dumps(r))
    (folder / f"results-{args.preset}.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
