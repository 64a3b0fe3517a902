"""Command start-up: the seconds ``ganforge --help`` takes, for this checkout and optionally another.

Every command imports the modules of every verb, so whatever those modules import at their top is paid
before any command does anything. This times a fresh ``python3 -m ganforge --help`` process, runs of the
versions alternating so that a busy machine slows both alike, and prints each run and the median.

    python benchmarks/startup.py                        # this checkout's src/
    python benchmarks/startup.py --other /tmp/old/src   # and another checkout's, alternating
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def once(src: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ganforge", "--help"], env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5, help="runs of each version (default 5)")
    p.add_argument("--other", type=Path, help="another checkout's src/ to time alternately (e.g. an older commit)")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error(f"--runs must be at least 1, got {args.runs}")
    versions = {"this": SRC, **({"other": args.other} if args.other else {})}
    times: dict[str, list[float]] = {name: [] for name in versions}
    for _ in range(args.runs):
        for name, src in versions.items():
            times[name].append(once(src))
    for name, ts in times.items():
        print(f"{name} ({versions[name]}): {', '.join(f'{t:.2f}' for t in sorted(ts))} s; "
              f"median {statistics.median(ts):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
