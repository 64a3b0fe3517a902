"""The figures of docs/benchmarks.md "Synthetic data that is measured": CAS, GAN-test, augmentation,
the privacy audit with its overfit control, and the DP curve, on MNIST at a small CPU budget.

    OMP_NUM_THREADS=1 python benchmarks/synthetic_data.py --out /tmp/synthetic/bench --part all

Every stage writes OUT/<stage>.json as soon as it is done (so a partial run still reports what it
measured); runs go to OUT/runs/. Parts: gans (cgan, acgan, overfit control), scores, audit, dp,
augment; ``all`` runs them in that order. One thread, seeds stated in each JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import ganforge
from ganforge.data import load_dataset
from ganforge.metrics.judges import load_judge
from ganforge.privacy.audit import audit_run, closest_pairs
from ganforge.synthetic import classifier, scores
from ganforge.synthetic.sources import labelled_samples, reference_split, training_data
from ganforge.figures.drawing import nn_sheet

SMALL = ["model.g.base_channels=16", "model.d.base_channels=16", "train.batch_size=64", "log.every=200",
         "log.tensorboard=false", "log.sample_every=1000", "log.checkpoint_every=1000"]
GAN_STEPS = 10_000  # the class-conditional presets at their own documented budget, at width 16
OVERFIT_IMAGES, OVERFIT_STEPS = 500, 10_000  # 1,280 epochs of 500 images: long enough to memorise
DP_STEPS, DP_NOISE = 800, (0.2, 0.5, 1.0)
N_SYNTH = 50_000  # CAS: as many samples as MNIST's training split


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def save(out: Path, name: str, obj: dict) -> None:
    (out / f"{name}.json").write_text(json.dumps(obj, indent=1))
    log(f"wrote {out / name}.json")


def train(out: Path, name: str, preset: str, steps: int, extra: list[str] = ()) :
    run_dir = out / "runs" / name
    if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").glob(f"step-{steps:07d}")):
        return ganforge.load_run(run_dir)
    t0 = time.time()
    run = ganforge.train(preset, out=run_dir, steps=steps, set=[*SMALL, *extra], force=True)
    log(f"trained {name} ({preset}, {steps} steps) in {time.time() - t0:.0f} s")
    (run_dir / "wall_seconds.txt").write_text(f"{time.time() - t0:.1f}\n")
    return run


def overfit_data(out: Path) -> str:
    path = out / f"mnist{OVERFIT_IMAGES}.npz"
    if not path.exists():
        d = load_dataset("mnist", split="train")
        np.savez(path, x=d.x[:OVERFIT_IMAGES].numpy(), y=d.y[:OVERFIT_IMAGES].numpy())
    return f"npz:{path}"


def gans(out: Path) -> dict:
    runs = {"cgan": train(out, "cgan", "cgan-mnist", GAN_STEPS), "acgan": train(out, "acgan", "acgan-mnist", GAN_STEPS),
            "overfit": train(out, "overfit", "cgan-mnist", OVERFIT_STEPS, [f"data.name={overfit_data(out)}"])}
    return runs


def real_sets():
    train_set, test_set = load_dataset("mnist", split="train"), load_dataset("mnist", split="test")
    return train_set.x.numpy(), train_set.y.numpy(), test_set.x.numpy(), test_set.y.numpy()


def part_scores(out: Path) -> None:
    runs = gans(out)
    rx, ry, tx, ty = real_sets()
    recipe = classifier.RECIPES["cnn-mnist"]
    t0 = time.time()
    real_nets = [classifier.train(recipe, rx, ry, s) for s in classifier.SEEDS]
    baseline = scores.summarize([classifier.accuracy(n, tx, ty, 10) for n in real_nets], classifier.SEEDS)
    baseline["train_size"] = len(rx)
    result = {"recipe": recipe.describe(), "real": baseline, "runs": {}}
    log(f"real baseline {baseline['top1_mean']:.4f} ({time.time() - t0:.0f} s)")
    for name in ("cgan", "acgan"):
        sx, sy = labelled_samples(runs[name], N_SYNTH, seed=0)
        np.savez(out / f"{name}_synth.npz", x=sx, y=sy)
        cas = scores.cas(sx, sy, rx, ry, tx, ty, recipe, real_baseline=baseline, log=log)
        gan_test = [classifier.accuracy(n, sx[:10_000], sy[:10_000], 10)["top1"] for n in real_nets]
        result["runs"][name] = {"step": runs[name].step, "cas": cas,
                                "gan_test10k": {"top1": gan_test, "top1_mean": float(np.mean(gan_test)),
                                                "top1_std": float(np.std(gan_test, ddof=1))}}
        save(out, "scores", result)


def part_audit(out: Path) -> None:
    runs = gans(out)
    judge = load_judge("lenet", log_fn=log)
    result = {}
    for name in ("cgan", "overfit"):
        run = runs[name]
        train_set = training_data(run)
        holdout = reference_split(run, "valid", dataset="mnist")
        t0 = time.time()
        audit, synth, report = audit_run(run, train_set, holdout, judge=judge, seed=0)
        audit["seconds"] = round(time.time() - t0, 1)
        result[name] = audit
        s, nb, d = closest_pairs(synth, train_set, report, 16)
        nn_sheet(s, nb, d, title=f"{name}: the 16 samples closest to a training image").save(out / f"pairs_{name}.png")
        save(out, "audit", result)


def part_dp(out: Path) -> None:
    rx, ry, tx, ty = real_sets()
    recipe = classifier.RECIPES["cnn-mnist"]
    result = {"recipe": recipe.describe(), "steps": DP_STEPS, "rows": []}
    if (out / "dp.json").exists():  # rows already measured are kept
        result["rows"] = json.loads((out / "dp.json").read_text())["rows"]
    runs = [(f"dp{sigma:g}", "dp-cgan-mnist", [f"dp.noise_multiplier={sigma}"]) for sigma in DP_NOISE]
    runs.insert(1, ("nodp", "dp-cgan-mnist", ["recipe=noise-to-image"]))  # the same nets without DP-SGD
    for name, preset, extra in runs:
        if any(row["name"] == name for row in result["rows"]):
            continue
        run = train(out, name, preset, DP_STEPS, extra)
        stats = [json.loads(line) for line in (run.path / "stats.jsonl").read_text().splitlines()]
        eps = next((r["dp_epsilon"] for r in reversed(stats) if "dp_epsilon" in r), None)
        fid = ganforge.evaluate(run, ["fid10k_test_lenet"])
        sx, sy = labelled_samples(run, N_SYNTH, seed=0)
        cas = scores.train_and_test(recipe, sx, sy, tx, ty, log=log, what=name)
        result["rows"].append({"name": name, "extra": extra, "epsilon": eps, "delta": run.config.dp.delta,
                               "fid10k_test_lenet": fid, "cas50k_test": cas})
        save(out, "dp", result)


def part_augment(out: Path) -> None:
    rx, ry, tx, ty = real_sets()
    sx, sy = labelled_samples(ganforge.load_run(out / "runs" / "cgan"), N_SYNTH, seed=0)  # as in part_scores
    recipe = classifier.RECIPES["cnn-mnist"]
    result = scores.augmentation(sx, sy, rx, ry, tx, ty, recipe, log=log)
    save(out, "augment", result)


PARTS = {"scores": part_scores, "audit": part_audit, "dp": part_dp, "augment": part_augment}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--part", choices=[*PARTS, "all"], default="all")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in (PARTS if args.part == "all" else [args.part]):
        t0 = time.time()
        PARTS[name](out)
        log(f"part {name} done in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
