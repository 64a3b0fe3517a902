"""Every GPU measurement still open this round, in one run of under nine minutes (issues 14, 15, 17).

A session is lent a GPU for 15 minutes in all, so everything runs at once, each job against a
wall-clock deadline rather than a step count: training is stopped with SIGTERM (ganforge finishes
the step and writes a checkpoint), then the job measures whatever step it reached and says so.

- CIFAR (issue 15): ``stylegan2-cifar``, ``progan-cifar`` (stages shortened to fit), ``biggan-cifar``,
  ``dcgan-cifar``, ``gan2014-cifar10-fc`` and ``-conv`` on ``cifar10-jpeg`` at the presets' widths;
  10,000 samples each against the test split in the CIFAR judge's features; a grid each; the
  truncation and mixing figures of the StyleGAN2 run.
- Synthetic data (issue 17): ``cgan-mnist`` and the overfit control (500 images) at the preset's
  width, audited; the DP curve at batch 512 (three noise levels and the non-private control), with
  epsilon, ``fid10k_test_lenet`` and CAS.
- Anomaly (issue 14): f-AnoGAN at ``--budget long`` of benchmarks/anomaly_protocol.py, seed-major
  over the digits, as many models as the time allows.

    python benchmarks/gpu_session.py --work /tmp/gs --results $OUT/results     # on the GPU machine
    python benchmarks/gpu_session.py --work /tmp/gs --results /tmp/gs/res --smoke   # CPU rehearsal

Run through benchmarks/gpu_session.sh, which stages the data and packs the results.

This is the record of round 3's session (4 December 2026), kept so its figures in docs/benchmarks.md
can be traced: it runs far more than two training processes at once, which left models near their
initial weights. New GPU measurements go through benchmarks/gpu_decisive.py (at most two at once);
both share the deadline runner in benchmarks/gpu_jobs.py.
"""

from __future__ import annotations

import argparse
import json
import queue
import shutil
import sys
import threading
from pathlib import Path

from gpu_jobs import Clock, JobRunner, last_stats

PY = [sys.executable]
GF = [sys.executable, "-m", "ganforge"]
JUDGE = "cnn-cifar10jpeg"
CIFAR = {  # preset -> extra overrides (the presets' own widths; only ProGAN's stages shortened)
    "stylegan2-cifar": [],
    "progan-cifar": ["growth.fade_images=25000", "growth.stable_images=25000"],
    "biggan-cifar": [],
    "dcgan-cifar": [],
    "gan2014-cifar10-fc": [],
    "gan2014-cifar10-conv": [],
}
QUIET = ["log.every=100", "log.progress=false", "log.tensorboard=false", "log.sample_every=100000000",
         "log.checkpoint_every=2000"]
DP_BATCH, DP_WIDTH, DP_NOISE, DP_STEPS = 512, 16, (0.5, 1.0, 2.0), 3000


class Session(JobRunner):
    """gpu_jobs.JobRunner with the work folder, the device and one thread per job (a CPU core each in
    the rehearsal; on the GPU machine the data loading of several jobs shares 16 cores)."""

    def __init__(self, work: Path, results: Path, clock: Clock, smoke: bool):
        super().__init__(results, clock, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
                         term_grace=90 * clock.scale)
        self.work, self.smoke = work, smoke
        self.dev = ["--device", "cpu" if smoke else "cuda"]


def keep(s: Session, run: Path, name: str) -> None:
    """Copy a run's small records (config, options with versions and fingerprints, stats) into the results."""
    for f in ("config.yaml", "options.json", "stats.jsonl"):
        if (run / f).exists():
            shutil.copy(run / f, s.results / f"{name}.{f}")


def cifar_job(s: Session, preset: str, train_end: float, hard_end: float, n: int) -> None:
    run = s.work / "runs" / preset
    sets = ["data.name=cifar10-jpeg", *QUIET, *CIFAR[preset]]
    if s.smoke:
        sets += ["model.g.channels=8", "model.d.channels=8"] if "gan2014" not in preset and "dcgan" not in preset else []
    rc = s.run(preset, [*GF, "train", preset, "--out", str(run), "--force", "--steps", "100000000",
                        *[a for x in sets for a in ("--set", x)]], train_end, term=True)
    s.note(preset, train_rc=rc, **last_stats(run))
    keep(s, run, preset)
    if not (run / "checkpoints").is_dir():
        return
    classes = [a for c in range(10) for a in ("--class", str(c))] if preset == "biggan-cifar" else []
    samples = s.work / f"{preset}.npy"
    k = f"{n // 1000}k"
    metrics = [f"fid{k}_test_{JUDGE}", f"kid{k}_test_{JUDGE}", f"pr{k}_test_{JUDGE}", f"is{k}_{JUDGE}"]
    s.run(preset, [*GF, "sample", str(run), "--n", str(n), "--seed", "1", *s.dev,
                   "--out", str(samples), "--force", *classes], hard_end)
    extra = ["--labels", str(samples.with_suffix(".labels.npy"))] if classes else []
    metrics += [f"acc{k}_{JUDGE}"] if classes else []
    s.run(preset, [*GF, "eval", "--samples", str(samples), "--dataset", "cifar10-jpeg", "--metrics", ",".join(metrics),
                   "--json", str(s.results / f"{preset}.eval.json"), "--force", *s.dev, *extra], hard_end)
    s.run(preset, [*GF, "sample", str(run), "--n", "100", "--seed", "2", "--out", str(s.work / f"{preset}-grid.npy"),
                   "--grid", str(s.results / f"{preset}.png"), "--force", *s.dev, *classes], hard_end)
    if preset == "stylegan2-cifar":
        s.run(preset, [*PY, "benchmarks/style_figures.py", str(run), "--out", str(s.results)], hard_end)


def reference_job(s: Session, hard_end: float, n: int) -> None:
    """The judge's floor (n random real training images) and ceiling (uniform noise), as in section 8."""
    code = ("import numpy as np, sys; from ganforge.data import load_dataset as L; d = L('cifar10-jpeg', split='train'); "
            "x = d.x.numpy(); n = int(sys.argv[2]); r = np.random.default_rng(0); "
            "np.save(sys.argv[1] + '/c10j_trainr.npy', x[r.permutation(len(x))[:n]]); "
            "np.save(sys.argv[1] + '/c10j_noise.npy', np.random.default_rng(0).integers(0, 256, (n,) + x.shape[1:], "
            "dtype=np.uint8))")
    s.run("reference", [*PY, "-c", code, str(s.work), str(n)], hard_end)
    k = f"{n // 1000}k"
    metrics = f"fid{k}_test_{JUDGE},kid{k}_test_{JUDGE},pr{k}_test_{JUDGE},is{k}_{JUDGE}"
    for name in ("c10j_trainr", "c10j_noise"):
        s.run("reference", [*GF, "eval", "--samples", str(s.work / f"{name}.npy"), "--dataset", "cifar10-jpeg",
                            "--metrics", metrics, "--json", str(s.results / f"{name}.eval.json"), "--force", *s.dev],
              hard_end)


def train_mnist(s: Session, name: str, preset: str, sets: list[str], until: float, steps: int = 100000000) -> Path:
    run = s.work / "runs" / name
    rc = s.run(name, [*GF, "train", preset, "--out", str(run), "--force", "--steps", str(steps),
                      *[a for x in [*QUIET, *sets] for a in ("--set", x)]], until, term=True)
    s.note(name, train_rc=rc, **last_stats(run))
    keep(s, run, name)
    return run


def audit_job(s: Session, name: str, train_end: float, hard_end: float) -> None:
    """cgan-mnist, or the overfit control (the first 500 training images), then `ganforge audit`."""
    sets, members = [], []
    if name == "overfit":
        sets, members = [f"data.name=npz:{s.work / 'mnist500.npz'}"], ["--members", "500", "--holdout-data", "mnist"]
    if s.smoke:
        sets += ["model.g.base_channels=8", "model.d.base_channels=8"]
    run = train_mnist(s, name, "cgan-mnist", sets, train_end)
    if (run / "checkpoints").is_dir():
        s.run(name, [*GF, "audit", str(run), *members, "--judge", "lenet", "--out", str(s.results / f"audit_{name}.json"),
                     "--figure", str(s.results / f"pairs_{name}.png"), "--force", *s.dev], hard_end)


def dp_job(s: Session, name: str, train_end: float, hard_end: float) -> None:
    # fp32: under bf16 the per-sample norms Opacus clips by are rounded, loosening the stated epsilon
    sets = [f"train.batch_size={DP_BATCH}", f"model.g.base_channels={DP_WIDTH}", f"model.d.base_channels={DP_WIDTH}",
            "speed.precision=fp32"]
    sets += ["recipe=noise-to-image"] if name == "nodp" else [f"dp.noise_multiplier={name[2:]}"]
    run = train_mnist(s, name, "dp-cgan-mnist", sets, train_end, steps=DP_STEPS if not s.smoke else 20)
    if not (run / "checkpoints").is_dir():
        return
    n = ["--n", "2000"] if s.smoke else []
    s.run(name, [*GF, "eval", str(run), "--metrics", "fid10k_test_lenet" if not s.smoke else "fid1k_test_lenet",
                 "--json", str(s.results / f"{name}.eval.json"), "--force", *s.dev], hard_end)
    s.run(name, [*GF, "downstream", str(run), "--what", "cas", *n, "--out", str(s.results / f"{name}.cas.json"),
                 "--force", *s.dev], hard_end)


def anomaly_worker(s: Session, todo: queue.Queue, start_by: float, hard_end: float) -> None:
    budget = "cpu-small" if s.smoke else "long"
    while s.clock.left(start_by) > 0:
        try:
            digit, seed = todo.get_nowait()
        except queue.Empty:
            break
        s.run("anomaly", [*PY, "benchmarks/anomaly_protocol.py", "--out", str(s.work / "anomaly"), "--budget", budget,
                          "--methods", "fanogan", "--digits", str(digit), "--seeds", str(seed)], hard_end)
    reports = s.work / "anomaly" / "reports"
    if reports.is_dir():
        (s.results / "anomaly").mkdir(exist_ok=True)
        for f in reports.glob("*.json"):
            shutil.copy(f, s.results / "anomaly" / f.name)


def prepare(s: Session, cifar: bool) -> None:
    """The overfit control's 500 images; the datasets' caches and both judges, before any job races for them."""
    code = ("import numpy as np, sys; from ganforge.data import load_dataset as L; from ganforge.metrics.judges import "
            "load_judge as J; d = L('mnist', split='train'); np.savez(sys.argv[1], x=d.x[:500].numpy(), "
            "y=d.y[:500].numpy()); J('lenet', log_fn=print); ")
    code += f"L('cifar10-jpeg', split='train'); print('judge', J('{JUDGE}', log_fn=print).test_accuracy)" if cifar else ""
    s.run("prepare", [*PY, "-c", code, str(s.work / "mnist500.npz")], 120)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True, type=Path)
    p.add_argument("--results", required=True, type=Path)
    p.add_argument("--smoke", action="store_true", help="CPU rehearsal: deadlines x0.35, tiny nets and counts")
    p.add_argument("--only", nargs="*", default=None, help="job groups: cifar synthetic anomaly")
    p.add_argument("--anomaly-models", nargs="*", default=None, metavar="DIGIT:SEED",
                   help="f-AnoGAN models to train (default: every digit, seeds 0-2, seed-major)")
    # Processes on one GPU without MPS are time-sliced: 4 workers beside 13 other jobs finished a model in
    # 3-4 min; 22 at once (4 Dec 2026) finished none in 230 s.
    p.add_argument("--anomaly-workers", type=int, default=4)
    p.add_argument("--hard-end", type=float, default=490, help="seconds after which every job is stopped")
    a = p.parse_args()
    s = Session(a.work, a.results, Clock(0.35 if a.smoke else 1.0), a.smoke)
    a.work.mkdir(parents=True, exist_ok=True)
    groups = a.only or ["cifar", "synthetic", "anomaly"]
    # Deadlines (s from the start). The call is killed at 540: pack by then.
    CIFAR_TRAIN_END, MNIST_TRAIN_END, ANOMALY_START_BY, HARD_END = 330, 260, 330, a.hard_end
    n = 1000 if a.smoke else 10000
    threads = []
    try:
        prepare(s, "cifar" in groups)
        if "cifar" in groups:
            presets = list(CIFAR) if not a.smoke else ["stylegan2-cifar", "biggan-cifar", "progan-cifar"]
            threads += [threading.Thread(target=cifar_job, args=(s, pr, CIFAR_TRAIN_END, HARD_END, n)) for pr in presets]
            threads.append(threading.Thread(target=reference_job, args=(s, HARD_END, n)))
        if "synthetic" in groups:
            threads += [threading.Thread(target=audit_job, args=(s, nm, MNIST_TRAIN_END, HARD_END))
                        for nm in ("cgan", "overfit")]
            threads += [threading.Thread(target=dp_job, args=(s, nm, MNIST_TRAIN_END, HARD_END))
                        for nm in ([f"dp{x:g}" for x in DP_NOISE] + ["nodp"])]
        if "anomaly" in groups:
            todo: queue.Queue = queue.Queue()
            models = a.anomaly_models or [f"{d}:{sd}" for sd in (0, 1, 2) for d in range(10)]
            for m in models:
                todo.put(tuple(int(v) for v in m.split(":")))
            threads += [threading.Thread(target=anomaly_worker, args=(s, todo, ANOMALY_START_BY, HARD_END))
                        for _ in range(1 if a.smoke else a.anomaly_workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(1.0, s.clock.left(HARD_END + 15)))
    finally:
        s.kill_all()
        s.note("session", seconds=round(s.clock.now(), 1), threads_alive=sum(t.is_alive() for t in threads))
    print(json.dumps(s.summary, indent=1)[:6000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
