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


# The timed child: ``ganforge --help`` as ``python -m ganforge`` runs it, then the file it imported, so a
# PYTHONPATH that does not reach the checkout (an installed ganforge imported instead) is caught, not timed.
CHILD = "import runpy, sys, ganforge; sys.argv = ['ganforge', '--help']\n" \
        "try:\n    runpy.run_module('ganforge', run_name='__main__')\n" \
        "except SystemExit:\n    pass\nprint('GANFORGE_FILE=' + ganforge.__file__)"


def once(src: Path) -> float:
    """Seconds of one fresh ``ganforge --help`` process importing ganforge from ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - t0
    imported = Path(out.rsplit("GANFORGE_FILE=", 1)[-1].strip()).resolve()
    if not imported.is_relative_to(src.resolve()):
        print(f"startup.py: error: PYTHONPATH={src} imported ganforge from {imported}, not from {src}; "
              "pass a checkout's src/ folder", file=sys.stderr)
        raise SystemExit(2)
    return seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5, help="runs of each version (default 5)")
    p.add_argument("--other", type=Path, help="another checkout's src/ to time alternately (e.g. an older commit)")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error(f"--runs must be at least 1, got {args.runs}")
    if args.other and not (args.other / "ganforge" / "__init__.py").exists():
        p.error(f"--other {args.other} holds no ganforge/__init__.py: pass the other checkout's src/ folder "
                "(e.g. /tmp/old/src)")
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
