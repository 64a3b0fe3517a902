"""Deadline-bound jobs for the GPU session scripts (gpu_session.py, gpu_decisive.py).

A session is lent a GPU for 15 minutes in all, so every job runs against a wall-clock deadline, not a
step count: at its deadline a training job gets SIGTERM (ganforge finishes the step and writes its
checkpoint), anything else SIGKILL, and a job whose deadline has already passed is recorded as skipped
and never started. Every change to a job's record rewrites ``summary.json``, so whatever the session
reaches before the machine is taken back is on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path


class Clock:
    """Seconds from the start; deadlines scaled down by ``scale`` for a CPU rehearsal."""

    def __init__(self, scale: float = 1.0):
        self.t0, self.scale = time.monotonic(), scale

    def now(self) -> float:
        return time.monotonic() - self.t0

    def left(self, at: float) -> float:
        return at * self.scale - self.now()


class JobRunner:
    """Runs commands into ``results/logs/JOB.log`` against deadlines and keeps ``results/summary.json``.

    ``env`` is added to every child's environment; ``term_grace`` is how long a job that got SIGTERM
    may take to write its checkpoint before it is killed.
    """

    def __init__(self, results: Path, clock: Clock, env: dict[str, str] | None = None, term_grace: float = 30.0):
        self.results, self.clock = results, clock
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.term_grace = term_grace
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()
        self.summary: dict[str, dict] = {}
        (results / "logs").mkdir(parents=True, exist_ok=True)

    def now(self) -> float:
        return self.clock.now()

    def note(self, job: str, **kv) -> None:
        with self.lock:
            self.summary.setdefault(job, {}).update(kv)
            (self.results / "summary.json").write_text(json.dumps(self.summary, indent=1))

    def run(self, job: str, argv: list[str], until: float, term: bool = False) -> int:
        """Run argv into logs/JOB.log; at ``until`` send SIGTERM (training: it checkpoints) or SIGKILL.
        Returns the exit code, or -1 when no time was left to start it."""
        left = self.clock.left(until)
        if left < 1:
            self.note(job, skipped=f"no time left at {self.now():.0f} s for: {' '.join(argv[:6])}")
            return -1
        with open(self.results / "logs" / f"{job}.log", "a") as log:
            log.write(f"[{self.now():.0f}s] $ {' '.join(argv)}\n")
            log.flush()
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env)
            with self.lock:
                self.procs.add(p)
            try:
                rc = p.wait(timeout=left)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGTERM if term else signal.SIGKILL)
                try:
                    rc = p.wait(timeout=self.term_grace if term else 10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    rc = p.wait()
            with self.lock:
                self.procs.discard(p)
            log.write(f"[{self.now():.0f}s] rc={rc}\n")
        return rc

    def kill_all(self) -> None:
        with self.lock:
            for p in self.procs:
                p.kill()


def last_stats(run: Path) -> dict:
    """The last logged row of a run's stats.jsonl (its step, or why it stopped) and the row count."""
    stats = run / "stats.jsonl"
    if not stats.exists():
        return {}
    rows = [json.loads(line) for line in stats.read_text().splitlines() if line.strip()]
    return {"last_stats": rows[-1] if rows else None, "rows": len(rows)}
