"""The explorer's latent-space panels: a 2D seed plane, style mixing, and the nearest training image.

- **Seed plane** (``/plane``): two seeds' latents as the axes of a plane through the model's
  mean latent ``o`` (zero for z; the tracked mean w of a style-based G, which is its psi = 0
  latent): the cell at (u, v) is ``o + u (l_A - o) + v (l_B - o)``. So (1, 0) is seed A's own
  sample and (0, 1) seed B's, (0, 0) the mean, and any cell is reproduced from (A, B, u, v)
  alone. Labels cannot be blended: every cell has the picked class, or seed A's when none is
  picked, so on a conditional run with no class (0, 1) is seed B's latent in A's class, seed B's
  own sample only when B draws that class too (``b_is_sample`` says which). A straight plane (not a
  sphere): for Gaussian z the cells off the unit circle u^2 + v^2 = 1 leave the shell where z's
  mass lies, which is part of what the plane shows.
- **Style mixing** (``/mix``): for a style-based run, rows of source seeds whose coarse styles
  (layers below ``layer``) are kept and columns of seeds whose fine styles (``layer`` and up)
  replace them; each cell is ``ganforge sample RUN --n 1 --seed ROW --mix-seed COL
  --mix-layer L``, drawn by the model's own ``sample_chunks``.
- **Nearest training image** (``/nearest``): a sample's nearest image in the run's training
  set, in pixels and in the dataset's judge's features, with the L2 distances, through
  :func:`ganforge.privacy.distances.nearest` (the privacy audit's own search). The training set
  and its features are computed once per run and kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ganforge import capabilities as cap
from ganforge.metrics.judges import default_judge, load_judge
from ganforge.privacy.distances import nearest, pixels
from ganforge.runs.run import Run
from ganforge.explore.runs import (Refused, Runs, encode, generating, held_labels, in_thread, int_param, lacks,
                                   options, render)
from ganforge.synthetic.sources import training_data

MAX_PLANE = 9  # cells a side of the seed plane (81 images: one forward pass of a small G)
MAX_SPAN = 3.0  # |u|, |v| at most this: beyond it even the plane's axes are far off the data's latents
MAX_MIX = 6  # rows (and columns) of the mixing table
SEED_MAX = 2**63 - 1


def _float(request: Request, key: str, default: float, lo: float, hi: float) -> float:
    raw = request.query_params.get(key, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise Refused(422, f"{key} must be a number, got '{raw[:20]}'") from None
    if not lo <= value <= hi:  # also refuses nan
        raise Refused(422, f"{key} must be in {lo}..{hi}, got {raw[:20]}")
    return value


def _seeds(request: Request, key: str, default: str, most: int) -> list[int]:
    raw = request.query_params.get(key) or default
    try:
        seeds = [int(s) for s in raw.split(",") if s != ""]
    except ValueError:
        raise Refused(422, f"{key} must be integers separated by commas, got '{raw[:40]}'") from None
    if not 1 <= len(seeds) <= most or any(not 0 <= s <= SEED_MAX for s in seeds):
        raise Refused(422, f"{key}: give 1..{most} seeds, each in 0..2^63-1")
    return seeds


def mean_latent(run: Run, like: torch.Tensor, style_based: bool) -> torch.Tensor:
    """The plane's origin: z's mean (zero), or a style-based G's tracked mean w (its psi = 0 styles)."""
    if style_based:
        return run.model.latents(1, 0, truncation=0.0, device=run.device)["ws"]
    return torch.zeros_like(like)


def plane_latents(run: Run, a: int, b: int, coords: list[tuple[float, float]], **opts: Any) -> dict[str, torch.Tensor]:
    """The latents of the plane's cells at ``coords`` (u, v): see the module docstring."""
    la = run.model.latents(1, a, device=run.device, **opts)
    lb = run.model.latents(1, b, device=run.device, **opts)
    style_based = cap.STYLE_MIX in cap.capabilities_of(run.model)
    out = {}
    for k in la:
        if la[k].is_floating_point():
            o = mean_latent(run, la[k], style_based)
            out[k] = torch.cat([o + u * (la[k] - o) + v * (lb[k] - o) for u, v in coords])
        else:  # labels: the picked class, or seed A's, in every cell
            out[k] = la[k].repeat(len(coords), *([1] * (la[k].dim() - 1)))
    return out


async def plane(request: Request) -> Response:
    runs: Runs = request.app.state.runs
    run = generating(runs, request)
    if cap.TOY2D in cap.capabilities_of(run.model):
        raise Refused(404, "this run draws 2D points; its plane is the live 2D view's")
    a, b = int_param(request, "a", 0, 0, SEED_MAX), int_param(request, "b", 1, 0, SEED_MAX)
    size = int_param(request, "size", 5, 2, MAX_PLANE)
    span = _float(request, "span", 1.0, 0.05, MAX_SPAN)
    opts = options(request, run)
    ticks = [round(span * (2 * i / (size - 1) - 1), 6) for i in range(size)]
    coords = [(u, v) for v in reversed(ticks) for u in ticks]  # rows from +v (top) to -v; columns -u to +u

    def work() -> dict[str, Any]:
        with runs.lock:
            labels = held_labels(run.model.latents(1, a, device=run.device, **opts),
                                 run.model.latents(1, b, device=run.device, **opts))
            return {"a": a, "b": b, "size": size, "span": span, "coords": coords, **labels,
                    **render(run, plane_latents(run, a, b, coords, **opts))}
    return JSONResponse(await in_thread(work))


async def mix(request: Request) -> Response:
    runs: Runs = request.app.state.runs
    run = generating(runs, request)
    if cap.STYLE_MIX not in cap.capabilities_of(run.model):
        raise lacks(run, cap.STYLE_MIX, "mix styles (it has no per-layer style inputs)")
    rows = _seeds(request, "rows", "0,1,2", MAX_MIX)
    cols = _seeds(request, "cols", "3,4,5", MAX_MIX)
    num_ws = run.model.num_ws
    layer = int_param(request, "layer", num_ws // 2, 1, num_ws - 1)
    opts = options(request, run)  # truncation (and its centres); a style-based run takes no class

    def one(seed: int, mix_seed: int | None) -> np.ndarray:
        chunk, _ = next(run.model.sample_chunks(1, seed=seed, device=run.device, **opts,
                                                mix_seed=mix_seed, mix_layer=layer if mix_seed is not None else None))
        return chunk

    def work() -> dict[str, Any]:
        with runs.lock:
            table = [one(r, None) for r in rows] + [one(c, None) for c in cols]
            table += [one(r, c) for r in rows for c in cols]
            return {"rows": rows, "cols": cols, "layer": layer, "num_ws": num_ws, **encode(np.concatenate(table))}
    return JSONResponse(await in_thread(work))


class Reference:
    """A run's training images, flattened to pixels, and their judge features (None without a judge)."""

    def __init__(self, run: Run):
        data = training_data(run)
        if data.kind != "image":
            raise Refused(404, "this run's training data are not images; the nearest-image check needs images")
        self.images = data.x.numpy()
        self.pixels = pixels(self.images)
        name = default_judge(run.config.data.name)
        self.judge = None
        if name is not None:
            judge = load_judge(name)
            if judge.input_shape is None or tuple(judge.input_shape[1:]) == tuple(self.images.shape[2:]):
                self.judge = judge
        self.features = self.judge(self.images)[0] if self.judge is not None else None


async def nearest_image(request: Request) -> Response:
    runs: Runs = request.app.state.runs
    run = generating(runs, request)
    rid = int(request.path_params["rid"])
    seed = int_param(request, "seed", 0, 0, SEED_MAX)
    opts = options(request, run)

    def work() -> dict[str, Any]:
        ref: Reference = runs.cached((rid, "reference"), lambda: Reference(run))
        with runs.lock:
            sample = run.model.render(run.model.latents(1, seed, device=run.device, **opts))
        found = []
        spaces = [("pixels", pixels(sample), ref.pixels, "L2 over pixels in [0, 1]")]
        if ref.judge is not None:
            spaces.append((f"{ref.judge.name} features", ref.judge(sample)[0], ref.features,
                           f"L2 over the {ref.judge.name} judge's penultimate features"))
        for space, query, refs, metric in spaces:
            dist, index = nearest(query, refs)
            found.append({"space": space, "index": int(index[0]), "distance": float(dist[0]), "metric": metric,
                          **encode(ref.images[index[:1]])})
        return {"seed": seed, "train_size": len(ref.images), "sample": encode(sample), "nearest": found,
                "judge": None if ref.judge is None else ref.judge.summary()}
    return JSONResponse(await in_thread(work))


ROUTES = [Route("/api/runs/{rid:int}/plane", plane), Route("/api/runs/{rid:int}/mix", mix),
          Route("/api/runs/{rid:int}/nearest", nearest_image)]
