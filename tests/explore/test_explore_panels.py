"""The explorer's panels through Starlette's TestClient: the seed plane's axes are the two seeds' own
samples, style mixing is ``ganforge sample --mix-seed``'s, the nearest training image is the true
nearest (pixels and judge features), and translate, upscale and score give the model's own answers
for a test image or an upload, with every bad upload refused in one JSON line."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image
from starlette.testclient import TestClient

from ganforge.anomaly.scoring import scorer
from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.explore.app import build_app
from ganforge.metrics.judges import load_judge
from ganforge.runs.run import load_run
from ganforge.synthetic.sources import training_data


@pytest.fixture(scope="module")
def client(explore_runs, panel_runs):
    runs = [explore_runs / "digits", explore_runs / "cgan", panel_runs / "style", panel_runs / "pix2pix",
            panel_runs / "sr"]
    with TestClient(build_app(runs)) as c:
        yield c


def images(enc) -> np.ndarray:
    return np.stack([np.frombuffer(base64.b64decode(b), np.uint8).reshape(enc["shape"]) for b in enc["images"]])


def png(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("rid,name,options", [(1, "cgan", {"class": 3, "truncation": 0.8}), (2, "style", {})])
def test_the_plane_s_axes_are_the_two_seeds_samples(client, explore_runs, panel_runs, rid, name, options):
    run = load_run((explore_runs if name == "cgan" else panel_runs) / name)
    body = ok(client.get(f"/api/runs/{rid}/plane", params={"a": 4, "b": 9, "size": 5, "span": 1, **options}))
    cells = images(body)
    assert len(cells) == 25 and body["coords"][0] == [-1.0, 1.0] and body["coords"][-1] == [1.0, -1.0]
    at = {tuple(c): i for i, c in enumerate(body["coords"])}
    opts = {"classes": options.get("class"), "truncation": options.get("truncation")}
    np.testing.assert_array_equal(cells[at[(1.0, 0.0)]], run.sample(1, seed=4, **opts)[0])
    np.testing.assert_array_equal(cells[at[(0.0, 1.0)]], run.sample(1, seed=9, **opts)[0])
    assert len({c.tobytes() for c in cells}) > 20  # the cells differ across the plane


def test_the_plane_s_origin_is_the_mean_latent(client, panel_runs):
    run = load_run(panel_runs / "style")
    body = ok(client.get("/api/runs/2/plane", params={"a": 1, "b": 2, "size": 3}))
    mean = run.model.render(run.model.latents(1, 5, truncation=0.0))  # psi 0: every seed gives the mean w
    np.testing.assert_array_equal(images(body)[4], mean[0])


def test_style_mixing_is_ganforge_sample_s_mix(client, panel_runs):
    run = load_run(panel_runs / "style")
    body = ok(client.get("/api/runs/2/mix", params={"rows": "0,1", "cols": "5,6,7", "layer": 2}))
    table = images(body)
    assert len(table) == 2 + 3 + 6 and body["layer"] == 2 and body["num_ws"] == run.model.num_ws
    np.testing.assert_array_equal(table[0], run.sample(1, seed=0)[0])
    np.testing.assert_array_equal(table[2], run.sample(1, seed=5)[0])
    want = next(run.model.sample_chunks(1, seed=1, mix_seed=7, mix_layer=2))[0][0]
    np.testing.assert_array_equal(table[5 + 1 * 3 + 2], want)
    assert not np.array_equal(table[5 + 1 * 3 + 2], table[1])  # the fine styles changed the row's image
    top = ok(client.get("/api/runs/2/mix", params={"rows": "1", "cols": "7", "layer": run.model.num_ws - 1}))
    assert not np.array_equal(images(top)[2], table[5 + 1 * 3 + 2])  # the layer reached the model


def test_the_nearest_training_image_is_the_true_nearest(client, explore_runs):
    run = load_run(explore_runs / "digits")
    body = ok(client.get("/api/runs/0/nearest", params={"seed": 3, "truncation": 0.9}))
    sample = run.sample(1, seed=3, truncation=0.9)
    np.testing.assert_array_equal(images(body["sample"]), sample)
    train = training_data(run).x.numpy()
    assert body["train_size"] == len(train) and [m["space"] for m in body["nearest"]] == ["pixels", "lenet8 features"]
    px = np.linalg.norm(train.reshape(len(train), -1) / 255.0 - sample.reshape(1, -1) / 255.0, axis=1)
    pixel, feature = body["nearest"]
    assert pixel["index"] == int(px.argmin()) and pixel["distance"] == pytest.approx(px.min(), rel=1e-4)
    np.testing.assert_array_equal(images(pixel)[0], train[pixel["index"]])
    judge = load_judge("lenet8")
    f = np.linalg.norm(judge(train)[0].numpy() - judge(sample)[0].numpy(), axis=1)
    assert feature["index"] == int(f.argmin()) and feature["distance"] == pytest.approx(f.min(), rel=1e-3)
    assert body["judge"]["name"] == "lenet8"


def test_translate_a_test_image_and_an_upload(client, panel_runs):
    run = load_run(panel_runs / "pix2pix")
    shown = images(ok(client.get("/api/runs/3/apps/translate/inputs")))
    x = run.model.heldout().x.numpy()
    np.testing.assert_array_equal(shown, x[:len(shown)])
    body = ok(client.post("/api/runs/3/apps/translate?index=2"))
    assert body["source"] == "test"
    np.testing.assert_array_equal(images(body["output"]), run.model.translate(x[2:3], "AB"))
    up = ok(client.post("/api/runs/3/apps/translate", content=png(x[5, 0])))
    assert up["source"] == "upload"
    np.testing.assert_array_equal(images(up["output"]), run.model.translate(x[5:6], "AB"))


def test_upscale_shows_bicubic_and_the_model(client, panel_runs):
    run = load_run(panel_runs / "sr")
    body = ok(client.post("/api/runs/4/apps/upscale?index=0"))
    lr, bic, sr, hr = (images(body[k]) for k in ("lr", "bicubic", "output", "original"))
    assert body["scale"] == 2 and lr.shape[-1] * 2 == sr.shape[-1] == bic.shape[-1] == hr.shape[-1]
    want = run.model.upscale(torch.from_numpy(lr).float() / 255.0)
    np.testing.assert_array_equal(sr, want.clamp(0, 1).mul(255).round().to(torch.uint8).numpy())
    assert not np.array_equal(sr, bic)
    up = ok(client.post("/api/runs/4/apps/upscale", content=png(np.full((5, 7), 200, np.uint8))))
    assert images(up["output"]).shape == (1, 1, 10, 14) and "original" not in up


def test_score_gives_the_run_s_score_and_residual_map(client, explore_runs):
    run = load_run(explore_runs / "digits")
    x = np.zeros((8, 8), np.uint8)
    x[2:6, 3:5] = 255
    body = ok(client.post("/api/runs/0/apps/score", content=png(x)))
    want = scorer(run).score(x[None, None], where="x")
    assert body["method"] == "anogan" and body["score"] == pytest.approx(float(want.score[0]), rel=1e-5)
    assert images(body["overlay"]).shape == (1, 3, 8, 16)  # the image | the residual overlay


@pytest.mark.parametrize("url,body,status,word", [
    ("/api/runs/1/apps/score", b"", 404, "cannot score anomalies"),
    ("/api/runs/0/apps/translate/inputs", None, 404, "cannot translate images"),
    ("/api/runs/0/apps/..%2f..%2fetc%2fpasswd", b"", 404, ""),
    ("/api/runs/0/apps/score", b"not an image", 415, "not a readable PNG or JPEG"),
    ("/api/runs/0/apps/score", png(np.zeros((8, 8), np.uint8), "BMP"), 415, "BMP image"),
    ("/api/runs/0/apps/score", png(np.zeros((9, 8), np.uint8)), 422, "trained on 1x8x8"),
    ("/api/runs/0/apps/score?index=99", b"", 422, "index must be in"),
    ("/api/runs/3/apps/translate?direction=BA", b"", 422, "translates AB only"),
    ("/api/runs/0/mix", None, 404, "cannot mix styles"), ("/api/runs/2/mix?layer=0", None, 422, "layer must be"),
    ("/api/runs/1/plane?span=nan", None, 422, "span must be"), ("/api/runs/1/plane?size=10", None, 422, "size"),
    ("/api/runs/1/nearest?seed=-1", None, 422, "seed must be")])
def test_bad_panel_requests_are_one_json_line(client, url, body, status, word):
    r = client.get(url) if body is None else client.post(url, content=body)
    assert r.status_code == status, r.text
    line = r.json()["error"]
    assert word in line and "\n" not in line and "root:" not in r.text


def test_oversized_and_bomb_uploads_are_refused_unread(client):
    r = client.post("/api/runs/0/apps/score", content=b"\0" * (4 * 2**20 + 1))
    assert r.status_code == 413 and "over this server's limit" in r.json()["error"]
    buf = io.BytesIO()
    Image.new("L", (3000, 3000)).save(buf, format="PNG")  # a few kB that would decode to 9 megapixels
    r = client.post("/api/runs/4/apps/upscale", content=buf.getvalue())
    assert r.status_code == 413 and "9000000 pixels" in r.json()["error"]


def test_truncation_centres_reach_the_grid_and_the_mixing_table(explore_runs, panel_runs):
    """With ``explore --truncation-centres 3`` a style-based run's grid and mixing table are the model's own
    samples pulled towards its 3 centres; a run without a style space, another K, no K fitted, and centres
    without a psi are each one JSON line, and a flag that no run can use is refused before any fit."""
    style = load_run(panel_runs / "style")
    want = style.sample_with_labels(1, 7, truncation=0.5, truncation_centres=3)[0]
    with TestClient(build_app([explore_runs / "digits", panel_runs / "style"], truncation_centres=3)) as c:
        runs = c.get("/api/runs").json()["runs"]
        assert [r["truncation_centres"] for r in runs] == [None, 3]
        grid = images(ok(c.get("/api/runs/1/samples", params={"seeds": "7", "truncation": 0.5, "centres": 3})))
        np.testing.assert_array_equal(grid[0], want[0])
        assert not np.array_equal(grid[0], style.sample(1, seed=7, truncation=0.5)[0])  # not the one mean w
        mixed = images(ok(c.get("/api/runs/1/mix", params={"rows": "7", "cols": "8", "layer": 2, "truncation": 0.5,
                                                            "centres": 3})))
        np.testing.assert_array_equal(mixed[0], want[0])
        chunk = next(style.model.sample_chunks(1, seed=7, truncation=0.5, truncation_centres=3, mix_seed=8,
                                               mix_layer=2))[0]
        np.testing.assert_array_equal(mixed[2], chunk[0])
        for params, word in (({"truncation": 0.5, "centres": 4}, "no 4 truncation centres"),
                             ({"centres": 3}, "centres needs truncation=PSI")):
            r = c.get("/api/runs/1/samples", params={"seeds": "1", **params})
            assert r.status_code == 422 and word in r.json()["error"], r.text
        r = c.get("/api/runs/0/samples", params={"seeds": "1", "truncation": 0.5, "centres": 3})
        assert r.status_code == 422 and "has no style space" in r.json()["error"]
    with TestClient(build_app([panel_runs / "style"])) as plain:
        assert plain.get("/api/runs").json()["runs"][0]["truncation_centres"] is None
        r = plain.get("/api/runs/0/samples", params={"seeds": "1", "truncation": 0.5, "centres": 3})
        assert r.status_code == 422 and "it fitted none" in r.json()["error"]
    with pytest.raises(GanforgeError, match="none of these runs has a style space"):
        build_app([explore_runs / "digits"], truncation_centres=3)


def test_the_truncation_centres_flag_without_a_style_run_is_one_line(explore_runs, capsys):
    assert main(["explore", str(explore_runs / "digits"), "--truncation-centres", "8"]) == 2
    err = capsys.readouterr().err
    assert "none of these runs has a style space" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert main(["explore", str(explore_runs / "digits"), "--truncation-centres", "1"]) == 2
    assert "between 2 and 1000" in capsys.readouterr().err


def test_a_run_that_draws_no_samples_names_its_command_by_the_path_given(client, panel_runs):
    """The samples panel of a pix2pix run: 404 with the command that run takes, its path as the explorer was
    given it (not only its folder name, which works from no folder but its parent)."""
    r = client.get("/api/runs/3/samples", params={"seeds": "1"})
    assert r.status_code == 404, r.text
    assert f"try `ganforge translate {panel_runs / 'pix2pix'} --input IMAGE --out OUT`" in r.json()["error"]
    r = client.get("/api/runs/0/apps/translate/inputs")  # a panel the run lacks: no command, as serve answers
    assert r.status_code == 404 and "cannot translate" in r.json()["error"] and "try `" not in r.text


def test_a_style_based_run_s_interpolation_is_a_line_in_w_and_says_so(client, panel_runs):
    """Its latents are w ("ws"), interpolated in a straight line: the answer said "slerp" because its z is
    Gaussian."""
    run = load_run(panel_runs / "style")
    body = ok(client.get("/api/runs/2/interpolate", params={"a": 3, "b": 8, "steps": 4}))
    assert body["path"] == "lerp" and body["b_is_sample"] is True
    strip = images(body)
    np.testing.assert_array_equal(strip[0], run.sample(1, seed=3)[0])
    np.testing.assert_array_equal(strip[-1], run.sample(1, seed=8)[0])
    assert ok(client.get("/api/runs/1/interpolate", params={"a": 3, "b": 8, "class": 1}))["path"] == "slerp"


def test_with_no_class_picked_the_plane_s_0_1_cell_is_b_s_latent_in_a_s_class(client, explore_runs):
    run = load_run(explore_runs / "cgan")
    drawn = {s: int(run.model.latents(1, s)["y"][0]) for s in range(20)}
    b = next(s for s in drawn if drawn[s] != drawn[0])
    body = ok(client.get("/api/runs/1/plane", params={"a": 0, "b": b, "size": 3}))
    at = {tuple(c): i for i, c in enumerate(body["coords"])}
    assert (body["class"], body["b_is_sample"]) == (drawn[0], False)  # the page outlines (0, 1) only when True
    cells = images(body)
    np.testing.assert_array_equal(cells[at[(1.0, 0.0)]], run.sample(1, seed=0)[0])
    np.testing.assert_array_equal(cells[at[(0.0, 1.0)]], run.sample(1, seed=b, classes=drawn[0])[0])
    assert ok(client.get("/api/runs/1/plane", params={"a": 0, "b": b, "size": 3, "class": 2}))["b_is_sample"] is True
