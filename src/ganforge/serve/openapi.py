"""The OpenAPI 3 schema of the API, written out by hand for the endpoints the served run has.

Hand-written rather than generated from docstrings (Starlette's ``SchemaGenerator`` reads YAML out
of each endpoint's docstring): a dict keeps the limits in the schema equal to the server's own,
and it is what the schemathesis test fuzzes the server against.
"""

from __future__ import annotations

from typing import Any

from ganforge import capabilities as cap
from ganforge.serve.requests import SEED_MAX, TRUNCATION_MAX, Limits

ERROR = {"description": "refused: one line saying why",
         "content": {"application/json": {"schema": {"type": "object", "required": ["error"],
                                                     "properties": {"error": {"type": "string"}}}}}}
IMAGE_BODY = {"required": True, "content": {"image/png": {"schema": {"type": "string", "format": "binary"}},
                                            "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}
PNG = {"description": "a PNG image", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): ERROR for c in codes}


def _json(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}


NULL = {"type": "null"}  # a field this run does not take: only null (left out) is accepted


def _generate(caps: frozenset[str], limits: Limits, centres: int | None, least: float,
              num_classes: int | None) -> dict[str, Any]:
    """``/v1/generate`` as this run answers it: the options it lacks are null only, truncation from the
    model's least, classes up to the run's last, and 2D points come as .npy alone."""
    points = cap.TOY2D in caps
    formats = ["npy"] if points else ["png", "npy"]
    truncation = {"type": ["number", "null"], "minimum": least, "maximum": TRUNCATION_MAX}
    label = {"type": "integer", "minimum": 0, "maximum": (num_classes or 1) - 1}
    classes = {"oneOf": [label, NULL, {"type": "array", "minItems": 1, "maxItems": limits.max_n, "items": label}]}
    body = {"type": "object", "additionalProperties": False, "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": limits.max_n, "default": 16},
        "seed": {"type": "integer", "minimum": 0, "maximum": SEED_MAX, "default": 0},
        "truncation": truncation if cap.TRUNCATION in caps else NULL,
        "class": classes if cap.CLASSES in caps else NULL,
        "format": {"type": "string", "enum": formats, "default": formats[0]},
        # only the K fitted at start; a style-based run without them, and any other run: null
        "truncation_centres": {"enum": [None] if centres is None or cap.TRUNCATION_CENTRES not in caps
                               else [centres, None]}}}
    answers = {"application/x-npy": {"schema": {"type": "string", "format": "binary"}}}
    if not points:
        answers = {"image/png": {"schema": {"type": "string", "format": "binary"}}, **answers}
    return {"post": {
        "summary": "samples from seeds: a PNG grid or a uint8 .npy (N, C, H, W); batched with other requests",
        "requestBody": {"required": False, "content": {"application/json": {"schema": body}}},
        "responses": {"200": {"description": "the samples", "content": answers}, **_errors(400, 404, 413, 422)}}}


def image_size(shape: tuple[int, ...]) -> str:
    """``shape`` (C, H, W) in words for a schema's description: what an upload to score must be."""
    if len(shape) != 3:
        return "the run's image size"
    c, h, w = shape
    colour = {1: "greyscale (a colour upload is converted)", 3: "RGB (a greyscale upload is converted)"}
    return f"{w}x{h} pixels (C x H x W = {c} x {h} x {w}), {colour.get(c, f'{c} channels')}"


def schema(caps: frozenset[str], limits: Limits, centres: int | None = None,
           min_truncation: float = 0.0, shape: tuple[int, ...] = (), num_classes: int | None = None,
           directions: tuple[str, ...] = ()) -> dict[str, Any]:
    """The schema of the endpoints in ``caps``; ``centres``: the K of truncation centres the server fitted;
    ``min_truncation``: the model's least truncation (:func:`ganforge.capabilities.least_truncation`);
    ``shape``: the run's (C, H, W), the size ``/v1/score`` takes; ``num_classes``: a conditional run's
    classes (a class beyond the last is a 422, so the schema says so); ``directions``: the ways a translator
    translates (pix2pix: AB only)."""
    paths: dict[str, Any] = {
        "/health": {"get": {"summary": "liveness, and the requests in flight",
                             "responses": {"200": _json("status ok, in_flight")}}},
        "/v1/info": {"get": {"summary": "the run, its capabilities and the server's limits",
                             "responses": {"200": _json("the run")}}},
    }
    if cap.GENERATE in caps:
        paths["/v1/generate"] = _generate(caps, limits, centres, min_truncation, num_classes)
    if cap.TRANSLATE in caps:
        paths["/v1/translate"] = {"post": {
            "summary": "translate one image into the other domain",
            "parameters": [{"name": "direction", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": list(directions), "default": "AB"}}],
            "requestBody": IMAGE_BODY, "responses": {"200": PNG, **_errors(400, 413, 415, 422)}}}
    if cap.UPSCALE in caps:
        paths["/v1/upscale"] = {"post": {"summary": "super-resolve one image", "requestBody": IMAGE_BODY,
                                         "responses": {"200": PNG, **_errors(400, 413, 415, 422)}}}
    if cap.SCORE in caps:
        size = image_size(shape)
        paths["/v1/score"] = {"post": {"summary": "anomaly score and residual map of one image",
                                       "description": f"The upload must be this run's image size: {size}; "
                                                      f"any other size is a 422 naming it.",
                                       "requestBody": {**IMAGE_BODY, "description": f"a PNG or JPEG of {size}"},
                                       "responses": {"200": _json("score, method, residual_png_base64"),
                                                     **_errors(400, 413, 415, 422)}}}
    return {"openapi": "3.1.0", "info": {"title": "ganforge serve", "version": "1"}, "paths": paths}
