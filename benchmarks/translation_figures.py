"""The translation figures of docs/benchmarks.md: pix2pix ablation, CycleGAN over seeds, colourisation.

    python benchmarks/translation_figures.py pix2pix  [--runs DIR] [--n 10000]
    python benchmarks/translation_figures.py cycle    [--seeds 0 1 2]
    python benchmarks/translation_figures.py thick
    python benchmarks/translation_figures.py colour   [--figure docs/img/translation_colour.png]

Each group trains its presets with `ganforge train PRESET --out RUNS/NAME` (skipped when the
run's last checkpoint exists), translates the held-out *test* split with the final checkpoint
(no model selection: nothing is chosen on it), and prints a markdown table; the numbers also
go to RUNS/NAME/translation_scores.json. The pix2pix, cycle and thick groups are measured by
ganforge.metrics.translation_eval, the code behind `ganforge translate RUN --eval`, so a user
reproduces any row with that command. One thread (OMP_NUM_THREADS=1) on the CPU unless
the caller says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ganforge.data import load_dataset
from ganforge.metrics import translation as tm
from ganforge.metrics.translation_eval import evaluate_translation
from ganforge.runs.run import load_run
from ganforge.figures.drawing import save_image_grid

PIX2PIX = ["pix2pix-edges-l1", "pix2pix-edges-gan", "pix2pix-edges"]


def train(runs: Path, name: str, preset: str, *settings: str) -> Path:
    run = runs / name
    done = run / "translation_trained.json"
    if done.exists():
        return run
    cmd = [sys.executable, "-m", "ganforge", "train", preset, "--out", str(run), "--force",
           "--set", "log.progress=false", "--set", "log.tensorboard=false", *[f"--set={s}" for s in settings]]
    print("$", " ".join(cmd[1:]), flush=True)
    t0 = time.time()
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    done.write_text(json.dumps({"wall_s": round(time.time() - t0, 1), "command": " ".join(cmd[1:])}))
    return run


def wall(run: Path) -> float:
    return json.loads((run / "translation_trained.json").read_text())["wall_s"]


def evaluate(run: Path, n: int, judges: dict) -> dict:
    """The library's measurement (what `ganforge translate RUN --eval` prints), plus the training wall time;
    ``judges`` keeps each judge loaded once across the runs of a group."""
    report = evaluate_translation(load_run(run), n, judges=judges)
    result = {"step": report.step, "n": report.n, "wall_s": wall(run), **report.values}
    (run / "translation_scores.json").write_text(json.dumps(result, indent=1))
    return result


def table(rows: dict[str, dict], keys: list[str]) -> str:
    lines = ["| run | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(r.get(k)) for k in keys) + " |")
    return "\n".join(lines)


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def mean_se(values: list[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
    return f"{v.mean():.4f} ± {se:.4f}"


def pix2pix(args) -> None:
    judges = {}
    rows = {p: evaluate(train(args.runs, p, p), args.n, judges) for p in PIX2PIX}
    n = f"{tm.format_count(args.n)}"
    print(table(rows, ["l1_test_truth", "ssim_test_truth", "labelacc_test_lenet", f"fid{n}_test_lenet", "wall_s"]))


def cycle(args, preset: str = "cyclegan-inverted") -> None:
    judges = {}  # which judge (and view: mnist-inverted's _uninverted) is the task's own declaration
    rows = {}
    for label, extra in (("", []), ("-no-identity", ["translation.identity=0"])):
        for seed in (args.seeds if not label or args.ablation_all_seeds else args.seeds[:1]):
            name = f"{preset}{label}-s{seed}"
            rows[name] = evaluate(train(args.runs, name, preset, f"seed={seed}", *extra), args.n, judges)
        if preset != "cyclegan-inverted":
            break
    acc = next(k for k in next(iter(rows.values())) if k.startswith("labelacc"))
    keys = ["ssim_test_truth", "ssim_test_input", acc, "cycle_l1_test", "l1_test_truth", "wall_s"]
    print(table(rows, keys))
    for label in ("", "-no-identity"):
        chosen = [r for name, r in rows.items() if name.startswith(preset + label + "-s")]
        if len(chosen) > 1:
            ssims = [r["ssim_test_truth"] for r in chosen]
            print(f"{preset}{label}: over seeds {args.seeds}: SSIM vs truth {mean_se(ssims)}, "
                  f"{acc} {mean_se([r[acc] for r in chosen])}")
    collapsed = [name for name, r in rows.items() if r["ssim_test_input"] > r["ssim_test_truth"]]
    print("collapsed to the identity map (output closer to the input than to the truth):", collapsed or "none")


def colour(args) -> None:
    runs = {"pix2pix": train(args.runs, "pix2pix-colour-cifar", "pix2pix-colour-cifar"),
            "l1-only": train(args.runs, "pix2pix-colour-cifar-l1", "pix2pix-colour-cifar", "translation.gan=0")}
    data = load_dataset("cifar10-jpeg-colour", split="test")
    a, truth = data.x[:args.n].numpy(), data.b.x[:args.n].numpy()
    grey = np.repeat(a, 3, axis=1)
    rows = {"grey input (baseline)": tm.score(grey, truth, split="test", colour=True)}
    outs = {}
    for label, run in runs.items():
        outs[label] = load_run(run).model.translate(a)
        rows[label] = {**tm.score(outs[label], truth, split="test", colour=True), "wall_s": wall(run)}
    rows["truth"] = {"colourfulness_hs_test": tm.colourfulness(truth)}
    print(table(rows, ["psnr_test_truth", "ssim_test_truth", "l1_test_truth", "colourfulness_hs_test", "wall_s"]))
    k = 8
    cells = np.stack([grey[:k], outs["l1-only"][:k], outs["pix2pix"][:k], truth[:k]], 1).reshape(-1, 3, 32, 32)
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    save_image_grid(cells, args.figure, nrow=8, title="cifar10-jpeg test: grey | L1 only | pix2pix | truth")
    print(f"figure: {args.figure}")


def sheet(args) -> None:
    """The pix2pix-edges ablation as one picture: input | L1 | GAN | L1+GAN | truth."""
    data = load_dataset("mnist-edges", split="test")
    a = data.x[:12].numpy()
    outs = [load_run(args.runs / p).model.translate(a) for p in PIX2PIX]
    cells = np.stack([a, *outs, data.b.x[:12].numpy()], 1).reshape(-1, 1, 32, 32)
    save_image_grid(cells, args.figure, nrow=10, title="mnist-edges test: edges | L1 | cGAN | L1+cGAN | truth (x2)")
    print(f"figure: {args.figure}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("group", choices=("pix2pix", "cycle", "thick", "colour", "sheet"))
    p.add_argument("--runs", type=Path, default=Path("/tmp/translation/runs"))
    p.add_argument("--n", type=int, default=10_000, help="test images translated and scored")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--ablation-all-seeds", action="store_true", help="the identity ablation over every seed too")
    p.add_argument("--figure", type=Path, default=Path("docs/img/translation_colour.png"))
    args = p.parse_args()
    args.runs.mkdir(parents=True, exist_ok=True)
    {"pix2pix": pix2pix, "cycle": cycle, "thick": lambda a: cycle(a, "cyclegan-thick"), "colour": colour,
     "sheet": sheet}[args.group](args)


if __name__ == "__main__":
    main()
