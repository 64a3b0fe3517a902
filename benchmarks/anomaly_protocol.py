"""The anomaly protocols, run: one model per (method, protocol, digit, seed), trained then evaluated.

Each model is trained with ``ganforge train PRESET --set data.name=PROTOCOL --set data.digit=D
--set seed=S`` plus the budget's overrides, then measured with ``ganforge anomaly eval``
(threshold from the normal-only validation split; the test split is scored once, never used
to choose anything). Finished runs and reports are kept, so an interrupted sweep resumes
where it stopped. The summary is one table per (method, protocol): per-digit AUROC (and
PR-AUC) as mean +- standard error over the seeds done, with the number of seeds.

    python benchmarks/anomaly_protocol.py --out /tmp/anomaly --methods fanogan ganomaly \\
        --protocol mnist-one-normal --digits 0 1 2 --seeds 0 1 2

The default budget (``--budget cpu-small``) is what fits a shared CPU: 16-channel nets, a
few hundred steps. It is recorded in each run (its ``DONE`` file) and report (``"budget"``) and
written into every table's heading; say it wherever a figure is quoted. An ``--out`` holding a
model or report of another budget is refused, never reused: give each budget its own ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ganforge.anomaly import save_residual_figure, scorer
from ganforge.data import load_dataset
from ganforge.data.anomaly_protocols import is_anomaly
from ganforge.runs.run import load_run

PRESETS = {"fanogan": "fanogan-mnist", "ganomaly": "ganomaly-mnist", "anogan": "anogan-mnist"}
# The CPU budget: tiny nets and few steps (stated with every result). f-AnoGAN: 400 WGAN-GP steps of
# 2 critic updates each (not the paper's 5) at Adam 5e-4 (not 1e-4), then 300 encoder steps: at the
# paper's settings 400 steps left G's digits grey and AUROC at 0.58 for digit 0 (measured, seed 0).
# GANomaly and the DCGAN under AnoGAN: 400 steps at the presets' settings.
COMMON = ["model.g.base_channels=16", "model.d.base_channels=16", "train.batch_size=32", "log.every=50",
          "log.progress=false", "log.tensorboard=false", "log.sample_every=100000", "log.checkpoint_every=100000"]
BUDGETS = {
    "cpu-small": {"fanogan": (700, ["anomaly.encoder_steps=300", "train.d_steps=2", "optim.g.lr=5e-4",
                                    "optim.d.lr=5e-4"]),
                  "ganomaly": (400, []), "anogan": (400, [])},
    # Five times the GAN steps and three times the encoder's: what an idle CPU core gives f-AnoGAN in
    # about a minute and a half per model. Use its own --out folder (a finished model of another budget
    # there is refused, by the budget its DONE file and report record).
    "cpu-medium": {"fanogan": (2900, ["anomaly.encoder_steps=900", "train.d_steps=2", "optim.g.lr=5e-4",
                                      "optim.d.lr=5e-4"]),
                   "ganomaly": (2000, []), "anogan": (2000, [])},
    # cpu-medium's settings at 2.2 times its steps (5,000 GAN + 1,500 encoder): about 5 minutes per
    # model on an idle CPU core, 3 to 4 on a GPU shared with 16 other jobs (benchmarks/gpu_session.py).
    "long": {"fanogan": (6500, ["anomaly.encoder_steps=1500", "train.d_steps=2", "optim.g.lr=5e-4",
                               "optim.d.lr=5e-4"]),
             "ganomaly": (5000, []), "anogan": (5000, [])},
}


def _run(cmd: list[str], log: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:  # one line, on a line of its own, with the child's own last line (its error)
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        sys.stdout.flush()
        print(f"\nanomaly_protocol.py: error: {' '.join(cmd[2:4])} failed (exit code {done.returncode}): "
              f"{lines[-1] if lines else ''}; command and output in {log}", file=sys.stderr, flush=True)
        raise SystemExit(2 if done.returncode == 2 else 1)  # the child's 2 is the user's input: pass it on


DONE_PREFIX = "trained at budget "


def done_budget(run: Path) -> str | None:
    """The budget a finished run's DONE file records; None when it was written before budgets were recorded."""
    text = (run / "DONE").read_text().strip()
    return text.removeprefix(DONE_PREFIX) if text.startswith(DONE_PREFIX) else None


def _refuse_other_budget(what: Path, found: str | None, budget: str) -> None:
    """One line, exit 2, when a finished model or report in --out is of another budget than --budget: reusing
    it would print another budget's figures under this one's name."""
    if found != budget:
        was = f"at --budget {found}" if found else "before budgets were recorded (budget unknown)"
        print(f"anomaly_protocol.py: error: {what} was made {was}, not --budget {budget}; give each budget its own "
              f"--out (results of two budgets are never mixed)", file=sys.stderr, flush=True)
        raise SystemExit(2)


def one(out: Path, budget: str, method: str, protocol: str, digit: int, seed: int, limit: int | None) -> dict:
    """Train (unless done) and evaluate (unless done) one model; returns its report (with its budget)."""
    name = f"{method}-{protocol}-d{digit}-s{seed}"
    run, report, log = out / "runs" / name, out / "reports" / f"{name}.json", out / "logs" / f"{name}.log"
    for folder in (run.parent, report.parent, log.parent):
        folder.mkdir(parents=True, exist_ok=True)
    steps, extra = BUDGETS[budget][method]
    ganforge = [sys.executable, "-m", "ganforge"]
    if report.exists():  # checked first: a report is reused only at its own budget
        _refuse_other_budget(report, json.loads(report.read_text()).get("budget"), budget)
    if (run / "DONE").exists():
        _refuse_other_budget(run, done_budget(run), budget)
    else:
        sets = [f"data.name={protocol}", f"data.digit={digit}", f"seed={seed}", *COMMON, *extra]
        _run([*ganforge, "train", PRESETS[method], "--out", str(run), "--force", "--steps", str(steps),
              *[a for s in sets for a in ("--set", s)]], log)
        (run / "DONE").write_text(f"{DONE_PREFIX}{budget}\n")
    if not report.exists():
        cmd = [*ganforge, "anomaly", "eval", str(run), "--method", method, "--out", str(report)]
        _run(cmd + (["--limit", str(limit)] if limit else []), log)
        r = json.loads(report.read_text())
        report.write_text(json.dumps({**r, "budget": budget}, indent=2) + "\n")
    return json.loads(report.read_text())


def mean_se(values: list[float]) -> str:
    m = sum(values) / len(values)
    if len(values) < 2:
        return f"{m:.3f}"
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
    return f"{m:.3f} ± {sd / math.sqrt(len(values)):.3f}"


def summary(out: Path) -> str:
    """Tables from every report under ``out/reports``, one per (method, protocol, test subset, budget); the
    budget is in each heading ("not recorded" for a report written before budgets were)."""
    groups: dict[tuple, dict[int, list[dict]]] = {}
    for path in sorted((out / "reports").glob("*.json")):
        r = json.loads(path.read_text())
        key = (r["method"], r["protocol"], r["n_test"] if r["test_subset"] else 0, r.get("budget") or "not recorded")
        groups.setdefault(key, {}).setdefault(r["digit"], []).append(r)
    lines = []
    for (method, protocol, n_test, budget), by_digit in sorted(groups.items()):
        split = f"a fixed subset of {n_test} test images" if n_test else "the whole test split"
        lines += [f"\n{method} on {protocol} ({split}; budget {budget})\n",
                  "| digit | seeds | AUROC | PR-AUC | F1 (valid threshold) |",
                  "|---:|---:|---:|---:|---:|"]
        means = []
        for digit in sorted(by_digit):
            rs = by_digit[digit]
            aurocs = [r["auroc"] for r in rs]
            means.append(sum(aurocs) / len(aurocs))
            lines.append(f"| {digit} | {','.join(str(r['train_seed']) for r in rs)} | {mean_se(aurocs)} | "
                         f"{mean_se([r['pr_auc'] for r in rs])} | {mean_se([r['f1'] for r in rs])} |")
        lines.append(f"| mean over {len(means)} digits | | {sum(means) / len(means):.3f} | | |")
    return "\n".join(lines) + "\n"


def speed(run_dir: Path, n: int) -> str:
    """Images per CPU-second of f-AnoGAN's encoder pass and AnoGAN's search, on the same run's G and D.

    CPU time (``time.process_time``, one thread) rather than wall time: this machine is shared, and
    CPU time is what one image costs whoever else is running.
    """
    run = load_run(run_dir)
    x = load_dataset(run.config.data.name, split="test", digit=run.config.data.digit).x.numpy()[:n]
    lines = ["| method | images | CPU s | images per CPU-second |", "|---|---:|---:|---:|"]
    rates = {}
    for method in ("fanogan", "anogan"):
        sc = scorer(run, method)
        t0 = time.process_time()
        sc.score(x, batch_size=n)
        cpu = time.process_time() - t0
        rates[method] = n / cpu
        lines.append(f"| {method} | {n} | {cpu:.2f} | {rates[method]:.1f} |")
    lines.append(f"\nf-AnoGAN / AnoGAN: {rates['fanogan'] / rates['anogan']:.0f}x "
                 f"(AnoGAN: {run.config.anomaly.anogan_steps} steps per image)")
    return "\n".join(lines) + "\n"


def figure(run_dir: Path, path: Path, n: int = 6) -> None:
    """Test images with their residual maps: the first ``n`` normal ones beside the first ``n`` anomalies."""
    run = load_run(run_dir)
    test = load_dataset(run.config.data.name, split="test", digit=run.config.data.digit)
    anomalous = is_anomaly(test)
    picked = {k: np.flatnonzero(anomalous == k)[:: max(1, int((anomalous == k).sum()) // n)][:n] for k in (False, True)}
    sc = scorer(run)
    pairs = {}
    for k, idx in picked.items():
        images = test.x.numpy()[idx]
        pairs[k] = list(zip(images, sc.score(images).residual))
    title = f"{sc.method}, {run.config.data.name} digit {run.config.data.digit}: normal | anomalous"
    save_residual_figure(pairs[False], pairs[True], path, title)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder for runs, reports and logs (outside the repository)")
    p.add_argument("--methods", nargs="+", choices=list(PRESETS), default=["fanogan", "ganomaly"])
    p.add_argument("--protocol", default="mnist-one-normal", choices=["mnist-one-normal", "mnist-one-anomalous"])
    p.add_argument("--digits", nargs="+", type=int, default=list(range(10)))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--budget", default="cpu-small", choices=list(BUDGETS))
    p.add_argument("--limit", type=int, help="evaluate on a fixed subset of this many test images (AnoGAN)")
    p.add_argument("--summary-only", action="store_true", help="print the tables of the reports done so far")
    p.add_argument("--speed", metavar="RUN", help="only time f-AnoGAN against AnoGAN scoring on this f-AnoGAN run")
    p.add_argument("--figure", nargs=2, metavar=("RUN", "PNG"), help="only draw the residual-map figure of RUN")
    args = p.parse_args()
    if bad := [d for d in args.digits if not 0 <= d <= 9]:
        p.error(f"--digits must be MNIST digits 0-9, got {', '.join(map(str, bad))}")
    if args.limit is not None and args.limit < 2:  # as `ganforge anomaly eval --limit`, which it runs
        p.error(f"--limit must be at least 2 images, got {args.limit}")
    out = Path(args.out)
    if args.speed:
        print(speed(Path(args.speed), 200), end="")
        return
    if args.figure:
        figure(Path(args.figure[0]), Path(args.figure[1]))
        return
    if not args.summary_only:
        for digit in args.digits:  # digit-major: each digit gets all its seeds before the next digit starts
            for seed in args.seeds:
                for method in args.methods:
                    r = one(out, args.budget, method, args.protocol, digit, seed, args.limit)
                    print(f"{method} {args.protocol} digit {digit} seed {seed}: AUROC {r['auroc']:.4f} "
                          f"PR-AUC {r['pr_auc']:.4f}", flush=True)
    print(summary(out), end="")


if __name__ == "__main__":
    main()
