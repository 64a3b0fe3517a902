"""``ganforge explore``'s web app: the runs named on the command line, looked at in a browser.

Runs are addressed by their position in the command line's list (``/api/runs/0/...``) and
checkpoints by a name from that run's own list (``step-0001000``, ``best``): no request names a
path, so none can reach a file the user did not hand over. Every asset is in the package
(``explore/static``, plain JS and canvas): the page makes no request off this server, so it works
offline and leaks nothing.

Samples come through the run's declared ``generate`` capability, one seed per image
(``latents(1, seed)``): the image shown under a seed is ``ganforge sample RUN --n 1 --seed S``.
Images travel as base64 of their raw uint8 (C, H, W) bytes, which the page puts on a canvas
as they are: no image codec on either side, so the pixels the tests read are the model's.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import torch
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ganforge import run_stats
from ganforge.explore import apps, panels
from ganforge.explore.live import LiveTraining, on_exit_signals
from ganforge.explore.runs import Refused, Runs, generating, held_labels, in_thread, int_param, options, render
from ganforge.serve.app import Backstop, http_error
from ganforge.serve.requests import ApiError

STATIC = Path(__file__).parent / "static"
MAX_SEEDS = 64  # images in one grid request
MAX_STEPS = 16  # images in one interpolation strip
CURVE_POINTS = 400  # points per curve sent to the page (stats.jsonl may hold 100k lines)


async def samples(request: Request) -> Response:
    runs: Runs = request.app.state.runs
    run = generating(runs, request)
    raw = request.query_params.get("seeds", "0")
    try:
        seeds = [int(s) for s in raw.split(",") if s != ""]
    except ValueError:
        raise Refused(422, f"seeds must be integers separated by commas, got '{raw[:40]}'") from None
    if not 1 <= len(seeds) <= MAX_SEEDS or any(not 0 <= s < 2**63 for s in seeds):
        raise Refused(422, f"give 1..{MAX_SEEDS} seeds, each in 0..2^63-1")
    opts = options(request, run)

    def work() -> dict[str, Any]:
        with runs.lock:
            parts = [run.model.latents(1, s, device=run.device, **opts) for s in seeds]
            batch = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
            return {"seeds": seeds, "step": run.step, **render(run, batch)}
    return JSONResponse(await in_thread(work))


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation (for Gaussian z, whose mass sits on a shell: a straight line cuts inside it)."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.arccos((an * bn).sum(-1, keepdim=True).clamp(-1, 1))
    so = torch.sin(omega)
    if float(so.abs().min()) < 1e-6:
        return torch.lerp(a, b, t)
    return torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b


async def interpolate(request: Request) -> Response:
    runs: Runs = request.app.state.runs
    run = generating(runs, request)
    a, b = int_param(request, "a", 0, 0, 2**63 - 1), int_param(request, "b", 1, 0, 2**63 - 1)
    steps = int_param(request, "steps", 8, 2, MAX_STEPS)
    opts = options(request, run)
    gaussian = run.config.model.z_dist == "normal"

    def work() -> dict[str, Any]:
        with runs.lock:
            la = run.model.latents(1, a, device=run.device, **opts)
            lb = run.model.latents(1, b, device=run.device, **opts)
            ts = [i / (steps - 1) for i in range(steps)]
            batch, slerped = {}, False
            for k in la:
                if la[k].is_floating_point():
                    # only z itself is Gaussian: a style-based run's w (its "ws") is interpolated in a line
                    spherical = gaussian and k == "z"
                    slerped |= spherical
                    mix = slerp if spherical else torch.lerp
                    batch[k] = torch.cat([mix(la[k], lb[k], t) for t in ts])
                else:  # labels: the class of seed a (or the picked class) throughout
                    batch[k] = la[k].repeat(steps, *([1] * (la[k].dim() - 1)))
            # path: what was done to the latents the images come from, not what their z distribution suggests
            return {"a": a, "b": b, "t": ts, "path": "slerp" if slerped else "lerp", **held_labels(la, lb),
                    **render(run, batch)}
    return JSONResponse(await in_thread(work))


def read_curves(path: Path) -> dict[str, list[list[float]]]:
    """The curves of a ``stats.jsonl`` (its statistics, read by :mod:`ganforge.run_stats`, which skips
    a line ganforge could not have written: the rest of the file is still drawn), each thinned to about
    ``CURVE_POINTS`` points."""
    curves: dict[str, list[list[float]]] = {}
    for row in run_stats.records(path):
        for k, v in row.items():
            if k != "step" and run_stats.is_number(v):
                curves.setdefault(k, []).append([row["step"], v])
    for k, pts in curves.items():
        stride = max(1, len(pts) // CURVE_POINTS)
        curves[k] = pts[::stride]
    return curves


async def stats(request: Request) -> Response:
    runs: Runs = request.app.state.runs
    rid = int(request.path_params["rid"])
    await in_thread(runs.checkpoints, rid)  # a run whose directory has gone: its line, not an empty chart
    path = runs.path(rid) / "stats.jsonl"
    try:
        curves = await in_thread(read_curves, path)
    except OSError as e:  # unreadable (permissions, a directory named stats.jsonl): this run's line
        raise Refused(422, f"cannot read {path} ({e.strerror or e}); the other panels still work") from None
    return JSONResponse({"curves": curves})


async def run_list(request: Request) -> Response:
    runs: Runs = request.app.state.runs
    return JSONResponse({"runs": [await in_thread(runs.summary, i) for i in range(len(runs.paths))]})


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def favicon(request: Request) -> Response:
    """No icon: an empty answer, so the browser's own request for one is not a 404 in its console."""
    return Response(status_code=204, headers={"Cache-Control": "max-age=86400"})


async def _refused(request: Request, e: Refused) -> Response:
    return JSONResponse({"error": e.message}, status_code=e.status)


async def _api_error(request: Request, e: ApiError) -> Response:
    return JSONResponse({"error": e.message}, status_code=e.status)


async def _http_error(request: Request, e: HTTPException) -> Response:
    return http_error(request, e)


def build_app(paths: list[Path], device: str | torch.device = "cpu", truncation_centres: int | None = None,
              log: Callable[[str], None] | None = None) -> Starlette:
    """The explorer over ``paths`` (run directories; none: the live 2D view alone); with
    ``truncation_centres`` K, the style-based runs' K centres are fitted now (:meth:`Runs.fit_centres`,
    each announced through ``log``)."""
    runs = Runs([Path(p) for p in paths], torch.device(device), truncation_centres)
    runs.open_latest()
    runs.fit_centres(log)
    live = LiveTraining()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # uvicorn waits for every response before this shutdown runs, and a live stream never ends by
        # itself: its Ctrl-C (and SIGTERM) end the streams first, or they would hold the server up for good
        restore = on_exit_signals(live.end_streams)
        try:
            yield
        finally:
            restore()
            await live.close()

    routes = [Route("/", index), Route("/favicon.ico", favicon), Route("/api/runs", run_list),
              Route("/api/runs/{rid:int}/samples", samples), Route("/api/runs/{rid:int}/interpolate", interpolate),
              Route("/api/runs/{rid:int}/stats", stats), *panels.ROUTES, *apps.ROUTES,
              Route("/api/live", live.control, methods=["GET", "POST"]), Route("/api/live/stream", live.stream),
              Mount("/static", app=StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, exception_handlers={Refused: _refused, ApiError: _api_error,
                                                       HTTPException: _http_error},
                    middleware=[Middleware(Backstop, name="explore")], lifespan=lifespan)
    app.state.runs = runs
    return app
