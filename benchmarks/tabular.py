"""The synthetic-table benchmark of docs/tabular.md ("Benchmarks"): quality, privacy and utility.

Datasets: SDMetrics' ``student_placements`` (the real half of its demo pair, fetched from the
sdmetrics wheel), and scikit-learn's ``breast_cancer`` and ``wine`` with their targets written as
categories (``malignant``/``benign``, ``class_0``..``class_2``). Each seed splits the real table
into train (80%) and holdout (20%) rows with that seed; every model sees only the train rows and makes
as many rows as there are.

Models:

- ``ctgan``, ``ctgan-fast``: ``ganforge train PRESET --set data.name=csv:train.csv --seed S`` then
  ``ganforge sample RUN --n N --out syn.csv --seed S`` (subprocesses: exactly the user's commands);
- ``copula``: :class:`ganforge.tabular.copula.GaussianCopula` fitted with the seed;
- ``resample``: the control, a bootstrap resample of the train rows (what copying scores: the quality
  ceiling and the privacy floor).

Scores (``ganforge table-report``'s, with the holdout): quality (SDMetrics 0.32 protocol), DCR baseline
protection (median synthetic-to-train distance over the uniform-random rows' one, capped at 1), the
black-box membership AUROC (0.5 = no leak), the exact-copy rate, and utility: accuracy of
HistGradientBoosting trained on the synthetic rows and tested on the holdout (TSTR; the train-on-real
figure, TRTR, is printed beside it). Wall time is the model's fit and sample, not the report.

    python benchmarks/tabular.py [--datasets student_placements,breast_cancer,wine]
        [--models resample,copula,ctgan-fast,ctgan] [--seeds 0,1,2] [--work DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_wine

from ganforge.privacy.distances import nearest
from ganforge.privacy.membership import black_box
from ganforge.tabular.columns import infer_columns
from ganforge.tabular.copula import GaussianCopula
from ganforge.tabular.report import Measures, build
from ganforge.tabular.report.demo import student_placements

HOLDOUT_SHARE = 0.2  # of each real table, never seen by a model: the privacy and utility reference
TARGETS = {"student_placements": "placed", "breast_cancer": "diagnosis", "wine": "cultivar"}
MEASURES = Measures(nearest=nearest, black_box=black_box)
MODELS = ("resample", "copula", "ctgan-fast", "ctgan", "dp-ctgan")  # --models' choices: two baselines, then presets
GAN_TIMEOUT_S = 3600  # one training run; the budget note in docs/tabular.md says which were run


def load(name: str) -> pd.DataFrame:
    if name == "student_placements":
        real, _, _ = student_placements()
        return real
    bunch = load_breast_cancer() if name == "breast_cancer" else load_wine()
    df = pd.DataFrame(bunch.data, columns=[c.replace(" ", "_") for c in bunch.feature_names])
    df[TARGETS[name]] = np.asarray(bunch.target_names)[bunch.target]  # the target as a category
    return df


def split(df: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(df))
    n_hold = int(round(HOLDOUT_SHARE * len(df)))
    return (df.iloc[np.sort(order[n_hold:])].reset_index(drop=True),
            df.iloc[np.sort(order[:n_hold])].reset_index(drop=True))


def _ganforge(*args: str) -> None:
    cmd = [sys.executable, "-m", "ganforge", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=GAN_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout).strip()[-500:]}")


def synthesize(model: str, train: pd.DataFrame, kinds: dict, seed: int, work: Path) -> pd.DataFrame:
    if model == "resample":
        return train.sample(len(train), replace=True, random_state=seed).reset_index(drop=True)
    if model == "copula":
        return GaussianCopula(kinds).fit(train, seed=seed).sample(len(train), np.random.default_rng(seed))
    src, run, out = work / "train.csv", work / f"run-{model}", work / f"syn-{model}.csv"
    train.to_csv(src, index=False)
    _ganforge("train", model, "--out", str(run), "--seed", str(seed), "--force", "--set", f"data.name=csv:{src}",
              "--set", "log.tensorboard=false", "--set", "log.progress=false")
    _ganforge("sample", str(run), "--n", str(len(train)), "--out", str(out), "--seed", str(seed), "--force")
    return pd.read_csv(out)


def measure(dataset: str, model: str, seed: int, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    real = load(dataset)
    train, holdout = split(real, seed)
    # kinds as training infers them from the train rows (the target a category, as data.target makes it)
    kinds = {s.name: s.kind for s in infer_columns(train, target=TARGETS[dataset])}
    start = time.perf_counter()
    syn = synthesize(model, train, kinds, seed, work)
    wall = time.perf_counter() - start
    # read back as a user's CSV would be, so every model is scored on the same footing
    path = work / "scored.csv"
    syn.to_csv(path, index=False)
    syn = pd.read_csv(path)
    train_csv = work / "train-scored.csv"
    train.to_csv(train_csv, index=False)
    holdout_csv = work / "holdout-scored.csv"
    holdout.to_csv(holdout_csv, index=False)
    r = build(pd.read_csv(train_csv), syn, kinds, MEASURES, holdout=pd.read_csv(holdout_csv),
              target=TARGETS[dataset], seed=seed)
    q, p, u = r["quality"], r["privacy"], r["utility"]
    return {"dataset": dataset, "model": model, "seed": seed, "rows_train": len(train), "rows_holdout": len(holdout),
            "quality": q["overall"], "column_shapes": q["column_shapes"], "column_pair_trends": q["column_pair_trends"],
            "dcr_baseline_protection": p["dcr_baseline_protection"], "mia_auroc": p["membership"]["auroc"],
            "closer_to_train": p["closer_to_train_share"], "exact_copy_rate": p["exact_copy_rate"],
            "tstr_accuracy": u["tstr"]["accuracy"], "trtr_accuracy": u["trtr"]["accuracy"], "wall_s": wall}


COLUMNS = (("quality", "quality", 100), ("dcr_baseline_protection", "DCR protection", 1),
           ("mia_auroc", "MIA AUROC", 1), ("exact_copy_rate", "exact copies", 100),
           ("tstr_accuracy", "TSTR acc", 100), ("wall_s", "wall s", 1))


def table(rows: list[dict]) -> str:
    """Markdown: one row per (dataset, model), mean ± sd (sample sd, n-1) over the seeds."""
    df = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate([*TARGETS, "resample", "copula", "ctgan-fast", "ctgan"])}
    df = df.sort_values(["dataset", "model"], key=lambda col: col.map(order), kind="stable")
    lines = ["| dataset | model | seeds | " + " | ".join(title for _, title, _ in COLUMNS) + " | TRTR acc |",
             "|---" * (len(COLUMNS) + 4) + "|"]
    for (dataset, model), g in df.groupby(["dataset", "model"], sort=False):
        cells = []
        for key, _, scale in COLUMNS:
            v = g[key].to_numpy(np.float64) * scale
            digits = 1 if scale == 100 or key == "wall_s" else 3
            cells.append(f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}" if len(v) > 1
                         else f"{v.mean():.{digits}f}")
        trtr = g["trtr_accuracy"].to_numpy() * 100
        lines.append(f"| {dataset} | {model} | {len(g)} | " + " | ".join(cells) + f" | {trtr.mean():.1f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default=",".join(TARGETS))
    ap.add_argument("--models", default="resample,copula,ctgan-fast")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--work", help="folder for the CSVs and runs (default: a temporary one)")
    ap.add_argument("--json", help="append each result here as a JSON line (a rerun resumes from it)")
    args = ap.parse_args()
    for flag, names, choices in (("--datasets", args.datasets, TARGETS), ("--models", args.models, MODELS)):
        if unknown := [n for n in names.split(",") if n not in choices]:
            ap.error(f"{flag}: unknown {', '.join(map(repr, unknown))}; choose from {', '.join(choices)} (comma-separated)")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        ap.error(f"--seeds must be whole numbers, comma-separated (e.g. 0,1,2), got {args.seeds!r}")
    if args.json and not Path(args.json).resolve().parent.is_dir():
        ap.error(f"--json {args.json}: folder {Path(args.json).resolve().parent} does not exist; create it first")
    done: list[dict] = []
    if args.json and Path(args.json).exists():
        done = [json.loads(line) for line in Path(args.json).read_text().splitlines() if line.strip()]
    have = {(d["dataset"], d["model"], d["seed"]) for d in done}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        for dataset in args.datasets.split(","):
            for model in args.models.split(","):
                for seed in seeds:
                    if (dataset, model, seed) in have:
                        continue
                    row = measure(dataset, model, seed, work / f"{dataset}-{model}-{seed}")
                    done.append(row)
                    print(json.dumps(row), flush=True)
                    if args.json:
                        with open(args.json, "a") as f:
                            f.write(json.dumps(row) + "\n")
    print(table([d for d in done if d["dataset"] in args.datasets.split(",")
                 and d["model"] in args.models.split(",")]))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # the machine's cores are shared; threads only contend
    from bench_cli import run_main  # benchmarks/ is on sys.path when a script runs

    raise SystemExit(run_main(main))
