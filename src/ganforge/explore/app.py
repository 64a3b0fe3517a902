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

import asyncio
import base64
import contextlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import torch
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ganforge import capabilities as cap
from ganforge.errors import GanforgeError
from ganforge.explore.live import LiveTraining
from ganforge.runs import checkpoint as ckpt
from ganforge.runs.run import Run, load_run

STATIC = Path(__file__).parent / "static"
MAX_SEEDS = 64  # images in one grid request
MAX_STEPS = 16  # images in one interpolation strip
OPEN_RUNS = 4  # (run, checkpoint) pairs kept open: switching back is instant, memory stays bounded
CURVE_POINTS = 400  # points per curve sent to the page (stats.jsonl may hold 100k lines)


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Runs:
    """The command line's runs, opened lazily, a few (run, checkpoint) pairs at a time."""

    def __init__(self, paths: list[Path], device: torch.device):
        self.paths, self.device = paths, device
        self.open: OrderedDict[tuple[int, str], Run] = OrderedDict()
        self.lock = threading.Lock()

    def path(self, rid: int) -> Path:
        if not 0 <= rid < len(self.paths):
            raise Refused(404, f"no run {rid}: this explorer has runs 0..{len(self.paths) - 1}")
        return self.paths[rid]

    def checkpoints(self, rid: int) -> list[str]:
        root = self.path(rid) / "checkpoints"
        names = [p.name for p in ckpt.list_checkpoints(root)]
        return names + (["best"] if (root / "best" / "manifest.json").exists() else [])

    def get(self, rid: int, name: str | None) -> Run:
        names = self.checkpoints(rid)
        if not names:
            raise Refused(404, f"run {rid} has no checkpoint yet")
        name = name or names[-1 if names[-1] != "best" else -2 if len(names) > 1 else -1]
        if name not in names:
            raise Refused(404, f"run {rid} has no checkpoint '{name[:40]}'; it has {', '.join(names[-5:])}")
        key = (rid, name)
        with self.lock:
            if key not in self.open:
                self.open[key] = load_run(self.path(rid), self.path(rid) / "checkpoints" / name, device=self.device)
                if len(self.open) > OPEN_RUNS:
                    self.open.popitem(last=False)
            self.open.move_to_end(key)
            return self.open[key]

    def summary(self, rid: int) -> dict[str, Any]:
        names = self.checkpoints(rid)
        entry: dict[str, Any] = {"id": rid, "name": self.path(rid).name, "checkpoints": names}
        if names:
            run = self.get(rid, None)
            entry.update(recipe=run.config.recipe, step=run.step, num_classes=run.num_classes,
                         capabilities=sorted(cap.capabilities_of(run.model)),
                         z_dist=run.config.model.z_dist)
        return entry


def _int(request: Request, key: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Refused(422, f"{key} must be an integer, got '{raw[:20]}'") from None
    if not lo <= value <= hi:
        raise Refused(422, f"{key} must be in {lo}..{hi}, got {value}")
    return value


def _options(request: Request, run: Run) -> dict[str, Any]:
    caps = cap.capabilities_of(run.model)
    options: dict[str, Any] = {}
    raw = request.query_params.get("truncation", "")
    if raw not in ("", "off"):
        try:
            t = float(raw)
        except ValueError:
            raise Refused(422, f"truncation must be a number, got '{raw[:20]}'") from None
        if cap.TRUNCATION in caps and math.isfinite(t):
            options["truncation"] = t
    if cap.CLASSES in caps and request.query_params.get("class", "") != "":
        options["classes"] = _int(request, "class", 0, 0, (run.num_classes or 1) - 1)
    return options


def _encode(images) -> dict[str, Any]:
    return {"shape": list(images.shape[1:]), "dtype": str(images.dtype),
            "images": [base64.b64encode(x.tobytes()).decode() for x in images]}


def _render(run: Run, latents: dict[str, torch.Tensor]) -> dict[str, Any]:
    return _encode(run.model.render(latents))


def _generating(runs: Runs, request: Request) -> Run:
    rid = int(request.path_params["rid"])
    run = runs.get(rid, request.query_params.get("checkpoint") or None)
    if cap.GENERATE not in cap.capabilities_of(run.model) or not isinstance(run.model, cap.Generates):
        raise Refused(404, str(cap.refusal(run.model, cap.GENERATE, run=run.path.name, recipe=run.config.recipe,
                                           doing="draw samples")))
    return run


async def samples(request: Request) -> Response:
    runs: Runs = request.app.state.runs
    run = _generating(runs, request)
    raw = request.query_params.get("seeds", "0")
    try:
        seeds = [int(s) for s in raw.split(",") if s != ""]
    except ValueError:
        raise Refused(422, f"seeds must be integers separated by commas, got '{raw[:40]}'") from None
    if not 1 <= len(seeds) <= MAX_SEEDS or any(not 0 <= s < 2**63 for s in seeds):
        raise Refused(422, f"give 1..{MAX_SEEDS} seeds, each in 0..2^63-1")
    options = _options(request, run)

    def work() -> dict[str, Any]:
        with runs.lock:
            parts = [run.model.latents(1, s, device=run.device, **options) for s in seeds]
            batch = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
            return {"seeds": seeds, "step": run.step, **_render(run, batch)}
    return JSONResponse(await _thread(work))


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
    run = _generating(runs, request)
    a, b = _int(request, "a", 0, 0, 2**63 - 1), _int(request, "b", 1, 0, 2**63 - 1)
    steps = _int(request, "steps", 8, 2, MAX_STEPS)
    options = _options(request, run)
    spherical = run.config.model.z_dist == "normal"

    def work() -> dict[str, Any]:
        with runs.lock:
            la = run.model.latents(1, a, device=run.device, **options)
            lb = run.model.latents(1, b, device=run.device, **options)
            ts = [i / (steps - 1) for i in range(steps)]
            batch = {}
            for k in la:
                if la[k].is_floating_point():
                    mix = slerp if spherical and k == "z" else torch.lerp
                    batch[k] = torch.cat([mix(la[k], lb[k], t) for t in ts])
                else:  # labels: the class of seed a (or the picked class) throughout
                    batch[k] = la[k].repeat(steps, *([1] * (la[k].dim() - 1)))
            return {"a": a, "b": b, "t": ts, "path": "slerp" if spherical else "lerp", **_render(run, batch)}
    return JSONResponse(await _thread(work))


async def stats(request: Request) -> Response:
    runs: Runs = request.app.state.runs
    path = runs.path(int(request.path_params["rid"])) / "stats.jsonl"
    curves: dict[str, list[list[float]]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                step = row.get("step")
                for k, v in row.items():
                    if k != "step" and isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                        curves.setdefault(k, []).append([step, v])
    for k, pts in curves.items():
        stride = max(1, len(pts) // CURVE_POINTS)
        curves[k] = pts[::stride]
    return JSONResponse({"curves": curves})


async def run_list(request: Request) -> Response:
    runs: Runs = request.app.state.runs
    return JSONResponse({"runs": [await _thread(runs.summary, i) for i in range(len(runs.paths))]})


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def _thread(fn, *args):
    try:
        return await asyncio.to_thread(fn, *args)
    except GanforgeError as e:
        raise Refused(422, str(e)) from None


async def _refused(request: Request, e: Refused) -> Response:
    return JSONResponse({"error": e.message}, status_code=e.status)


async def _http_error(request: Request, e: HTTPException) -> Response:
    return JSONResponse({"error": f"{e.detail}: {request.method} {request.url.path[:100]}"}, status_code=e.status_code)


def build_app(paths: list[Path], device: str | torch.device = "cpu") -> Starlette:
    """The explorer over ``paths`` (run directories; none: the live 2D view alone)."""
    live = LiveTraining()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await live.close()

    routes = [Route("/", index), Route("/api/runs", run_list),
              Route("/api/runs/{rid:int}/samples", samples), Route("/api/runs/{rid:int}/interpolate", interpolate),
              Route("/api/runs/{rid:int}/stats", stats),
              Route("/api/live", live.control, methods=["GET", "POST"]), Route("/api/live/stream", live.stream),
              Mount("/static", app=StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, exception_handlers={Refused: _refused, HTTPException: _http_error},
                    lifespan=lifespan)
    app.state.runs = Runs([Path(p) for p in paths], torch.device(device))
    return app
