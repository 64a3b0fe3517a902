"""``ganforge explore``: look at runs in a browser, and watch a toy GAN train live (:mod:`ganforge.explore`).

Binds 127.0.0.1 unless told otherwise (with one warning line then, as ``serve`` does); runs are
the directories named here, addressed by position, so the page can open nothing else.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from ganforge.cli import options
from ganforge.cli.device import device_option
from ganforge.cli.help import examples
from ganforge.cli.serve import GRACE_S, bind, check_bind, url
from ganforge.errors import GanforgeError
from ganforge.explore.app import build_app
from ganforge.runs.rundir import read_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("explore", help="look at runs in the browser; watch a 2D GAN train live",
                       **examples("ganforge explore runs/dcgan-digits runs/cgan --port 8001",
                                  "ganforge explore runs/stylegan2 --truncation-centres 64   # psi towards 64 "
                                  "clusters",
                                  "ganforge explore   # the live 2D training view alone"))
    s.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="run directories written by `ganforge train`")
    s.add_argument("--port", type=int, default=8001, help="TCP port (default 8001)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--truncation-centres", type=int, metavar="K",
                   help="style-based runs: fit K truncation centres at start (a minute or more each on a CPU), "
                        "so the page's truncation can pull towards them (docs/explore.md)")
    options.device(s)
    s.set_defaults(func=run, on_interrupt="stopped")


def run(args: argparse.Namespace) -> int:
    check_bind(args.host, args.port)
    paths = [Path(p) for p in args.run_dirs]
    for p in paths:
        if not p.is_dir():
            raise GanforgeError(f"{p} is not a directory; give run directories written by `ganforge train`")
        read_config(p)  # one line now for a directory that is not a run, rather than an error in the page
    sock = bind(args.host, args.port)  # before the runs are opened and centres fitted (minutes, wasted on a
    # port in use)
    app = build_app(paths, device_option(args.device), args.truncation_centres,
                    log=lambda line: print(f"ganforge: {line}", file=sys.stderr, flush=True))
    print(f"ganforge: exploring {len(paths)} run(s) on {url(sock)}", file=sys.stderr)
    # the backstop of explore.live's signal hook: a response still open after GRACE_S is cut at Ctrl-C
    uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=GRACE_S)).run(sockets=[sock])
    return 0
