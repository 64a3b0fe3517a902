"""Issue 25 item 8 and issue 28's seeds on a lent GPU: one command, at most two training processes.

A session is lent a GPU for 15 minutes in all, so this is one call of under nine and a half
minutes. Round 2 ran seventeen processes time-slicing one GPU and left every model near its
initial weights; here at most **two** training processes run at once, and every job has a deadline:

1. ``graphs`` (alone on the GPU, nothing else running): benchmarks/gpu_graphs_check.py's parts
   ``dcgan128`` and ``mlp100``, whole-step CUDA graphs and the other auto switches against the
   plain example-style loop in the same process.
2. Then two slots side by side:

   - slot A: ``stylegan2-mnist-paper`` (the published size) trained until ``--sg2-until``
     (SIGTERM: ganforge finishes the step and writes its checkpoint), then benchmarks/learns.py
     ``--run`` on it (judge classes, confident share, style mixing, truncation, a grid);
   - slot B: ``ssgan-mnist-100`` at its default budget, seeds 0-4 (split and init vary together),
     each evaluated on the test split (``acc_test_100labels_seedS``) and the valid split;
   - whichever slot is free next takes the supervised-only twins (``semi.unlabelled=0``), seeds 0-4.
     A job starts only when the slowest finished job's time still fits before ``--hard-end``.

Everything lands in OUT as it finishes: summary.json, one log per job, learns results and grids.

    python benchmarks/gpu_decisive.py OUT                  # on the GPU machine (gpu_decisive.sh)
    python benchmarks/gpu_decisive.py OUT --cpu-smoke      # every part, tiny, on the CPU
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from gpu_jobs import Clock, JobRunner, last_stats

HERE = Path(__file__).resolve().parent
GF = [sys.executable, "-m", "ganforge"]
QUIET = ["log.progress=false", "log.tensorboard=false"]


class Session(JobRunner):
    """gpu_jobs.JobRunner writing into OUT, with the work folder and the finished jobs' durations."""

    def __init__(self, out: Path, work: Path, smoke: bool):
        super().__init__(out, Clock())
        self.out, self.work, self.smoke = out, work, smoke
        self.durations: list[float] = []


def graphs(s: Session, until: float) -> None:
    out = s.out / "graphs"
    argv = [sys.executable, str(HERE / "gpu_graphs_check.py"), str(out), "--only", "dcgan128,mlp100",
            "--budget", str(max(1, until - s.now()))] + (["--cpu-smoke"] if s.smoke else [])
    rc = s.run("graphs", argv, until + 15)
    s.note("graphs", rc=rc, seconds=round(s.now(), 1))


def stylegan(s: Session, train_until: float, hard_end: float) -> None:
    run = s.work / "stylegan2-mnist-paper"
    sets = [*QUIET, "log.every=200", "log.sample_every=1000", "log.checkpoint_every=1000"]
    if s.smoke:
        sets += ["model.g.channels=8", "model.d.channels=8", "train.batch_size=8"]
    t = s.now()
    rc = s.run("stylegan2", [*GF, "train", "stylegan2-mnist-paper", "--out", str(run), "--force",
                             *[a for kv in sets for a in ("--set", kv)]], train_until, term=True)
    s.note("stylegan2", train_rc=rc, train_s=round(s.now() - t, 1), **last_stats(run))
    for f in ("config.yaml", "options.json", "stats.jsonl"):
        if (run / f).exists():
            (s.out / f"stylegan2.{f}").write_bytes((run / f).read_bytes())
    for png in sorted((run / "samples").glob("*.png")):
        (s.out / "learns").mkdir(exist_ok=True)
        (s.out / "learns" / f"stylegan2-{png.name}").write_bytes(png.read_bytes())
    if (run / "checkpoints").is_dir():
        n = "200" if s.smoke else "2000"
        rc = s.run("stylegan2", [sys.executable, str(HERE / "learns.py"), "--run", str(run), "--n", n,
                                 "--out", str(s.out / "learns"), "--markdown", str(s.out / "learns" / "table.md")],
                   hard_end)
        s.note("stylegan2", learns_rc=rc)


def semi_job(s: Session, name: str, seed: int, baseline: bool, hard_end: float) -> None:
    """One ssgan-mnist-100 run (or its labels-only twin) at the preset's budget, then its accuracies."""
    run = s.work / name
    sets = [*QUIET] + (["semi.unlabelled=0"] if baseline else [])
    steps = ["--steps", "30"] if s.smoke else []
    t = s.now()
    rc = s.run(name, [*GF, "train", "ssgan-mnist-100", "--seed", str(seed), "--out", str(run), "--force", *steps,
                      *[a for kv in sets for a in ("--set", kv)]], hard_end, term=True)
    s.note(name, train_rc=rc, train_s=round(s.now() - t, 1), **last_stats(run))
    if rc != 0 or not (run / "checkpoints").is_dir():
        return
    for split in ("test", "valid"):
        metric = f"acc_{split}_100labels_seed{seed}"
        js = s.out / f"{name}.{split}.json"
        s.run(name, [*GF, "eval", str(run), "--metrics", metric, "--json", str(js), "--force"], hard_end)
        if js.exists():
            s.note(name, **json.loads(js.read_text())["metrics"])
    with s.lock:
        s.durations.append(s.now() - t)


def queue_worker(s: Session, todo: list[tuple[str, int, bool]], hard_end: float) -> None:
    while True:
        with s.lock:
            longest = max(s.durations, default=0.0)
            if not todo:
                return
            if s.now() + longest * 1.05 > hard_end:
                for name, _, _ in todo:
                    s.summary.setdefault(name, {})["skipped"] = f"would not finish by {hard_end:.0f} s"
                todo.clear()
                return
            name, seed, baseline = todo.pop(0)
        semi_job(s, name, seed, baseline, hard_end)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--work", type=Path, default=Path("/tmp/gpu_decisive"))
    p.add_argument("--cpu-smoke", action="store_true", help="tiny nets, short deadlines, on the CPU")
    p.add_argument("--graphs-until", type=float, default=150.0)
    p.add_argument("--sg2-until", type=float, default=420.0, help="seconds from the start when StyleGAN2 stops")
    p.add_argument("--hard-end", type=float, default=540.0, help="every job is stopped by then")
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    a.work.mkdir(parents=True, exist_ok=True)
    s = Session(a.out, a.work, a.cpu_smoke)
    seeds = range(2) if a.cpu_smoke else range(5)
    todo = [(f"ssgan-s{k}", k, False) for k in seeds] + [(f"labelsonly-s{k}", k, True) for k in seeds]
    graphs(s, a.graphs_until)

    def slot_a() -> None:
        stylegan(s, a.sg2_until, a.hard_end)
        queue_worker(s, todo, a.hard_end)

    threads = [threading.Thread(target=slot_a), threading.Thread(target=queue_worker, args=(s, todo, a.hard_end))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s.note("session", seconds=round(s.now(), 1))
    print(json.dumps(s.summary, indent=1)[:8000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
