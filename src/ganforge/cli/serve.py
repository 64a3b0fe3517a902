"""``ganforge serve``: one trained run as an HTTP image API (:mod:`ganforge.serve`), under uvicorn.

Binds 127.0.0.1 unless told otherwise, and says so in one warning line when told otherwise: the
API has no authentication, and a GAN's forward pass is cheap to ask for and dear to compute.
SIGTERM and Ctrl-C stop accepting connections, let the requests in flight finish (uvicorn's
graceful shutdown) and end with the shell's codes, 143 and 130.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys

import uvicorn

from ganforge.cli import options
from ganforge.cli.help import examples
from ganforge.errors import GanforgeError, warn
from ganforge.serve.app import build_app, check_truncation_centres
from ganforge.serve.requests import Limits

LOOPBACK = ("127.0.0.1", "localhost", "::1")
GRACE_S = 30  # seconds in-flight requests get to finish after SIGTERM before connections are closed


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = Limits()
    s = sub.add_parser("serve", help="serve a trained run as an HTTP image API (generate, translate, upscale, score)",
                       **examples("ganforge serve runs/dcgan-digits --port 8000",
                                  "ganforge serve runs/sr-x4 --max-pixels 4000000   # larger uploads to upscale",
                                  "ganforge serve runs/stylegan2 --truncation-centres 64   # then {\"truncation\": 0.5, "
                                  "\"truncation_centres\": 64}"))
    options.run_dir(s)
    s.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--max-batch", type=int, default=d.max_batch,
                   help=f"samples in one batched forward pass (default {d.max_batch}; 1 = no batching)")
    s.add_argument("--max-n", type=int, default=d.max_n, help=f"images in one request (default {d.max_n})")
    s.add_argument("--max-body", type=int, default=d.max_body, help=f"request body bytes (default {d.max_body})")
    s.add_argument("--max-pixels", type=int, default=d.max_pixels,
                   help=f"pixels of an upload or of one request's images (default {d.max_pixels})")
    s.add_argument("--truncation-centres", type=int, metavar="K",
                   help="style-based runs: fit K truncation centres before serving (minutes on a CPU), so that "
                        "a request may send truncation_centres K with its truncation psi (docs/serve.md)")
    options.checkpoint(s)
    options.device(s)
    s.set_defaults(func=run, on_interrupt="the requests in flight were answered first")


def limits(args: argparse.Namespace) -> Limits:
    for flag, value in (("--max-batch", args.max_batch), ("--max-n", args.max_n), ("--max-body", args.max_body),
                        ("--max-pixels", args.max_pixels)):
        if value < 1:
            raise GanforgeError(f"{flag} must be a positive number, got {value}")
    return Limits(max_n=args.max_n, max_batch=args.max_batch, max_body=args.max_body, max_pixels=args.max_pixels)


def check_bind(host: str, port: int) -> None:
    """One line for a bad port, before the run is opened (the host is checked by binding it, :func:`bind`)."""
    if not host.strip():
        raise GanforgeError("--host is empty; give an address to bind, such as 127.0.0.1 (this machine only)")
    if not 0 <= port <= 65535:
        raise GanforgeError(f"--port must be in 0..65535, got {port}")


def bind(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything says it is serving: a port in use or a host that does
    not resolve is one line here, not uvicorn's log and exit code 3 after a "serving" line. Port 0 binds
    a free port, which :func:`url` then names. An address other machines can reach gets one warning line,
    once it is bound (a host that cannot be bound is the one line of the error alone)."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise GanforgeError(f"--host {host} is not an address of this machine ({e.strerror}); "
                            f"use 127.0.0.1, or this machine's own address") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart reuses the port
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRNOTAVAIL:  # an address, but none of this machine's
            raise GanforgeError(f"--host {host} is not an address of this machine ({e.strerror}); "
                                f"use 127.0.0.1, or this machine's own address") from None
        raise GanforgeError(f"cannot listen on {host}:{port} ({e.strerror}); pick another --port "
                            f"(or --port 0 for any free one)") from None
    if host not in LOOPBACK:
        warn(f"binding {host}: other machines can reach this server, which has no "
             f"authentication; use --host 127.0.0.1 unless you mean it")
    return sock


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run(args: argparse.Namespace) -> int:
    bounds = limits(args)
    check_bind(args.host, args.port)
    opened = options.open_run(args)
    if args.truncation_centres is not None:
        check_truncation_centres(opened, args.truncation_centres)
    sock = bind(args.host, args.port)  # before minutes of fitting, which a port in use would waste
    if args.truncation_centres is not None:
        print(f"ganforge: fitting {args.truncation_centres} truncation centres of {args.run_dir} before serving",
              file=sys.stderr)
    app = build_app(opened, bounds, args.truncation_centres)
    print(f"ganforge: serving {args.run_dir} (step {opened.step}) on {url(sock)}", file=sys.stderr)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=GRACE_S)).run(sockets=[sock])
    return 0
