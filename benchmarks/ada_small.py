"""ADA where it matters: MNIST limited to 1,000 training images, DCGAN with and without ADA at one budget.

Both runs are ``dcgan-mnist`` at reduced width (``base_channels`` 16), batch 64, ``data.limit=1000`` (a fixed
random 1,000 of the 50k training split, the same for both), the same seed and the same number of steps; the
ADA run adds ``augment.ada_target=0.6`` (the paper's target) and ``augment.ada_kimg=100`` (p may go from 0 to 1
in 100k images instead of the paper's 500k: the whole budget here is a few hundred thousand images, and at
500k p could not pass about 0.5). They train one after the other, never at once.

What is measured, for each run:

- ``fid10k_test_lenet``: the Frechet distance between 10,000 samples' and the full MNIST test split's
  (10,000 images) features of the cached LeNet judge (a judge-feature FID, not Inception's; lower is better);
- the judge-FID every 1,000 steps (the same protocol, at those checkpoints);
- the D-overfitting curve: at every checkpoint (every 250 steps), D's mean logit on the 1,000 training
  images minus its mean logit on 1,000 held-out images (MNIST's validation split), both unaugmented, D in
  training mode on batches of 64 as in training. A D that memorises its training set scores its own images
  higher than unseen ones of the same distribution (Karras et al. 2020, fig. 1b); ADA should keep the gap small;
- from the ADA run's stats.jsonl: p (``ada_p``) and r_t (``ada_rt``) over the steps;
- the final grid of 100 samples (the run's fixed-z grid).

    python benchmarks/ada_small.py --out /tmp/ada_small --steps 4000 --figures docs/img/data \\
        --json /tmp/ada_small/results.json

``--measure-only`` measures runs already trained in ``--out``; ``--resume --steps N`` continues them to N steps.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ganforge import api  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.runs.run import load_run  # noqa: E402

LIMIT = 1000  # training images: the small-data setting
HELD_OUT = 1000  # validation images D never sees, for the overfitting gap
FID_N = 10_000  # samples for the judge-FID against the 10,000 test images
FID_NAME = "fid10k_test_lenet"
FID_EVERY = 1000  # steps between two judge-FIDs along the curve
D_BATCH = 64  # D reads the images in batches of the training batch (its BatchNorm uses batch statistics)
COMMON = [f"data.limit={LIMIT}", "train.batch_size=64", "model.g={arch: dcgan, base_channels: 16}",
          "model.d={arch: dcgan, base_channels: 16}", "log.every=50", "log.sample_every=1000",
          "log.checkpoint_every=250", "log.keep_checkpoints=1000", "log.tensorboard=false", "log.progress=false"]
VARIANTS = {"no-ada": [], "ada": ["augment.ada_target=0.6", "augment.ada_kimg=100"]}


def train(out: Path, steps: int, seed: int, resume: bool) -> dict[str, float]:
    """Each variant in turn (never two at once: they would share the cores); wall seconds each. ``resume``
    continues runs already in ``out`` to ``steps`` (resume is bitwise: the same runs, longer)."""
    wall = {}
    for name, sets in VARIANTS.items():
        t0 = time.perf_counter()
        api.train("dcgan-mnist", out=out / name, steps=steps, seed=seed, device="cpu", force=not resume,
                  resume=resume, set=[*COMMON, *sets])
        wall[name] = round(time.perf_counter() - t0, 1)
        print(f"{name}: trained {steps} steps in {wall[name]:.0f} s", flush=True)
    return wall


def _scaled(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 255.0 * 2.0 - 1.0  # dcgan's output range (-1, 1), as the real batches are scaled


@torch.no_grad()
def _mean_logit(D: torch.nn.Module, x: torch.Tensor) -> float:
    D.train()  # batch statistics, as in training (running stats would judge D in a mode it never trained in)
    return float(torch.cat([D(_scaled(x[i:i + D_BATCH])).flatten() for i in range(0, len(x), D_BATCH)]).mean())


def overfitting_curve(run_dir: Path, train_x: torch.Tensor, held_x: torch.Tensor, seed: int) -> list[dict]:
    """At every checkpoint: D's train-vs-held-out logit gap; every FID_EVERY steps also the judge-FID."""
    rows = []
    for ck in sorted((run_dir / "checkpoints").glob("step-*")):
        run = load_run(run_dir, checkpoint=ck)
        state = torch.get_rng_state()
        torch.manual_seed(0)
        lt, lh = _mean_logit(run.nets["D"], train_x), _mean_logit(run.nets["D"], held_x)
        torch.set_rng_state(state)
        row = {"step": run.step, "logit_train": round(lt, 4), "logit_held": round(lh, 4), "gap": round(lt - lh, 4)}
        if run.step % FID_EVERY == 0:
            row[FID_NAME] = round(float(api.evaluate(run.sample(FID_N, seed=seed), FID_NAME,
                                                     dataset="mnist")[FID_NAME]), 2)
        rows.append(row)
    return rows


def measure(out: Path, seed: int) -> dict:
    train_x = load_dataset("mnist", limit=LIMIT).x
    held_x = load_dataset("mnist", split="valid").x[:HELD_OUT]
    results = {}
    for name in VARIANTS:
        run = load_run(out / name)
        fid = float(api.evaluate(run.sample(FID_N, seed=seed), FID_NAME, dataset="mnist")[FID_NAME])
        stats = [json.loads(line) for line in (out / name / "stats.jsonl").read_text().splitlines()]
        ada = [{"step": s["step"], "p": s["ada_p"], "rt": s["ada_rt"]} for s in stats if "ada_p" in s]
        results[name] = {"steps": run.step, FID_NAME: round(fid, 2),
                         "curve": overfitting_curve(out / name, train_x, held_x, seed), "ada": ada}
        print(f"{name}: {FID_NAME} {fid:.2f}, final D gap {results[name]['curve'][-1]['gap']:.3f}", flush=True)
    return results


def figures(out: Path, results: dict, dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    fig, (a, c, b) = plt.subplots(1, 3, figsize=(15, 3.6))
    for name, r in results.items():
        steps = [c["step"] for c in r["curve"]]
        a.plot(steps, [c["gap"] for c in r["curve"]], marker="o", ms=3, label=name)
    a.axhline(0, color="grey", lw=0.5)
    a.set(title=f"D overfitting: mean logit, {LIMIT} training minus {HELD_OUT} held-out images",
          xlabel="step", ylabel="logit gap")
    a.title.set_fontsize(9)
    a.legend()
    for name, r in results.items():
        pts = [(x["step"], x[FID_NAME]) for x in r["curve"] if FID_NAME in x]
        c.plot(*zip(*pts), marker="o", ms=3, label=name)
    c.set(title=f"{FID_NAME} (lower is better)", xlabel="step")
    c.title.set_fontsize(9)
    c.legend()
    ada = results["ada"]["ada"]
    b.plot([s["step"] for s in ada], [s["p"] for s in ada], label="p (augmentation probability)")
    b.plot([s["step"] for s in ada], [s["rt"] for s in ada], label="r_t = E[sign D(real)]", alpha=0.7)
    b.axhline(0.6, color="grey", lw=0.5, ls="--")
    b.set(title="ADA run: p and r_t (target 0.6)", xlabel="step", ylim=(-0.05, 1.05))
    b.title.set_fontsize(9)
    b.legend(fontsize=8)
    fig.tight_layout()
    paths = [dest / "ada_small_curve.png"]
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)
    for name in results:
        grid = sorted((out / name / "samples").glob("step-*.png"))[-1]
        paths.append(dest / f"ada_small_grid_{name}.png")
        shutil.copyfile(grid, paths[-1])
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="where the two runs go")
    p.add_argument("--steps", type=int, default=4000, help="training steps of each run (default 4000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--measure-only", action="store_true", help="measure runs already trained in --out")
    p.add_argument("--resume", action="store_true", help="continue the runs in --out to --steps")
    p.add_argument("--figures", type=Path, help="folder for the curve and the two sample grids")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    if args.steps < 1:
        p.error(f"--steps must be at least 1, got {args.steps}")
    wall = {} if args.measure_only else train(args.out, args.steps, args.seed, args.resume)
    results = measure(args.out, args.seed)
    for name, seconds in wall.items():
        results[name]["wall_s"] = seconds
    if args.figures:
        for path in figures(args.out, results, args.figures):
            print(f"wrote {path}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    from bench_cli import run_main  # benchmarks/ is on sys.path when a script runs

    raise SystemExit(run_main(main))
