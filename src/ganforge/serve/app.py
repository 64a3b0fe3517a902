"""The image API over one opened run: the Starlette application ``ganforge serve`` runs under uvicorn.

Endpoints (the OpenAPI schema at ``/openapi.json`` lists the ones this run has):

- ``GET /health`` (``{"status": "ok", "in_flight": N}``, N the other requests being answered), ``GET
  /v1/info`` (the run, its declared capabilities, the server's limits);
- ``POST /v1/generate`` ``{n, seed, truncation, class, format, truncation_centres}``: a PNG grid or a
  uint8 ``.npy`` (``format``, or ``Accept: application/x-npy``), through the batcher (:mod:`.batching`);
  ``truncation_centres`` only as the K the server fitted at start (``serve --truncation-centres K``),
  since a fit takes far longer than a request should;
- ``POST /v1/translate?direction=AB``, ``/v1/upscale``, ``/v1/score``: a PNG or JPEG body, where
  the run declares ``translate``, ``upscale`` or ``score``.

What a run can do comes from its model's declaration (:mod:`ganforge.capabilities`); an endpoint
it lacks answers 404 with the line naming what it offers. Every refusal is ``{"error": one line}``
with a 4xx status; the model runs in a worker thread behind one lock, so a request never waits
on another's Python code and the CPU is not oversubscribed. No request names a file: the run is
fixed when the server starts, uploads stay in memory and nothing from a request is unpickled.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sys
import threading
import traceback
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ganforge import capabilities as cap
from ganforge.anomaly.scoring import scorer
from ganforge.errors import GanforgeError
from ganforge.recipes.truncation_centres import check_centres
from ganforge.runs.run import Run
from ganforge.serve import images
from ganforge.serve.batching import Batcher
from ganforge.serve.openapi import schema
from ganforge.serve.requests import (ApiError, Limits, check_query, direction, parse_generate, read_body,
                                     to_json_error)
from ganforge.upscaling import Stopped, tiled

UPSCALE_TILE = 128  # LR pixels a side per tile: bounds the activations an upload can make the server hold
ENDPOINTS = (cap.GENERATE, cap.TRANSLATE, cap.UPSCALE, cap.SCORE)  # what a run needs one of to be served


def check_truncation_centres(run: Run, k: int) -> None:
    """One line unless ``run`` can fit ``k`` truncation centres (checked before minutes of fitting start)."""
    if cap.TRUNCATION_CENTRES not in cap.capabilities_of(run.model):
        line = cap.refusal(run.model, cap.TRUNCATION_CENTRES, run=str(run.path), recipe=run.config.recipe,
                           doing="fit truncation centres", command_hint=False)  # a sampling hint is beside the point
        raise GanforgeError(f"{line}; only style-based runs (StyleGAN2) have a style space to fit them in: "
                            f"leave --truncation-centres out")
    check_centres(k)


class ServedRun:
    """One run, opened once, with the lock its networks are used under, the generate batcher and the
    truncation centres fitted before the first request (``centres`` K, or None)."""

    def __init__(self, run: Run, limits: Limits, centres: int | None = None):
        self.run, self.limits, self.centres = run, limits, centres
        self.model = run.model
        self.caps = cap.capabilities_of(self.model)
        if not self.caps & set(ENDPOINTS) or (self.caps & set(ENDPOINTS) == {cap.GENERATE}
                                              and not isinstance(self.model, cap.Generates)):
            raise cap.refusal(self.model, cap.GENERATE, run=str(run.path), recipe=run.config.recipe,
                              doing="be served (the API generates, translates, upscales and scores images)")
        if centres is not None:
            check_truncation_centres(run, centres)
            self.model.truncation_centres(centres, run.device)  # cached by the model: every request reuses it
        self.lock = threading.Lock()
        self.batcher = Batcher(self.model.render, limits.max_batch, self.lock) if cap.GENERATE in self.caps and \
            isinstance(self.model, cap.Generates) else None
        ctx = run.state.get("net_context") or {}
        self.shape = tuple(ctx.get("data_shape") or ())
        self.points = cap.TOY2D in self.caps
        self.min_truncation = cap.least_truncation(self.model)
        self.in_flight = 0  # requests being answered, /health aside (counted by InFlight)

    def info(self) -> dict[str, Any]:
        return {"run": self.run.path.name, "recipe": self.run.config.recipe, "step": self.run.step,
                "checkpoint": self.run.checkpoint.name, "capabilities": sorted(self.caps),
                "sample_shape": list(self.shape),
                # the classes a request's 'class' may name: null where the run takes no class (the data's
                # classes of an unconditional run are no option of this API)
                "num_classes": self.run.num_classes if cap.CLASSES in self.caps else None,
                "truncation_centres": self.centres,
                "limits": {"max_n": self.limits.max_n, "max_batch": self.limits.max_batch,
                           "max_body_bytes": self.limits.max_body, "max_pixels": self.limits.max_pixels}}

    def need(self, wanted: str, doing: str) -> None:
        if wanted not in self.caps or (wanted == cap.GENERATE and self.batcher is None):
            raise ApiError(404, str(cap.refusal(self.model, wanted, run=self.run.path.name,
                                                recipe=self.run.config.recipe, doing=doing, command_hint=False)))

    async def locked(self, fn: Callable[[], Any]) -> Any:
        def call() -> Any:
            with self.lock:
                return fn()
        return await asyncio.to_thread(call)


async def _generate(request: Request) -> Response:
    s: ServedRun = request.app.state.served
    s.need(cap.GENERATE, "generate images")
    check_query(request)
    ask = parse_generate(await read_body(request, s.limits.max_body), request.headers.get("accept", ""), s.limits,
                         "npy" if s.points else "png", s.min_truncation)
    if ask.classes is not None:
        s.need(cap.CLASSES, "take a class")
    if ask.truncation is not None:
        s.need(cap.TRUNCATION, "take a truncation")
    if ask.truncation_centres is not None:
        s.need(cap.TRUNCATION_CENTRES, "take truncation centres")
        if ask.truncation_centres != s.centres:
            fitted = f"fitted {s.centres}, so send 'truncation_centres': {s.centres}" if s.centres else "fitted none"
            raise ApiError(422, f"this server has no {ask.truncation_centres} truncation centres (it {fitted}); "
                                f"a fit takes minutes, so it happens at start: ganforge serve RUN "
                                f"--truncation-centres {ask.truncation_centres}")
    if not s.points and len(s.shape) == 3 and ask.n * s.shape[1] * s.shape[2] > s.limits.max_pixels:
        raise ApiError(413, f"{ask.n} images of {s.shape[1]}x{s.shape[2]} are over this server's limit of "
                            f"{s.limits.max_pixels} pixels; ask for fewer")
    if s.points and ask.format == "png":
        raise ApiError(422, "this run draws 2D points, not images; ask for \"format\": \"npy\"")
    kwargs = {k: v for k, v in (("classes", ask.classes), ("truncation", ask.truncation),
                                ("truncation_centres", ask.truncation_centres)) if v is not None}
    try:
        latents = s.model.latents(ask.n, ask.seed, device=s.run.device, **kwargs)
    except GanforgeError as e:
        raise ApiError(422, _request_words(str(e))) from None
    out = await s.batcher.run(latents)
    headers = {"X-Ganforge-Step": str(s.run.step), "X-Ganforge-Seed": str(ask.seed)}
    if ask.format == "npy":
        return Response(images.npy(out), media_type="application/x-npy", headers=headers)
    return Response(await asyncio.to_thread(lambda: images.png(images.grid(out))), media_type="image/png",
                    headers=headers)


def _request_words(line: str) -> str:
    """A model's refusal in the request's field names rather than the CLI's flags."""
    for flag, field in (("--truncation-centres", "truncation_centres"), ("--truncation", "truncation"),
                        ("--class", "class")):
        line = line.replace(flag, field)
    return line


async def _upload(request: Request, s: ServedRun, channels: int | None) -> np.ndarray:
    if request.url.path != "/v1/translate":  # translate's direction is checked by direction()
        check_query(request)
    data = await read_body(request, s.limits.max_body)
    try:
        return await asyncio.to_thread(images.decode_upload, data, channels, s.limits.max_pixels)
    except images.UploadError as e:
        raise ApiError(e.status, str(e)) from None


async def _translate(request: Request) -> Response:
    s: ServedRun = request.app.state.served
    s.need(cap.TRANSLATE, "translate images")
    d = direction(request)
    if d not in s.model.directions:
        raise ApiError(422, f"this run translates {' and '.join(s.model.directions)} only, not {d}")
    x = await _upload(request, s, s.model.input_channels(d))
    try:
        y = await s.locked(lambda: s.model.translate(x[None], d, device=s.run.device)[0])
    except GanforgeError as e:
        raise ApiError(422, str(e)) from None
    return Response(images.chw_png(y), media_type="image/png")


async def _upscale(request: Request) -> Response:
    s: ServedRun = request.app.state.served
    s.need(cap.UPSCALE, "upscale images")
    x = await _upload(request, s, s.model.channels)
    lr = torch.from_numpy(x[None]).to(s.run.device).float() / 255.0
    gone = threading.Event()  # set when the client hangs up: a large upload is minutes of tiles
    watcher = asyncio.create_task(_watch_disconnect(request, gone))
    try:
        sr = await s.locked(lambda: tiled(s.model.upscale, lr, s.model.scale, UPSCALE_TILE, s.model.receptive_radius,
                                          stop=gone.is_set))
    except Stopped:
        raise ApiError(400, "the client closed the connection; the upscale was stopped") from None
    finally:
        watcher.cancel()
    return Response(images.chw_png(sr[0].numpy()), media_type="image/png", headers={"X-Ganforge-Scale":
                                                                                    str(s.model.scale)})


async def _watch_disconnect(request: Request, gone: threading.Event) -> None:
    """Set ``gone`` when the client disconnects. The body has been read, so the next ASGI message is the
    disconnect (cancelled once the answer is ready)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    gone.set()


async def _score(request: Request) -> Response:
    s: ServedRun = request.app.state.served
    s.need(cap.SCORE, "score anomalies")
    x = await _upload(request, s, s.shape[0] if s.shape else None)
    try:
        method = scorer(s.run)
        result = await s.locked(lambda: method.score(x[None], where="the upload"))
    except GanforgeError as e:
        raise ApiError(422, str(e)) from None
    residual = (result.residual[0] * 255).round().astype(np.uint8)[None]
    return JSONResponse({"score": float(result.score[0]), "method": method.method,
                         "residual_png_base64": base64.b64encode(images.chw_png(residual)).decode()})


class Backstop:
    """ASGI middleware, outermost: an exception no handler turned into a refusal (a bug in ganforge, never
    the client's input, which :mod:`.requests` checks) is answered as one JSON line with status 500, and
    logged as one line on stderr naming the request, the exception and where it was raised; no traceback
    is printed (uvicorn would print one for an exception that reached it). A response already under way
    cannot be replaced: it is cut off, and the line is logged all the same."""

    def __init__(self, app: ASGIApp, name: str = "serve"):
        self.app, self.name = app, name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)
        try:
            await self.app(scope, receive, watch)
        except Exception as e:  # noqa: BLE001 - the backstop: whatever it was, one line each side
            where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
            at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
            what = (str(e).splitlines() or [""])[0][:200]
            print(f"ganforge {self.name}: internal error answering {scope.get('method', '')} "
                  f"{scope.get('path', '')[:100]}: {type(e).__name__}: {what}{at}", file=sys.stderr, flush=True)
            if not started:
                await JSONResponse({"error": f"internal error ({type(e).__name__}); the server's log has the line, "
                                             f"please report it"}, status_code=500)(scope, receive, send)


class InFlight:
    """ASGI middleware that counts the requests being answered into ``served.in_flight``, which
    ``/health`` reports: whoever is about to stop or drain the server (a load balancer, the SIGTERM
    test) can see that work is in progress. Runs in the event loop's thread, so the count needs no lock."""

    def __init__(self, app: ASGIApp, served: ServedRun):
        self.app, self.served = app, served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/health":
            await self.app(scope, receive, send)
            return
        self.served.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.served.in_flight -= 1


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "in_flight": request.app.state.served.in_flight})


async def _info(request: Request) -> Response:
    return JSONResponse(request.app.state.served.info())


async def _openapi(request: Request) -> Response:
    served = request.app.state.served
    return JSONResponse(schema(served.caps, served.limits, served.centres, served.min_truncation,
                               served.shape, served.run.num_classes,
                               tuple(served.model.directions) if cap.TRANSLATE in served.caps else ()))


async def _api_error(request: Request, e: ApiError) -> Response:
    return JSONResponse(to_json_error(e), status_code=e.status)


async def _http_error(request: Request, e: HTTPException) -> Response:
    return http_error(request, e)


def http_error(request: Request, e: HTTPException) -> Response:
    """Starlette's own refusals (404 no route, 405 wrong method) as one JSON line, keeping their headers
    (405's ``Allow``), and naming the method to use."""
    allow = (e.headers or {}).get("Allow")
    use = f"; use {allow}" if allow else ""
    return JSONResponse({"error": f"{e.detail}: {request.method} {request.url.path[:100]}{use}"},
                        status_code=e.status_code, headers=e.headers)


def build_app(run: Run, limits: Limits = Limits(), truncation_centres: int | None = None) -> Starlette:
    """The API over ``run`` (opened by :func:`ganforge.runs.run.load_run`) within ``limits``; with
    ``truncation_centres`` K, the run's K centres are fitted now (:mod:`ganforge.recipes.truncation_centres`)."""
    served = ServedRun(run, limits, truncation_centres)
    routes = [Route("/health", _health), Route("/v1/info", _info), Route("/openapi.json", _openapi),
              Route("/v1/generate", _generate, methods=["POST"]), Route("/v1/translate", _translate, methods=["POST"]),
              Route("/v1/upscale", _upscale, methods=["POST"]), Route("/v1/score", _score, methods=["POST"])]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if served.batcher is not None:
            await served.batcher.close()

    app = Starlette(routes=routes, exception_handlers={ApiError: _api_error, HTTPException: _http_error},
                    middleware=[Middleware(Backstop), Middleware(InFlight, served=served)], lifespan=lifespan)
    app.state.served = served
    return app
