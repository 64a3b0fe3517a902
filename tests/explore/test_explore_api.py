"""The explorer's JSON API through Starlette's TestClient: each seed's image is the run's own sample for
that seed, truncation and class reach the model, interpolation ends at its two seeds, curves come
from stats.jsonl, and no request reaches a file by its path."""

from __future__ import annotations

import base64
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from starlette.testclient import TestClient

from ganforge.errors import GanforgeError
from ganforge.explore.app import build_app, slerp
from ganforge.explore.runs import Runs
from ganforge.runs.run import load_run


@pytest.fixture(scope="module")
def client(explore_runs):
    with TestClient(build_app([explore_runs / "digits", explore_runs / "cgan"])) as c:
        yield c


def images(body) -> np.ndarray:
    return np.stack([np.frombuffer(base64.b64decode(b), np.uint8).reshape(body["shape"]) for b in body["images"]])


def test_runs_list_their_checkpoints_and_capabilities(client):
    runs = client.get("/api/runs").json()["runs"]
    assert [r["name"] for r in runs] == ["digits", "cgan"]
    assert runs[0]["checkpoints"] == ["step-0000005", "step-0000010"]
    assert runs[1]["capabilities"] == ["classes", "generate", "truncation"] and runs[1]["num_classes"] == 10
    assert runs[0]["num_classes"] is None  # unconditional: no class picker, whatever the data's classes


def test_each_seed_shows_the_run_s_own_sample(client, explore_runs):
    run = load_run(explore_runs / "cgan")
    body = client.get("/api/runs/1/samples?seeds=4,9,2&truncation=0.8&class=3").json()
    assert body["seeds"] == [4, 9, 2]
    for seed, got in zip(body["seeds"], images(body)):
        np.testing.assert_array_equal(got, run.sample(1, seed=seed, truncation=0.8, classes=3)[0])
    plain = images(client.get("/api/runs/1/samples?seeds=4,9,2&class=3").json())
    assert not np.array_equal(plain, images(body))  # truncation reached the model
    other = client.get("/api/runs/0/samples?seeds=4&checkpoint=step-0000005").json()
    np.testing.assert_array_equal(images(other)[0], load_run(explore_runs / "digits",
                                  explore_runs / "digits/checkpoints/step-0000005").sample(1, seed=4)[0])


def test_interpolation_ends_at_its_seeds_and_slerp_keeps_the_norm(client, explore_runs):
    body = client.get("/api/runs/1/interpolate?a=3&b=7&steps=5&class=2").json()
    strip, run = images(body), load_run(explore_runs / "cgan")
    assert body["path"] == "slerp" and len(strip) == 5
    np.testing.assert_array_equal(strip[0], run.sample(1, seed=3, classes=2)[0])
    np.testing.assert_array_equal(strip[-1], run.sample(1, seed=7, classes=2)[0])
    a, b = torch_pair()
    mid = slerp(a, b, 0.5)
    assert abs(float(mid.norm()) - float(a.norm())) < 1e-4  # a straight line would cut inside the shell


def torch_pair():
    a = torch.randn(1, 64, generator=torch.Generator().manual_seed(0))
    b = torch.randn(1, 64, generator=torch.Generator().manual_seed(1))
    return a, b / b.norm() * a.norm()


def test_curves_come_from_stats_jsonl(client):
    curves = client.get("/api/runs/0/stats").json()["curves"]
    assert curves and all(len(p) == 2 for k in curves for p in curves[k])
    assert [p[0] for p in next(iter(curves.values()))] == [5, 10]


@pytest.mark.parametrize("url,status,word", [
    ("/api/runs/2/samples", 404, "runs 0..1"), ("/api/runs/0/samples?checkpoint=../../config.yaml", 404, "no checkpoint"),
    ("/api/runs/0/samples?checkpoint=%2Fetc%2Fpasswd", 404, "no checkpoint"), ("/api/runs/0/samples?seeds=a", 422, "seeds"),
    ("/api/runs/0/samples?seeds=" + ",".join(["1"] * 65), 422, "1..64 seeds"),
    ("/api/runs/0/samples?seeds=1&truncation=0.01", 422, "truncation must be a number in 0.05..100"),
    ("/api/runs/1/samples?class=10", 422, "class must be in 0..9"), ("/api/runs/0/interpolate?steps=99", 422, "2..16"),
    # 1e300 overflowed to a 500 on a style-based G; nan and inf were dropped without a word
    ("/api/runs/1/samples?truncation=1e300", 422, "0.05..100"), ("/api/runs/1/samples?truncation=nan", 422, "0.05..100"),
    ("/api/runs/1/samples?truncation=inf", 422, "0.05..100"),
    ("/api/runs/0/samples?class=3", 404, "cannot take a class"),  # was ignored: serve answers this 404 too
    ("/static/../../../etc/passwd", 404, ""), ("/static/..%2f..%2fapp.py", 404, ""), ("/api/runs/-1/stats", 404, "")])
def test_bad_requests_and_traversal_are_one_json_line(client, url, status, word):
    r = client.get(url)
    assert r.status_code == status and word in r.json()["error"] and "root:" not in r.text


def test_page_and_assets_are_all_served_from_the_package(client):
    page = client.get("/").text
    assert "/static/app.js" in page and "/static/style.css" in page
    assert "/static/panels.js" in page
    for asset in ("/static/app.js", "/static/panels.js", "/static/style.css"):
        text = client.get(asset).text
        assert "http://" not in text and "https://" not in text and "@import" not in text  # nothing off this server
    assert "http" not in page.replace("http-equiv", "")


def test_live_view_steps_and_refuses_bad_settings(client):
    f0 = client.get("/api/live").json()
    assert f0["step"] == 0 and len(f0["heat"]) == f0["heat_size"] ** 2 and f0["num_modes"] == 8
    f1 = client.post("/api/live", json={"action": "step_g"}).json()
    f2 = client.post("/api/live", json={"action": "step_d", "lr": 0.002, "k": 2, "loss": "hinge"}).json()
    assert (f1["step"], f2["d_steps"], f2["settings"]["loss"], f2["settings"]["k"]) == (1, 1, "hinge", 2)
    for body, word in (({"lr": -1}, "lr must be"), ({"k": 0}, "k (D steps"), ({"loss": "l2"}, "loss must be"),
                       ({"dataset": "../x"}, "dataset must be"), ({"path": "/"}, "unknown field"),
                       ({"loss": ["hinge"]}, "loss must be"), ({"dataset": {"a": 1}}, "dataset must be"),
                       ({"action": ["play"]}, "action must be")):  # a list or object was a 500 (unhashable)
        r = client.post("/api/live", json=body)
        assert r.status_code == 422 and word in r.json()["error"]
    r = client.post("/api/live", content=b"{action: play}")
    assert r.status_code == 422 and r.json()["error"].startswith("the body is not JSON; send an object")
    r = client.post("/api/live", content=b"x" * 100_000)  # refused from its length, not read into memory
    assert r.status_code == 413 and "limit of 4096" in r.json()["error"]
    client.post("/api/live", json={"action": "reset", "loss": "minimax", "k": 1, "lr": 0.001})
    client.post("/api/live", json={"action": "play"})
    deadline = time.monotonic() + 60
    while client.get("/api/live").json()["step"] < 30 and time.monotonic() < deadline:
        time.sleep(0.2)
    f3 = client.post("/api/live", json={"action": "pause"}).json()
    assert f3["step"] >= 30 and not f3["playing"]


def damage(checkpoint: Path) -> None:
    (checkpoint / "G.safetensors").write_bytes(b"not a safetensors file")


def test_a_damaged_latest_checkpoint_is_passed_over_as_serve_and_sample_do(explore_runs, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(explore_runs / "digits", bad)
    damage(bad / "checkpoints" / "step-0000010")
    with TestClient(build_app([bad, explore_runs / "cgan"])) as c:  # one warning line, and the previous one
        err = capsys.readouterr().err
        assert err.count("ganforge: warning: skipping checkpoint") == 1 and "step-0000010" in err, err
        assert c.get("/api/runs").json()["runs"][0]["step"] == 5
        assert c.get("/api/runs/0/samples", params={"seeds": "1"}).status_code == 200
        assert "warning" not in capsys.readouterr().err  # said once, not per request
    damage(bad / "checkpoints" / "step-0000005")
    with pytest.raises(GanforgeError, match="every checkpoint of .*bad is damaged"):  # none opens: one line at start
        build_app([bad, explore_runs / "cgan"])
    assert "warning" not in capsys.readouterr().err  # nothing to fall back to: the error's line alone
    shutil.rmtree(bad)
    shutil.copytree(explore_runs / "digits", bad)
    damage(bad / "checkpoints" / "step-0000005")  # an older one, opened only when asked for
    with TestClient(build_app([bad, explore_runs / "cgan"])) as c:
        r = c.get("/api/runs/0/samples?checkpoint=step-0000005")
        assert r.status_code == 422 and "step-0000005" in r.json()["error"]  # was a 500
        assert c.get("/api/runs").status_code == 200
    runs = Runs([bad, explore_runs / "cgan"], torch.device("cpu"))
    damage(bad / "checkpoints" / "step-0000010")  # both now: after start, the run's line in the list
    listed = [runs.summary(0), runs.summary(1)]  # the damaged run's line; the other run stays usable
    assert "every checkpoint" in listed[0]["error"] and listed[0]["capabilities"] == []
    assert listed[1]["capabilities"] == ["classes", "generate", "truncation"]


def test_curves_skip_lines_that_are_not_objects(explore_runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(explore_runs / "digits", run)
    with open(run / "stats.jsonl", "a") as f:
        f.write("[1, 2]\n")  # AttributeError, a 500, before
    with TestClient(build_app([run])) as c:
        r = c.get("/api/runs/0/stats")
    assert r.status_code == 200 and [p[0] for p in next(iter(r.json()["curves"].values()))] == [5, 10]


def test_a_live_body_nested_thousands_deep_is_one_422_line(client):
    r = client.post("/api/live", content=b"[" * 4000)  # under the 4096-byte limit: a RecursionError, a 500, before
    assert r.status_code == 422 and r.json() == {"error": "the body is not JSON; send an object such as "
                                                          "{\"action\": \"play\"}"}


def test_the_live_view_s_k_takes_an_integral_number_as_serve_s_fields_do(client):
    r = client.post("/api/live", json={"k": 2.0})  # was a 422
    assert r.status_code == 200 and r.json()["settings"]["k"] == 2
    r = client.post("/api/live", json={"k": 2.5})
    assert r.status_code == 422 and "k (D steps per G step) must be an integer" in r.json()["error"]
    client.post("/api/live", json={"k": 1})


def test_curves_skip_undecodable_lines_and_rows_without_a_finite_step(explore_runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(explore_runs / "digits", run)
    with open(run / "stats.jsonl", "ab") as f:
        f.write(b"\xff\xfe garbage\n")  # not UTF-8: a UnicodeDecodeError, a 500, before
        f.write(b'{"step": null, "loss_D": 1.0}\n{"step": "x", "loss_D": 2.0}\n{"loss_D": 3.0}\n')
        f.write(b'{"step": NaN, "loss_D": 4.0}\n{"step": 20, "loss_D": 5.0}\n' + b"[" * 5000 + b"\n")
    with TestClient(build_app([run])) as c:
        r = c.get("/api/runs/0/stats")
    assert r.status_code == 200, r.text
    assert [p[0] for p in r.json()["curves"]["loss_D"]] == [5, 10, 20]  # the bad rows left out, the rest drawn


def test_a_run_directory_deleted_while_exploring_is_listed_with_its_error(explore_runs, tmp_path):
    gone = tmp_path / "gone"
    shutil.copytree(explore_runs / "digits", gone)
    with TestClient(build_app([gone, explore_runs / "cgan"])) as c:
        shutil.rmtree(gone)
        listed = c.get("/api/runs").json()["runs"]
        assert listed[0]["error"].startswith(f"run directory {gone} no longer exists")
        assert listed[0]["capabilities"] == [] and listed[1]["capabilities"] == ["classes", "generate", "truncation"]
        for url in ("/api/runs/0/samples?seeds=1", "/api/runs/0/stats", "/api/runs/0/plane"):
            r = c.get(url)
            assert r.status_code == 422 and "no longer exists" in r.json()["error"], (url, r.text)
        assert c.get("/api/runs/1/samples?seeds=1").status_code == 200  # the other run stays usable


def test_an_uncaught_exception_is_one_json_500_and_one_log_line(explore_runs, monkeypatch, capsys):
    def broken(self, rid):
        raise RuntimeError("a bug")
    monkeypatch.setattr(Runs, "summary", broken)
    with TestClient(build_app([explore_runs / "digits"])) as c:
        r = c.get("/api/runs")
    assert r.status_code == 500 and r.json() == {"error": "internal error (RuntimeError); the server's log has "
                                                          "the line, please report it"}
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ganforge explore: internal error answering GET /api/runs: RuntimeError" in err


def test_the_browser_s_favicon_request_is_answered_empty(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 204 and r.content == b""


def test_the_list_names_the_checkpoint_opened_and_a_repaired_one_is_opened_again(explore_runs, tmp_path):
    """The page selects ``opened`` (it selected the newest, so every panel asked for the damaged one and was
    refused), and a newest checkpoint repaired while the explorer runs is opened on the next listing (it stayed
    skipped for the life of the server)."""
    bad = tmp_path / "bad"
    shutil.copytree(explore_runs / "digits", bad)
    weights = bad / "checkpoints" / "step-0000010" / "G.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:50])
    with TestClient(build_app([bad])) as c:
        listed = c.get("/api/runs").json()["runs"][0]
        assert (listed["opened"], listed["step"]) == ("step-0000005", 5)
        assert list(listed["skipped"]) == ["step-0000010"] and "checksum" in listed["skipped"]["step-0000010"]
        assert c.get("/api/runs/0/samples", params={"seeds": "1", "checkpoint": listed["opened"]}).status_code == 200
        weights.write_bytes(good)  # repaired (or its copy finished)
        listed = c.get("/api/runs").json()["runs"][0]
        assert (listed["opened"], listed["step"], listed["skipped"]) == ("step-0000010", 10, {})


def labels_of(run, seeds) -> dict[int, int]:
    return {s: int(run.model.latents(1, s)["y"][0]) for s in seeds}


def test_with_no_class_picked_the_strip_holds_seed_a_s_class_and_says_b_s_end_is_not_b_s_sample(client, explore_runs):
    """Labels are not blended: with no class, the strip is in seed A's class, so its B end is B's z in A's class.
    It was claimed to be B's own sample; the answer now says which it is."""
    run = load_run(explore_runs / "cgan")
    drawn = labels_of(run, range(60))
    a = 0
    b = next(s for s in drawn if drawn[s] != drawn[a])
    body = client.get(f"/api/runs/1/interpolate?a={a}&b={b}&steps=3").json()
    strip = images(body)
    assert (body["class"], body["b_is_sample"]) == (drawn[a], False)
    np.testing.assert_array_equal(strip[0], run.sample(1, seed=a)[0])
    np.testing.assert_array_equal(strip[-1], run.sample(1, seed=b, classes=drawn[a])[0])
    assert not np.array_equal(strip[-1], run.sample(1, seed=b)[0])
    picked = client.get(f"/api/runs/1/interpolate?a={a}&b={b}&steps=3&class=4").json()
    assert (picked["class"], picked["b_is_sample"]) == (4, True)
    same = next(s for s in drawn if s != a and drawn[s] == drawn[a])  # B draws A's class: its own sample
    assert client.get(f"/api/runs/1/interpolate?a={a}&b={same}&steps=3").json()["b_is_sample"] is True
    plain = client.get("/api/runs/0/interpolate?a=1&b=2&steps=3").json()  # unconditional: no class to hold
    assert (plain["class"], plain["b_is_sample"]) == (None, True)
