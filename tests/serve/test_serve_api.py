"""``ganforge serve``'s API through Starlette's TestClient: every endpoint, every limit as a 4xx with one
JSON line, uploads (bad, oversized, bombs), no path from a request to a file, and batching that
shares forward passes without changing a single pixel."""

from __future__ import annotations

import asyncio
import io
import time

import httpx2
import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from ganforge.errors import GanforgeError
from ganforge.runs.run import load_run
from ganforge.serve import app as serve_app
from ganforge.serve.app import build_app
from ganforge.serve.requests import Limits


def client(run_dir, **limits) -> TestClient:
    return TestClient(build_app(load_run(run_dir), Limits(**limits)))


def png_bytes(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def refused(response, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    line = response.json()["error"]
    assert "\n" not in line and all(w in line for w in words), line
    return line


@pytest.fixture(scope="module")
def digits(served_runs):
    with client(served_runs / "digits") as c:
        yield c


def test_health_info_and_schema(digits):
    assert digits.get("/health").json() == {"status": "ok", "in_flight": 0}
    info = digits.get("/v1/info").json()
    assert info["recipe"] == "noise-to-image" and info["capabilities"] == ["generate", "score", "truncation"]
    assert info["sample_shape"] == [1, 8, 8] and info["limits"]["max_n"] == 256
    assert info["num_classes"] is None  # unconditional: no class to name (the data's 10 classes were reported)
    paths = digits.get("/openapi.json").json()["paths"]
    assert set(paths) == {"/health", "/v1/info", "/v1/generate", "/v1/score"}  # only what the run can do


def test_generate_png_and_npy_are_the_run_s_own_samples(digits, served_runs):
    want = load_run(served_runs / "digits").sample(9, seed=5, truncation=1.0)
    r = digits.post("/v1/generate", json={"n": 9, "seed": 5, "truncation": 1.0, "format": "npy"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-npy"
    got = np.load(io.BytesIO(r.content), allow_pickle=False)
    np.testing.assert_array_equal(got, want)
    r = digits.post("/v1/generate", json={"n": 9, "seed": 5, "truncation": 1.0})  # PNG by default: a 3x3 grid
    grid = np.asarray(Image.open(io.BytesIO(r.content)))
    assert r.headers["content-type"] == "image/png" and grid.shape == (3 * 10 + 2, 3 * 10 + 2)
    np.testing.assert_array_equal(grid[2:10, 2:10], want[0, 0])
    r = digits.post("/v1/generate", json={"n": 2}, headers={"Accept": "application/x-npy"})
    assert np.load(io.BytesIO(r.content)).shape == (2, 1, 8, 8)


@pytest.mark.parametrize("body,status,word", [
    ({"n": 0}, 422, "'n' must be an integer in 1..256"), ({"n": 257}, 422, "1..256"), ({"n": True}, 422, "'n'"),
    ({"seed": -1}, 422, "'seed'"), ({"seed": 2**64}, 422, "'seed'"), ({"truncation": "high"}, 422, "'truncation'"),
    ({"truncation": 0.01}, 422, "'truncation' must be a number in 0.05..100"), ({"class": 3}, 404, "cannot take a class"),
    ({"format": "gif"}, 422, "png or npy"), ({"path": "/etc/passwd"}, 422, "unknown field 'path'"),
    ([1, 2], 422, "JSON object")])
def test_bad_generate_requests_are_one_json_line(digits, body, status, word):
    refused(digits.post("/v1/generate", json=body), status, word)


def test_not_json_unknown_route_wrong_method_and_traversal(digits):
    refused(digits.post("/v1/generate", content=b"{n: 3"), 400, "not JSON")
    refused(digits.get("/v1/generate"), 405, "Method Not Allowed")
    for path in ("/v1/../../etc/passwd", "/static/..%2f..%2fetc%2fpasswd", "/v1/generate/../../config.yaml",
                 "/runs/0/checkpoints/latest"):
        r = digits.get(path)
        assert r.status_code in (404, 405) and "root:" not in r.text and "seed" not in r.text
    refused(digits.post("/v1/translate", content=b"x"), 404, "cannot translate images", "it offers generate")
    refused(digits.post("/v1/upscale", content=b"x"), 404, "cannot upscale")


def test_limits_on_body_and_pixels(served_runs):
    with client(served_runs / "digits", max_body=100, max_pixels=8 * 8 * 4) as c:
        refused(c.post("/v1/generate", json={"n": 5, "seed": 1, "format": "npy", "truncation": 1.5,
                                             "class": None} | {"x" * 40: 1}), 413, "limit of 100")
        refused(c.post("/v1/generate", json={"n": 5}), 413, "5 images of 8x8", "limit of 256 pixels")
        assert c.post("/v1/generate", json={"n": 4}).status_code == 200
        refused(c.post("/v1/score", content=png_bytes(np.zeros((64, 64), np.uint8))), 413, "over this server")


def test_uploads_bad_image_wrong_format_and_decompression_bomb(digits):
    refused(digits.post("/v1/score", content=b"not an image"), 415, "not a readable PNG or JPEG")
    refused(digits.post("/v1/score", content=b""), 422, "empty")
    refused(digits.post("/v1/score", content=png_bytes(np.zeros((8, 8), np.uint8), "BMP")), 415, "BMP image")
    refused(digits.post("/v1/score", content=png_bytes(np.zeros((9, 8), np.uint8))), 422, "trained on 1x8x8")
    truncated = png_bytes(np.zeros((8, 8), np.uint8))[:40]
    refused(digits.post("/v1/score", content=truncated), 415, "not a readable")
    # bombs: a few kB of PNG that would decode to 9 and 400 megapixels, refused from their headers (the
    # server's limit of 4 MP; Pillow's own guard, which the server answers the same way)
    for side, word in ((3000, "3000x3000 = 9000000 pixels"), (20000, "too many pixels")):
        buf = io.BytesIO()
        Image.new("L", (side, side)).save(buf, format="PNG")
        assert len(buf.getvalue()) < 500_000
        refused(digits.post("/v1/score", content=buf.getvalue()), 413, word)


def test_score_an_upload(digits):
    x = np.zeros((8, 8), np.uint8)
    x[2:6, 3:5] = 255
    r = digits.post("/v1/score", content=png_bytes(x))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == "anogan" and np.isfinite(body["score"]) and body["residual_png_base64"]


def test_classes_translate_upscale_and_points(served_runs):
    with client(served_runs / "cgan") as c:
        r = c.post("/v1/generate", json={"n": 4, "class": 3, "format": "npy"})
        want = load_run(served_runs / "cgan").sample(4, seed=0, classes=3)
        np.testing.assert_array_equal(np.load(io.BytesIO(r.content)), want)
        refused(c.post("/v1/generate", json={"class": 10}), 422, "class 10 does not exist")
        assert c.get("/v1/info").json()["num_classes"] == 10  # the classes a request may name
        refused(c.post("/v1/score", content=b"x"), 404, "cannot score anomalies")
    with client(served_runs / "pix2pix") as c:
        x = np.zeros((16, 16), np.uint8)
        r = c.post("/v1/translate", content=png_bytes(x))
        assert r.status_code == 200 and np.asarray(Image.open(io.BytesIO(r.content))).shape == (16, 16)
        refused(c.post("/v1/translate?direction=BA", content=png_bytes(x)), 422, "translates AB only")
        (direction,) = c.get("/openapi.json").json()["paths"]["/v1/translate"]["post"]["parameters"]
        assert direction["schema"]["enum"] == ["AB"]  # the schema offered BA, which is a 422 here
        refused(c.post("/v1/translate?direction=../x", content=png_bytes(x)), 422, "direction must be AB or BA")
        refused(c.post("/v1/generate", json={}), 404, "cannot generate images", "it offers translate")
    with client(served_runs / "sr") as c:
        r = c.post("/v1/upscale", content=png_bytes(np.full((6, 10), 200, np.uint8), "JPEG"))
        assert r.status_code == 200 and np.asarray(Image.open(io.BytesIO(r.content))).shape == (12, 20)
    with client(served_runs / "ring8") as c:
        refused(c.post("/v1/generate", json={"n": 4, "format": "png"}), 422, "2D points")
        pts = np.load(io.BytesIO(c.post("/v1/generate", json={"n": 4, "format": "npy"}).content))
        assert pts.shape == (4, 2) and pts.dtype == np.float32
        # points have no picture, so an answer without "format" is the .npy (the schema's only format)
        np.testing.assert_array_equal(np.load(io.BytesIO(c.post("/v1/generate", json={"n": 4}).content)), pts)


def test_concurrent_requests_share_forward_passes_and_get_their_own_samples(served_runs):
    run = load_run(served_runs / "cgan")
    app = build_app(run, Limits(max_batch=64))
    seeds = list(range(12))

    async def ask_all():
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as c:
            rs = await asyncio.gather(*(c.post("/v1/generate", json={"n": 3, "seed": s, "class": s % 10,
                                                                      "format": "npy"}) for s in seeds))
        return [np.load(io.BytesIO(r.content)) for r in rs]

    got = asyncio.run(ask_all())
    for s, images in zip(seeds, got):
        np.testing.assert_array_equal(images, run.sample(3, seed=s, classes=s % 10))  # as if served alone
    passes = app.state.served.batcher.passes
    assert passes < len(seeds), passes  # requests were batched together
    alone = build_app(run, Limits(max_batch=1))
    with TestClient(alone) as c:
        for s in seeds[:3]:
            c.post("/v1/generate", json={"n": 3, "seed": s, "format": "npy"})
    assert alone.state.served.batcher.passes == 3


def test_truncation_centres_are_fitted_at_start_and_requests_use_them(served_runs):
    """A request with the K the server fitted gets the run's own multi-modal truncated samples; any other K,
    a server that fitted none, and a run with no style space are each refused with one line."""
    style = served_runs / "style"
    want = load_run(style).sample_with_labels(4, 2, truncation=0.5, truncation_centres=3)[0]
    with client(style) as plain:
        assert plain.get("/v1/info").json()["truncation_centres"] is None
        refused(plain.post("/v1/generate", json={"truncation": 0.5, "truncation_centres": 3}), 422,
                "fitted none", "--truncation-centres 3")
    app = build_app(load_run(style), Limits(), truncation_centres=3)
    with TestClient(app) as c:
        assert c.get("/v1/info").json()["truncation_centres"] == 3
        body = c.get("/openapi.json").json()["paths"]["/v1/generate"]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"]["properties"]["truncation_centres"] == {"enum": [3, None]}
        r = c.post("/v1/generate", json={"n": 4, "seed": 2, "truncation": 0.5, "truncation_centres": 3, "format": "npy"})
        assert r.status_code == 200, r.text
        np.testing.assert_array_equal(np.load(io.BytesIO(r.content)), want)
        plain_half = load_run(style).sample(4, seed=2, truncation=0.5)
        assert not np.array_equal(want, plain_half)  # the centres moved the samples off the one mean w
        refused(c.post("/v1/generate", json={"truncation": 0.5, "truncation_centres": 4}), 422,
                "no 4 truncation centres", "'truncation_centres': 3")
        refused(c.post("/v1/generate", json={"truncation_centres": 3}), 422, "truncation_centres needs truncation PSI")
        refused(c.post("/v1/generate", json={"truncation_centres": 1}), 422, "'truncation_centres' must be an integer")
    with client(served_runs / "digits") as digits:
        refused(digits.post("/v1/generate", json={"truncation": 0.5, "truncation_centres": 3}), 404,
                "cannot take truncation centres")
    with pytest.raises(GanforgeError, match="cannot fit truncation centres"):
        build_app(load_run(served_runs / "digits"), Limits(), truncation_centres=3)
    with pytest.raises(GanforgeError, match="between 2 and 1000"):
        build_app(load_run(style), Limits(), truncation_centres=1)


def test_query_parameters_an_endpoint_does_not_read_are_refused(digits, served_runs):
    # ?n=4 used to be ignored: 16 images came back as if it had been heard
    refused(digits.post("/v1/generate?n=4", json={}), 422, "unknown query parameter 'n'", "JSON body")
    refused(digits.post("/v1/score?x=1", content=png_bytes(np.zeros((8, 8), np.uint8))), 422,
            "unknown query parameter 'x'", "takes no query parameters")
    with client(served_runs / "pix2pix") as c:
        refused(c.post("/v1/translate?direction=AB&size=3", content=b"x"), 422, "'size'", "takes only direction")


def test_a_wrong_method_names_the_one_to_use_in_the_line_and_in_allow(digits):
    r = digits.get("/v1/generate")
    refused(r, 405, "Method Not Allowed", "use POST")
    assert r.headers["allow"] == "POST"


def asgi_post(app, path: str, parts: list[bytes], complete: bool) -> list[dict]:
    """POST ``parts`` of a body straight through ASGI, then the client hangs up: before the body is
    complete (``complete`` False), or after it; returns the messages the app sent."""
    incoming = [{"type": "http.request", "body": b, "more_body": not complete or i < len(parts) - 1}
                for i, b in enumerate(parts)] + [{"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive():
        return incoming.pop(0) if len(incoming) > 1 else incoming[0]

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"content-type", b"application/octet-stream")], "scheme": "http", "http_version": "1.1",
             "server": ("test", 80), "client": ("test", 1), "root_path": "", "app": app}
    asyncio.run(app(scope, receive, send))
    return sent


def test_a_client_that_hangs_up_mid_body_is_answered_without_a_traceback(served_runs):
    app = build_app(load_run(served_runs / "digits"))
    sent = asgi_post(app, "/v1/generate", [b'{"n": '], complete=False)  # raised ClientDisconnect before
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400


def test_an_upscale_stops_between_tiles_when_its_client_hangs_up(served_runs, monkeypatch):
    """A large upload is many tiles (minutes on a CPU at the default pixel limit): once the client has gone
    the work stops at the next tile, and the model lock is free for the next request."""
    monkeypatch.setattr(serve_app, "UPSCALE_TILE", 16)
    run = load_run(served_runs / "sr")
    upscale, calls = run.model.upscale, []

    def slow(lr):
        calls.append(lr.shape)
        time.sleep(0.05)
        return upscale(lr)
    run.model.upscale = slow
    app = build_app(run)
    tiles = 4 * 4  # a 64x64 upload in 16-pixel tiles
    sent = asgi_post(app, "/v1/upscale", [png_bytes(np.full((64, 64), 90, np.uint8))], complete=True)
    assert sent[0]["status"] == 400 and b"stopped" in sent[1]["body"]
    assert len(calls) < tiles, len(calls)  # none at all when the hang-up is seen before the first tile
    assert app.state.served.lock.acquire(timeout=5)  # released: the next request can run
    app.state.served.lock.release()
    calls.clear()  # the same upload from a client that waits gets every tile
    with TestClient(app) as c:
        r = c.post("/v1/upscale", content=png_bytes(np.full((64, 64), 90, np.uint8)))
    assert r.status_code == 200 and len(calls) == tiles


def test_the_schema_offers_only_what_this_run_takes(digits, served_runs):
    body = digits.get("/openapi.json").json()["paths"]["/v1/generate"]["post"]
    props = body["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert props["class"] == {"type": "null"}  # not conditional: a class is answered 404
    assert props["truncation"]["minimum"] == 0.05  # a |z| threshold: below it is refused with 422
    assert props["truncation_centres"] == {"enum": [None]}
    with client(served_runs / "ring8") as c:
        post = c.get("/openapi.json").json()["paths"]["/v1/generate"]["post"]
        fmt = post["requestBody"]["content"]["application/json"]["schema"]["properties"]["format"]
        assert fmt == {"type": "string", "enum": ["npy"], "default": "npy"}
        assert list(post["responses"]["200"]["content"]) == ["application/x-npy"]
    with client(served_runs / "style") as c:
        props = c.get("/openapi.json").json()["paths"]["/v1/generate"]["post"]["requestBody"]["content"][
            "application/json"]["schema"]["properties"]
        assert props["truncation"]["minimum"] == 0  # psi 0 is the mean w
        assert c.post("/v1/generate", json={"n": 1, "truncation": 0}).status_code == 200
    with client(served_runs / "cgan") as c:
        props = c.get("/openapi.json").json()["paths"]["/v1/generate"]["post"]["requestBody"]["content"][
            "application/json"]["schema"]["properties"]
        assert props["class"]["oneOf"][0] == {"type": "integer", "minimum": 0, "maximum": 9}  # classes 0..9
        assert props["class"]["oneOf"][2]["items"]["maximum"] == 9
        assert c.post("/v1/generate", json={"n": 1, "class": 9}).status_code == 200
        assert c.post("/v1/generate", json={"n": 1, "class": 10}).status_code == 422


def test_a_body_nested_thousands_deep_is_not_json_rather_than_a_500(digits):
    # json.loads raises RecursionError past ~1000 levels: a 500 and a traceback in the log before
    for body in (b"[" * 100_000, b"[" * 1_000, b'{"n": ' + b"[" * 5_000):
        refused(digits.post("/v1/generate", content=body), 400, "the body is not JSON")


def test_integral_floats_are_integers_as_the_schema_s_integer_admits(digits):
    # OpenAPI 3.1 (JSON Schema) "type: integer" admits 4.0: the schema and the server agree
    want = digits.post("/v1/generate", json={"n": 4, "seed": 3, "format": "npy"})
    got = digits.post("/v1/generate", json={"n": 4.0, "seed": 3.0, "format": "npy"})
    assert got.status_code == 200 and got.content == want.content
    refused(digits.post("/v1/generate", json={"n": 4.5}), 422, "'n' must be an integer", "4.5")
    refused(digits.post("/v1/generate", content=b'{"seed": 1e400}'), 422, "'seed'")  # inf
    refused(digits.post("/v1/generate", json={"seed": 1e19}), 422, "'seed'")  # integral, past SEED_MAX


def test_integral_float_classes_are_classes(served_runs):
    with client(served_runs / "cgan") as c:
        want = c.post("/v1/generate", json={"n": 3, "class": [1, 2], "format": "npy"})
        got = c.post("/v1/generate", json={"n": 3, "class": [1.0, 2.0], "format": "npy"})
        assert got.status_code == 200 and got.content == want.content
        refused(c.post("/v1/generate", json={"class": 1.5}), 422, "'class'")


def test_the_score_schema_names_the_image_size_it_takes(digits):
    post = digits.get("/openapi.json").json()["paths"]["/v1/score"]["post"]
    assert "8x8 pixels (C x H x W = 1 x 8 x 8)" in post["description"]
    assert "1 x 8 x 8" in post["requestBody"]["description"]


def test_an_uncaught_exception_is_one_json_500_and_one_log_line(served_runs, monkeypatch, capsys):
    def broken(self):
        raise RuntimeError("a bug\nsecond line")
    monkeypatch.setattr(serve_app.ServedRun, "info", broken)
    with client(served_runs / "digits") as c:
        r = c.get("/v1/info")
        assert c.get("/health").status_code == 200  # the server still answers
    refused(r, 500, "internal error (RuntimeError)")
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert "internal error answering GET /v1/info: RuntimeError: a bug at test_serve_api.py:" in err
