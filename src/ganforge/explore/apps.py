"""The explorer's application panels, as the run's capabilities allow: translate, upscale, anomaly score.

Each panel takes one image: either a held-out test image of the run's own data, picked by its
index (``/inputs`` lists the first few), or an upload sent as the request body. An upload is
handled exactly as ``ganforge serve`` handles one (:func:`ganforge.serve.images.decode_upload`):
bytes in memory only, a body over :data:`MAX_UPLOAD_BYTES` refused unread, PNG or JPEG only, and
the pixel count checked from the header before anything is decoded (decompression bombs), so
no request names a file and nothing from one is unpickled.

- **translate**: the input and the run's translation in the chosen direction;
- **upscale**: the low-resolution input, bicubic, and the model's output (a test image is first
  shrunk by the run's scale, so its original is shown too); the page compares them with a slider;
- **score**: the anomaly score by the run's own method and the residual map laid over the image
  (:func:`ganforge.anomaly.maps.overlay`, the picture ``ganforge anomaly score --maps`` saves).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import torch
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ganforge import capabilities as cap
from ganforge.anomaly.maps import overlay
from ganforge.anomaly.scoring import scorer
from ganforge.data import superres
from ganforge.errors import DataError
from ganforge.explore.runs import Refused, Runs, encode, in_thread, int_param, lacks
from ganforge.runs.run import Run
from ganforge.serve.images import UploadError, decode_upload
from ganforge.serve.requests import read_body
from ganforge.synthetic.sources import reference_split, training_data
from ganforge.upscaling import tiled

MAX_UPLOAD_BYTES = 4 * 2**20  # a PNG or JPEG a person picks by hand; far over any test image's size
MAX_UPLOAD_PIXELS = 2**20  # 1 megapixel: an upscale of it by 4 is already 16 Mpx of activations on a CPU
INPUTS_SHOWN = 16  # test images offered in a panel's picker
UPSCALE_TILE = 128  # LR pixels a side per tile: bounds the activations one upload can make
TASKS = {"translate": cap.TRANSLATE, "upscale": cap.UPSCALE, "score": cap.SCORE}
DOING = {"translate": "translate images", "upscale": "upscale images", "score": "score anomalies"}


def _task(runs: Runs, request: Request) -> tuple[Run, str]:
    task = request.path_params["task"]
    if task not in TASKS:
        raise Refused(404, f"no panel '{task[:20]}': the panels are {', '.join(TASKS)}")
    run = runs.get(int(request.path_params["rid"]), request.query_params.get("checkpoint") or None)
    if TASKS[task] not in cap.capabilities_of(run.model):
        raise lacks(run, TASKS[task], DOING[task])
    return run, task


def _direction(request: Request, run: Run) -> str:
    d = request.query_params.get("direction") or "AB"
    if d not in run.model.directions:
        raise Refused(422, f"this run translates {' and '.join(run.model.directions)} only, not {d[:10]}")
    return d


def held_out_images(run: Run, task: str, direction: str) -> np.ndarray:
    """uint8 (N, C, H, W): held-out images the panel offers (the training split where there is none)."""
    if task == "translate":
        data = run.model.heldout()
        return (data.x if direction == "AB" else data.b.x).numpy()
    try:
        data = reference_split(run, "test")
    except DataError:
        data = training_data(run)
    if data.kind != "image":
        raise Refused(404, "this run's data are not images")
    return data.x.numpy()


def _inputs(runs: Runs, rid: int, run: Run, task: str, direction: str) -> np.ndarray:
    return runs.cached((rid, "inputs", task, direction), lambda: held_out_images(run, task, direction)[:INPUTS_SHOWN])


async def inputs(request: Request) -> Response:
    runs: Runs = request.app.state.runs
    run, task = _task(runs, request)
    direction = _direction(request, run) if task == "translate" else "AB"
    rid = int(request.path_params["rid"])
    x = await in_thread(_inputs, runs, rid, run, task, direction)
    return JSONResponse({"task": task, "direction": direction, **encode(x)})


def _channels(run: Run, task: str, direction: str) -> int | None:
    if task == "translate":
        return run.model.input_channels(direction)
    if task == "upscale":
        return run.model.channels
    return int(run.state["net_context"]["data_shape"][0])


def _upscale(run: Run, x: np.ndarray, from_test: bool) -> dict[str, Any]:
    scale = run.model.scale
    hr = None
    img = torch.from_numpy(x[None]).float() / 255.0
    if from_test:  # a test image is the high-resolution truth: shrink it as the training pairs were made
        hr = torch.from_numpy(np.ascontiguousarray(superres.crop_to_multiple(x.transpose(1, 2, 0), scale)
                                                   .transpose(2, 0, 1))[None]).float() / 255.0
        img = superres.downsample(hr, scale)
    lr = img.to(run.device)
    sr = tiled(run.model.upscale, lr, scale, UPSCALE_TILE, run.model.receptive_radius)  # uint8, CPU
    out = {"scale": scale, "lr": encode(superres.to_uint8(lr.cpu()).numpy()),
           "bicubic": encode(superres.to_uint8(superres.bicubic_up(lr.cpu(), scale)).numpy()),
           "output": encode(sr.numpy())}  # tiled() gives uint8 already
    if hr is not None:
        out["original"] = encode(superres.to_uint8(hr).numpy())
    return out


def _score(run: Run, x: np.ndarray) -> dict[str, Any]:
    method = scorer(run)
    result = method.score(x[None], where="the image")
    return {"score": float(result.score[0]), "method": method.method,
            "residual_max": float(result.residual[0].max()),
            "overlay": encode(overlay(x, result.residual[0])[None])}


async def apply(request: Request) -> Response:
    runs: Runs = request.app.state.runs
    run, task = _task(runs, request)
    rid = int(request.path_params["rid"])
    direction = _direction(request, run) if task == "translate" else "AB"
    body = await read_body(request, MAX_UPLOAD_BYTES)
    from_test = not body
    if from_test:
        index = int_param(request, "index", 0, 0, INPUTS_SHOWN - 1)
        shown = await in_thread(_inputs, runs, rid, run, task, direction)
        if index >= len(shown):
            raise Refused(422, f"index must be in 0..{len(shown) - 1}: the run has {len(shown)} test images")
        x = np.ascontiguousarray(shown[index])
    else:
        try:
            x = await asyncio.to_thread(decode_upload, body, _channels(run, task, direction), MAX_UPLOAD_PIXELS)
        except UploadError as e:
            raise Refused(e.status, str(e)) from None

    def work() -> dict[str, Any]:
        with runs.lock:
            if task == "translate":
                done = {"output": encode(run.model.translate(x[None], direction, device=run.device))}
            elif task == "upscale":
                done = _upscale(run, x, from_test)
            else:
                done = _score(run, x)
        return {"task": task, "direction": direction, "source": "test" if from_test else "upload",
                "input": encode(x[None]), **done}
    return JSONResponse(await in_thread(work))


ROUTES = [Route("/api/runs/{rid:int}/apps/{task}/inputs", inputs),
          Route("/api/runs/{rid:int}/apps/{task}", apply, methods=["POST"])]
