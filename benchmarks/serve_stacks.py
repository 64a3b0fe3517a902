"""Which HTTP stack under ``ganforge serve``: uvicorn's pure-Python one (h11 on asyncio) or its C one
(httptools on uvloop), measured on the same app with the same load as ``benchmarks/serve.py``.

uvicorn picks httptools and uvloop whenever they are installed, and ganforge's dependencies install
them; this script forces each stack in turn (a server started here, not through the CLI, which has no
such switch) so the two can be compared on one machine.

    python benchmarks/serve_stacks.py RUN_DIR --threads 1 2

``--warmup`` (seconds before each measured window, default 1.5 as serve.py's) can be cut to 0 for a quick
end-to-end check of the script (tests/test_benchmarks_serve_stacks.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys

from serve import free_port, load, wait_healthy

SERVER = """
import sys, uvicorn
from ganforge.runs.run import load_run
from ganforge.serve.app import build_app
from ganforge.serve.requests import Limits
app = build_app(load_run(sys.argv[1]), Limits(max_batch=int(sys.argv[2])))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), http=sys.argv[4], loop=sys.argv[5], log_level="warning")
"""
STACKS = (("h11", "asyncio"), ("httptools", "uvloop"))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="OMP_NUM_THREADS of the server")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 64])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.5, help="seconds of load before each measured window")
    args = p.parse_args(argv)
    for threads in args.threads:
        for http, loop in STACKS:
            for max_batch in (1, 64):
                port = free_port()
                server = subprocess.Popen([sys.executable, "-c", SERVER, args.run_dir, str(max_batch), str(port), http,
                                           loop], env={**os.environ, "OMP_NUM_THREADS": str(threads)},
                                          stderr=subprocess.PIPE, text=True)
                try:
                    url = wait_healthy(server, port)
                    for c in args.clients:
                        r = asyncio.run(load(url, c, args.seconds, args.warmup))
                        print(json.dumps({"http": http, "loop": loop, "threads": threads, "max_batch": max_batch,
                                          "load": round(os.getloadavg()[0], 1), **r}), flush=True)
                finally:
                    server.terminate()
                    server.wait(60)


if __name__ == "__main__":
    main()
