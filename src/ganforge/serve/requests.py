"""What a request may ask, checked in one place before anything runs; every refusal is one line.

:class:`ApiError` carries the HTTP status and the line the client reads (``{"error": "..."}``).
The body is read in pieces and refused with 413 as soon as it passes the limit, before it is
all in memory; a declared Content-Length over the limit is refused without reading at all. A query
parameter an endpoint does not read is refused too (``POST /v1/generate?n=4`` would otherwise answer
16 images as if ``n`` had been heard).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request

from ganforge.recipes.truncation_centres import MAX_CENTRES

SEED_MAX = 2**63 - 1  # torch.Generator.manual_seed takes any 64-bit value; the signed range is what JSON tools keep
TRUNCATION_MAX = 100.0  # beyond this the truncation trick no longer truncates anything


class ApiError(Exception):
    """A refused request: ``status`` (4xx) and one line saying what was wrong and what to send."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Limits:
    """The server's limits (``ganforge serve`` flags); each is answered by a 4xx when passed."""

    max_n: int = 256  # images in one generate request: a 16x16 grid
    max_batch: int = 64  # samples in one batched forward pass (1: no batching)
    max_body: int = 8 * 2**20  # bytes in a request body: an 8 MiB PNG or JPEG is already a large photo
    max_pixels: int = 4 * 2**20  # pixels of an upload, and of the images a generate request asks for


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the request body is {declared} bytes, over this server's limit of {limit}")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"the request body is over this server's limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # nobody will read the answer; what matters is no traceback in the log
        raise ApiError(400, "the client closed the connection before the body was complete") from None
    return b"".join(chunks)


def check_query(request: Request, *allowed: str) -> None:
    """422 for a query parameter the endpoint does not read (the JSON body carries generate's fields)."""
    unknown = [k for k in request.query_params if k not in allowed]
    if unknown:
        takes = f"takes only {', '.join(allowed)}" if allowed else "takes no query parameters"
        where = "; send generate's fields in the JSON body" if request.url.path == "/v1/generate" else ""
        raise ApiError(422, f"unknown query parameter '{unknown[0][:40]}': {request.url.path} {takes}{where}")


@dataclass(frozen=True)
class GenerateRequest:
    n: int = 16
    seed: int = 0
    truncation: float | None = None
    classes: int | list[int] | None = None
    format: str = "png"
    truncation_centres: int | None = None


FIELDS = ("n", "seed", "truncation", "class", "format", "truncation_centres")
FORMATS = ("png", "npy")
NPY_TYPE = "application/x-npy"


def integral(v: Any) -> int | None:
    """``v`` as an int when JSON Schema calls it an integer (OpenAPI 3.1: 235 and 235.0 alike), else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    return None


def _int(body: dict, key: str, lo: int, hi: int, default: int) -> int:
    v = body.get(key, default)
    i = integral(v)
    if i is None or not lo <= i <= hi:
        raise ApiError(422, f"'{key}' must be an integer in {lo}..{hi}, got {json.dumps(v)}")
    return i


def parse_generate(raw: bytes, accept: str, limits: Limits, default_format: str = "png",
                   min_truncation: float = 0.0) -> GenerateRequest:
    """The generate request in ``raw`` JSON (an empty body: every default), or :class:`ApiError`.
    ``default_format``: what an answer without ``format`` or an npy ``Accept`` is (npy for 2D points,
    which have no picture); ``min_truncation``: the run's least truncation (a z threshold needs room)."""
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested thousands deep
        raise ApiError(400, "the body is not JSON; send an object such as {\"n\": 16, \"seed\": 0}") from None
    if not isinstance(body, dict):
        raise ApiError(422, "the body must be a JSON object such as {\"n\": 16, \"seed\": 0}")
    unknown = [k for k in body if k not in FIELDS]
    if unknown:
        raise ApiError(422, f"unknown field '{unknown[0]}'; the fields are {', '.join(FIELDS)}")
    n = _int(body, "n", 1, limits.max_n, 16)
    seed = _int(body, "seed", 0, SEED_MAX, 0)
    t = body.get("truncation")
    if t is not None and (isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t)
                          or not min_truncation <= t <= TRUNCATION_MAX):
        raise ApiError(422, f"'truncation' must be a number in {min_truncation:g}..{TRUNCATION_MAX:g} or null, "
                            f"got {json.dumps(t)}")
    classes = body.get("class")
    if classes is not None:
        many = [integral(c) for c in (classes if isinstance(classes, list) else [classes])]
        if not many or len(many) > limits.max_n or any(c is None or c < 0 for c in many):
            raise ApiError(422, f"'class' must be a class number >= 0, or a list of 1..{limits.max_n} of them "
                                f"(cycled), or null")
        classes = many if isinstance(classes, list) else many[0]
    fmt = body.get("format", "npy" if NPY_TYPE in accept else default_format)
    if fmt not in FORMATS:
        raise ApiError(422, f"'format' must be png or npy, got {json.dumps(fmt)}")
    centres = None if body.get("truncation_centres") is None else _int(body, "truncation_centres", 2, MAX_CENTRES, 0)
    return GenerateRequest(n, seed, None if t is None else float(t), classes, fmt, centres)


def direction(request: Request) -> str:
    check_query(request, "direction")
    d = request.query_params.get("direction", "AB")
    if d not in ("AB", "BA"):
        raise ApiError(422, f"direction must be AB or BA, got '{d[:20]}'")
    return d


def to_json_error(e: ApiError) -> dict[str, Any]:
    return {"error": e.message}
