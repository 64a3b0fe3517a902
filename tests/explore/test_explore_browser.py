"""The explorer in a real browser: Playwright driving the system's chromium (Debian's ``chromium``
package; ``playwright install`` is never run, it downloads browsers). Skipped, with the reason, where
either is missing; CI installs chromium (.ci/run).

Each test reads what the page drew (canvas pixels, the live view's chart data) and saves a
screenshot of its panel: into a temporary folder, so that a test run never rewrites a tracked file,
or into the folder ``GANFORGE_EXPLORE_SHOTS`` names (``docs/img/explore`` to refresh the pictures
docs/explore.md shows).
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from PIL import Image

from ganforge.explore.app import build_app
from ganforge.data.paths import DEFAULT_DIR
from ganforge.metrics.judges import load_judge
from ganforge.runs.run import load_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS_ENV = os.environ.get("GANFORGE_EXPLORE_SHOTS")  # where the screenshots go; a temporary folder if unset
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
CGAN_RUN = os.environ.get("GANFORGE_TEST_CGAN_RUN")  # a trained class-conditional digits/MNIST run (conftest)
LAST = "5" if CGAN_RUN else "1"  # the run the pictures show: the given one, else the tiny conditional run

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not Path(CHROMIUM).exists():
    pytest.skip("no chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(runs, **app_options):
    """The explorer over ``runs`` (``build_app``'s ``app_options``) under uvicorn on a free loopback port,
    in a thread; yields its URL."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(build_app(runs, **app_options), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def server(explore_runs, panel_runs):
    runs = [explore_runs / "digits", explore_runs / "cgan", panel_runs / "style", panel_runs / "pix2pix",
            panel_runs / "sr"] + ([Path(CGAN_RUN)] if CGAN_RUN else [])
    with serving(runs) as url:
        yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return Path(SHOTS_ENV) if SHOTS_ENV else tmp_path_factory.mktemp("explore-shots")


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def open_page(browser, url):
    pg = browser.new_page(viewport={"width": 1400, "height": 1100})
    offsite = []
    pg.on("request", lambda r: offsite.append(r.url) if not r.url.startswith(url) else None)
    pg.goto(url)
    pg.wait_for_function("() => window.gf && window.gf.grid !== null")
    return pg, offsite


@pytest.fixture
def page(browser, server, shots):
    pg, offsite = open_page(browser, server)
    pg.shots = shots  # shoot() saves here
    yield pg
    assert not offsite, offsite  # every asset and request stays on this server
    pg.close()


def grid_pixels(pg) -> np.ndarray:
    url = pg.evaluate("() => document.getElementById('grid').toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",")[1]))).convert("L"))


def cells(pg) -> np.ndarray:
    """The images of the grid as the page drew them, one (size, size) crop each."""
    g = pg.evaluate("() => window.gf.grid")
    px, size = grid_pixels(pg), g["cell"] - 2 * g["inset"]
    out = []
    for i in range(len(g["seeds"])):
        x, y = (i % g["cols"]) * g["cell"] + g["inset"], (i // g["cols"]) * (g["cell"] + g["label"]) + g["inset"]
        out.append(px[y:y + size, x:x + size])
    return np.stack(out)


def redraw(pg, action: str) -> None:
    version = pg.evaluate("() => document.getElementById('grid').dataset.version")
    pg.evaluate(action)
    pg.wait_for_function(f"() => document.getElementById('grid').dataset.version !== '{version}' && window.gf.busy === 0")


def shoot(pg, panel: str, name: str | None = None) -> None:
    """Save panel ``panel``'s screenshot as ``name`` (the panel's name by default).png in the page's shots folder."""
    pg.shots.mkdir(parents=True, exist_ok=True)
    pg.locator(f"#panel-{panel}").screenshot(path=str(pg.shots / f"{name or panel}.png"))


def test_the_grid_renders_and_a_click_locks_a_seed(page):
    imgs = cells(page)
    assert imgs.std() > 10 and all(c.std() > 1 for c in imgs)  # not blank, and each cell holds an image
    page.locator("#grid").click(position={"x": 36, "y": 36})
    # the click redraws the grid too: wait for that draw, or its new version could pass for the reseed's
    page.wait_for_function("() => window.gf.locked.size === 1 && window.gf.busy === 0")
    redraw(page, "() => document.getElementById('reseed').click()")
    g = page.evaluate("() => window.gf.grid")
    assert g["seeds"][:2] == [0, 36]  # the locked seed stayed; the others moved on to the next 36


def test_moving_the_truncation_slider_changes_the_images(page):
    page.select_option("#run", LAST)  # a conditional run (z is Gaussian, truncation bites): the given one if any
    page.wait_for_function("() => window.gf.busy === 0 && window.gf.grid && document.getElementById('classbox').hidden === false")
    before = cells(page)
    redraw(page, "() => { const s = document.getElementById('trunc'); s.value = '0.3'; "
                 "s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change')); }")
    after = cells(page)
    assert page.evaluate("() => document.getElementById('truncval').textContent") == "0.30"
    changed = [not np.array_equal(a, b) for a, b in zip(before, after)]
    assert sum(changed) >= len(changed) // 2, sum(changed)
    page.locator("#grid").click(position={"x": 36, "y": 36})  # lock seed 0, for the picture
    page.wait_for_function("() => window.gf.locked.size === 1 && window.gf.busy === 0")
    shoot(page, "grid")
    shoot(page, "interp")


def test_the_centres_box_pulls_the_grid_towards_the_run_s_centres(browser, panel_runs):
    """With ``explore --truncation-centres 3`` a style-based run shows the box; ticking it at psi 0.5
    asks for those centres and redraws the grid with other images (the API test checks they are the
    model's own)."""
    with serving([panel_runs / "style"], truncation_centres=3) as url:
        pg, offsite = open_page(browser, url)
        asked = []
        pg.on("request", lambda r: asked.append(r.url))
        pg.wait_for_function("() => window.gf.busy === 0 && !document.getElementById('centresbox').hidden")
        assert pg.evaluate("() => document.getElementById('centresk').textContent") == "3"
        assert pg.evaluate("() => document.getElementById('centres').disabled")  # truncation is off
        redraw(pg, "() => { const s = document.getElementById('trunc'); s.value = '0.5'; "
                   "s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change')); }")
        before = cells(pg)
        assert not pg.evaluate("() => document.getElementById('centres').disabled")
        redraw(pg, "() => { const c = document.getElementById('centres'); c.checked = true; "
                   "c.dispatchEvent(new Event('change')); }")
        after = cells(pg)
        assert any("centres=3" in u and "truncation=0.50" in u for u in asked), asked
        changed = [not np.array_equal(a, b) for a, b in zip(before, after)]
        assert sum(changed) >= len(changed) // 2, sum(changed)
        assert not offsite, offsite
        pg.close()


def test_curves_are_drawn_from_stats(page):
    page.select_option("#run", LAST)
    page.wait_for_function("() => window.gf.busy === 0")
    page.wait_for_function("() => document.getElementById('curvekey').options.length > 0")
    url = page.evaluate("() => document.getElementById('curves').toDataURL('image/png')")
    px = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",")[1]))).convert("RGB")).astype(int)
    blue = (px[..., 2] > 150) & (px[..., 0] < 100)  # the curve's colour
    assert blue.sum() > 50
    shoot(page, "curves")


def test_the_live_view_trains_ring8_and_its_coverage_chart_rises(page):
    page.click("#lreset")
    page.wait_for_function("() => window.gf.live && window.gf.live.step === 0")
    start = page.evaluate("() => window.gf.live.modes_live")
    page.click("#lplay")
    page.wait_for_function("() => window.gf.live && window.gf.live.step >= 200", timeout=240_000)
    page.click("#lpause")
    history = page.evaluate("() => window.gf.live.history")
    late = max(r["modes_live"] for r in history if r["step"] >= 150)
    assert late >= start + 3 and late >= 5, (start, [(r["step"], r["modes_live"]) for r in history])
    assert int(page.evaluate("() => document.getElementById('livechart').dataset.modes")) >= 1
    shoot(page, "live")


def canvas_pixels(pg, cid: str) -> np.ndarray:
    url = pg.evaluate(f"() => document.getElementById('{cid}').toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",")[1]))).convert("RGB")).astype(int)


def pick_run(pg, rid: str, visible: str) -> None:
    pg.select_option("#run", rid)
    pg.wait_for_function(f"() => window.gf.busy === 0 && document.getElementById('panel-{visible}').hidden === false",
                         timeout=120_000)


def changed(pg, cid: str, action: str, timeout: int = 120_000) -> None:
    """Run ``action`` and wait until canvas ``cid`` has been redrawn and every request has come back."""
    version = pg.evaluate(f"() => document.getElementById('{cid}').dataset.version || ''")
    pg.evaluate(action)
    pg.wait_for_function(f"() => (document.getElementById('{cid}').dataset.version || '') !== '{version}' "
                         f"&& window.gf.busy === 0", timeout=timeout)


def test_the_seed_plane_draws_every_cell_and_names_its_coordinates(page):
    pick_run(page, "1", "plane")
    changed(page, "plane", "() => { const s = document.getElementById('planeSize'); s.value = '5'; "
                           "s.dispatchEvent(new Event('change')); }")
    p = page.evaluate("() => window.gf.plane")
    assert p["size"] == 5 and [1.0, 0.0] in p["coords"] and [0.0, 1.0] in p["coords"]
    px = canvas_pixels(page, "plane").mean(-1)
    inner = p["cell"] - 4
    drawn = []
    for i in range(25):
        x, y = p["left"] + (i % 5) * p["cell"] + 2, (i // 5) * (p["cell"] + p["label"]) + 2
        drawn.append(px[y:y + inner, x:x + inner])
        assert not (drawn[-1] == 255).all(), i  # every cell was drawn on (the canvas is white beneath)
    assert len({d.tobytes() for d in drawn}) > 20  # and the cells differ across the plane
    page.locator("#plane").click(position={"x": p["left"] + 4 * p["cell"] + 10, "y": 2 * (p["cell"] + p["label"]) + 10})
    text = page.locator("#planecell").text_content()
    assert "u=1, v=0" in text and "/plane?a=" in text  # the cell at (1, 0): seed A's own sample
    shoot(page, "plane")


def test_style_mixing_redraws_when_the_layer_moves(page):
    pick_run(page, "2", "mix")
    page.wait_for_function("() => window.gf.mix && window.gf.busy === 0")
    before = canvas_pixels(page, "mix")
    assert before.std() > 10
    changed(page, "mix", "() => { const s = document.getElementById('mixLayer'); s.value = s.max; "
                         "s.dispatchEvent(new Event('change')); }")
    assert page.evaluate("() => window.gf.mix.layer") == int(page.evaluate("() => document.getElementById('mixLayer').max"))
    assert not np.array_equal(before, canvas_pixels(page, "mix"))
    shoot(page, "mix")


def test_the_nearest_training_image_is_shown_with_its_distances(page):
    changed(page, "nearest", "() => document.getElementById('nearGo').click()", timeout=240_000)
    body = page.evaluate("() => window.gf.nearest")
    assert [m["space"] for m in body["nearest"]] == ["pixels", "lenet8 features"]
    assert all(m["distance"] >= 0 for m in body["nearest"])
    assert "distance" in page.locator("#nearnote").text_content()
    assert canvas_pixels(page, "nearest").std() > 10
    shoot(page, "nearest")


def test_translate_a_test_image_and_an_upload(page):
    pick_run(page, "3", "translate")
    page.wait_for_function("() => window.gf.app && window.gf.app.task === 'translate'")
    assert canvas_pixels(page, "trOut").std() > 10
    edge = np.zeros((16, 16), np.uint8)
    edge[3:13, 7:9] = 255
    buf = io.BytesIO()
    Image.fromarray(edge).save(buf, format="PNG")
    version = page.evaluate("() => document.getElementById('trOut').dataset.version")
    page.set_input_files("#trFile", files=[{"name": "edge.png", "mimeType": "image/png", "buffer": buf.getvalue()}])
    page.wait_for_function(f"() => document.getElementById('trOut').dataset.version !== '{version}' "
                           f"&& window.gf.app.source === 'upload' && window.gf.busy === 0")
    shoot(page, "translate")


def test_upscale_compares_bicubic_and_the_model_with_a_slider(page):
    pick_run(page, "4", "upscale")
    page.wait_for_function("() => window.gf.upscale && window.gf.busy === 0")
    before = canvas_pixels(page, "upOut")
    changed(page, "upOut", "() => { const s = document.getElementById('upSlider'); s.value = '0'; "
                           "s.dispatchEvent(new Event('input')); }")
    assert not np.array_equal(before, canvas_pixels(page, "upOut"))  # the line moved: more of the model shows
    changed(page, "upOut", "() => { const s = document.getElementById('upSlider'); s.value = '50'; "
                           "s.dispatchEvent(new Event('input')); }")  # half and half, for the picture
    shoot(page, "upscale")


def test_anomaly_score_and_residual_map(page):
    pick_run(page, "0", "score")
    page.wait_for_function("() => window.gf.app && window.gf.app.task === 'score' && window.gf.busy === 0",
                           timeout=120_000)
    assert "anogan anomaly score" in page.locator("#scnote").text_content()
    assert canvas_pixels(page, "scOut").std() > 10
    shoot(page, "score")


def source_pixels(pg) -> np.ndarray:
    """The grid's images at the model's own resolution, read back from the canvas: each drawn cell is a
    nearest-neighbour enlargement, so the centre of each source pixel's block holds that pixel exactly."""
    g = pg.evaluate("() => window.gf.grid")
    h, size = g["shape"][1], g["cell"] - 2 * g["inset"]
    at = ((np.arange(h) + 0.5) * size / h).astype(int)
    return cells(pg)[:, at][:, :, at]


@pytest.fixture
def class_page(browser, class_run, shots):
    """The explorer over the class-conditional run that draws its classes (conftest's ``class_run``) alone."""
    with serving([class_run]) as url:
        pg, offsite = open_page(browser, url)
        pg.shots = shots  # shoot() saves here
        yield pg
        assert not offsite, offsite
        pg.close()


def test_picking_class_3_gives_images_the_judge_reads_as_3(class_page, class_run, judge_dir):
    page = class_page
    page.select_option("#run", "0")
    page.wait_for_function("() => window.gf.busy === 0 && document.getElementById('classbox').hidden === false")
    run = load_run(class_run)
    read = {}
    for wanted in (5, 3):  # 3 last: its grid is the picture
        redraw(page, f"() => {{ const c = document.getElementById('class'); c.value = '{wanted}'; "
                     "c.dispatchEvent(new Event('change')); }")
        imgs = source_pixels(page)
        seeds = page.evaluate("() => window.gf.grid.seeds")
        for seed, img in list(zip(seeds, imgs))[:4]:  # what is judged is the model's own sample, read back exactly
            np.testing.assert_array_equal(img, run.sample(1, seed=seed, classes=wanted)[0, 0])
        # digits: lenet8, trained for the session (no download); MNIST (a given run): lenet from the user's cache
        judge = (load_judge("lenet8", data_dir=judge_dir) if imgs.shape[-1] == 8
                 else load_judge("lenet", data_dir=DEFAULT_DIR.expanduser()))
        read[wanted] = (judge(imgs[:, None].copy())[1].argmax(1).numpy() == 3).mean()
    assert read[3] >= 0.8 and read[5] < read[3] - 0.5, read  # class 3 reads as 3; class 5 does not
    shoot(page, "grid", "grid-class3")


def test_a_refused_plane_request_shows_the_server_s_line_and_raises_no_page_error(browser, server):
    pg = browser.new_page(viewport={"width": 1400, "height": 1100})
    page_errors, console_errors = [], []
    pg.on("pageerror", lambda e: page_errors.append(str(e)))
    pg.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    pg.goto(server)
    pg.wait_for_function("() => window.gf && window.gf.grid !== null && window.gf.busy === 0")
    pick_run(pg, "1", "plane")
    pg.fill("#planeSpan", "50")
    pg.press("#planeSpan", "Enter")  # the server refuses span 50 with a 422 (was an uncaught page error)
    pg.wait_for_function("() => document.getElementById('error').textContent !== ''", timeout=60_000)
    assert pg.locator("#error").text_content().startswith("span must be in 0.05..3")
    pg.fill("#isteps", "99")
    pg.press("#isteps", "Enter")
    pg.wait_for_function("() => document.getElementById('isteps').value === '16' && window.gf.busy === 0")
    assert not page_errors, page_errors
    assert not [m for m in console_errors if "422" not in m], console_errors  # the refusal's own line only: no
    pg.close()  # favicon 404


def test_a_run_deleted_while_exploring_shows_its_error_line(browser, explore_runs, tmp_path):
    gone = tmp_path / "gone"
    shutil.copytree(explore_runs / "digits", gone)
    with serving([explore_runs / "digits", gone]) as url:
        shutil.rmtree(gone)
        pg, offsite = open_page(browser, url)
        page_errors = []
        pg.on("pageerror", lambda e: page_errors.append(str(e)))
        pg.select_option("#run", "1")
        pg.wait_for_function("() => window.gf.busy === 0 && document.getElementById('runinfo').textContent"
                             ".includes('no longer exists')", timeout=60_000)
        assert "step ?" not in pg.locator("#runinfo").text_content()
        assert "no longer exists" in pg.locator("#gridnote").text_content()  # not "does not generate from seeds"
        assert not page_errors and not offsite, (page_errors, offsite)
        pg.close()


def test_the_anomaly_strip_wraps_inside_its_panel_and_a_one_point_curve_is_a_dot(browser, server):
    pg = browser.new_page(viewport={"width": 1300, "height": 1000})
    pg.goto(server)
    pg.wait_for_function("() => window.gf && window.gf.grid !== null && window.gf.busy === 0 "
                         "&& document.getElementById('scInputs').dataset.count")
    strip, panel = (pg.evaluate(f"() => document.getElementById('{i}').getBoundingClientRect().toJSON()")
                    for i in ("scInputs", "panel-score"))
    assert strip["right"] <= panel["right"], (strip, panel)  # ran past the panel's edge at 1300 px
    cols = int(pg.evaluate("() => document.getElementById('scInputs').dataset.cols"))
    changed(pg, "scOut", "() => { const c = document.getElementById('scInputs'), r = c.getBoundingClientRect(); "
                         "c.dispatchEvent(new MouseEvent('click', {clientX: r.left + 20, clientY: r.top + 60})); }")
    assert cols < int(pg.evaluate("() => document.getElementById('scInputs').dataset.count"))  # wrapped
    # a curve of one point: a line of one point draws nothing, so it is a dot
    blue = pg.evaluate("""() => { const c = document.createElement('canvas'); c.width = 300; c.height = 150;
        plot(c, [{ name: '', color: '#2a6fdb', points: [[5, 1.0]] }]);
        const d = c.getContext('2d').getImageData(0, 0, 300, 150).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 180 && d[i] < 120) n++;
        return n; }""")
    assert blue >= 9, blue
    pg.close()


def settle(pg, script: str = "true") -> None:
    pg.wait_for_function(f"() => window.gf && window.gf.busy === 0 && ({script})", timeout=120_000)


def test_the_page_opens_the_checkpoint_the_server_opened_not_a_damaged_newer_one(browser, explore_runs, tmp_path):
    """The newest checkpoint is damaged and the server passed it over: the page selected it anyway, so every
    panel asked for it and was refused, with the header saying step 5 and the picker step 10."""
    bad = tmp_path / "bad"
    shutil.copytree(explore_runs / "digits", bad)
    weights = bad / "checkpoints" / "step-0000010" / "G.safetensors"
    weights.write_bytes(weights.read_bytes()[:50])
    with serving([bad]) as url:
        pg, offsite = open_page(browser, url)
        settle(pg, "document.getElementById('interppath').textContent !== ''")
        assert pg.evaluate("() => document.getElementById('ckpt').value") == "step-0000005"
        assert "(damaged: skipped)" in pg.locator("#ckpt option[value='step-0000010']").text_content()
        assert pg.locator("#error").text_content() == "" and "step 5" in pg.locator("#runinfo").text_content()
        assert all(c.std() > 1 for c in cells(pg))
        assert not offsite, offsite
        pg.close()


def test_a_refusal_s_line_outlives_the_other_panels_successes_until_the_next_action(browser, server):
    """One change redraws the grid, the strip and the plane at once; the plane's refusal came back first and
    the grid's success wiped its line. It now stays until the user does something else."""
    pg = browser.new_page(viewport={"width": 1400, "height": 1100})
    pg.goto(server)
    settle(pg, "window.gf.grid !== null")
    pick_run(pg, "1", "plane")
    versions = pg.evaluate("() => [document.getElementById('grid').dataset.version, "
                           "document.getElementById('interp').dataset.version]")
    pg.evaluate("() => { document.getElementById('planeSpan').value = '50'; "  # refused by the server: 422
                "const c = document.getElementById('ckpt'); c.dispatchEvent(new Event('change')); }")
    settle(pg, f"document.getElementById('grid').dataset.version !== '{versions[0]}' && "
               f"document.getElementById('interp').dataset.version !== '{versions[1]}'")  # both succeeded
    assert pg.locator("#error").text_content().startswith("span must be in 0.05..3")
    pg.fill("#planeSpan", "1")
    pg.press("#planeSpan", "Enter")  # a new action: the old line goes, and this one is not refused
    settle(pg)
    assert pg.locator("#error").text_content() == ""
    pg.close()


def test_the_live_controls_follow_the_server_and_a_button_sends_only_what_was_changed(browser, server):
    """Another tab (here: a request from outside) sets hinge and k 3: this tab's controls show them, and its
    step G keeps them (it sent every control's value, putting back minimax and k 1)."""
    pg = browser.new_page(viewport={"width": 1400, "height": 1100})
    pg.goto(server)
    settle(pg, "window.gf.live !== null")
    post = ("(body) => fetch('/api/live', {method: 'POST', headers: {'Content-Type': 'application/json'}, "
            "body: JSON.stringify(body)}).then((r) => r.json())")
    pg.evaluate(post, {"action": "pause", "loss": "hinge", "k": 3, "lr": 0.002})
    settle(pg, "document.getElementById('lloss').value === 'hinge' && document.getElementById('lk').value === '3' "
               "&& Number(document.getElementById('llr').value) === 0.002")
    step = pg.evaluate("() => window.gf.live.step")
    pg.click("#lstepg")
    settle(pg, f"window.gf.live.step === {step + 1}")
    assert pg.evaluate("() => window.gf.live.settings") == {"dataset": "ring8", "loss": "hinge", "k": 3, "lr": 0.002,
                                                            "seed": 0}
    pg.select_option("#lloss", "least-squares")  # a change made here is sent, alone
    settle(pg, "window.gf.live.settings.loss === 'least-squares'")
    assert pg.evaluate("() => window.gf.live.settings.k") == 3
    pg.evaluate(post, {"action": "reset", "loss": "minimax", "k": 1, "lr": 0.001})  # as the other tests found it
    pg.close()


def test_panels_a_run_cannot_fill_are_not_shown(browser, server):
    """pix2pix: the grid's note alone (no empty canvas, no seed or truncation controls) and no interpolation
    strip; with no runs at all (the live view alone), no run panel shows."""
    pg = browser.new_page(viewport={"width": 1400, "height": 1100})
    pg.goto(server)
    settle(pg, "window.gf.grid !== null")
    pick_run(pg, "3", "translate")
    assert pg.is_visible("#gridnote") and "does not generate" in pg.locator("#gridnote").text_content()
    for hidden in ("#grid", "#gridcontrols", "#truncbox", "#panel-interp", "#panel-plane", "#panel-nearest"):
        assert not pg.is_visible(hidden), hidden
    pick_run(pg, "2", "mix")  # a style-based run: everything back
    for shown in ("#grid", "#truncbox", "#panel-interp"):
        assert pg.is_visible(shown), shown
    pg.close()
    with serving([]) as url:
        pg = browser.new_page(viewport={"width": 1400, "height": 1100})
        pg.goto(url)
        pg.wait_for_function("() => document.getElementById('runinfo').textContent.includes('no runs given')")
        for panel in ("grid", "interp", "plane", "nearest", "curves", "mix", "translate", "upscale", "score"):
            assert not pg.is_visible(f"#panel-{panel}"), panel
        assert pg.is_visible("#panel-live") and not pg.is_visible("#ckpt")
        pg.close()


def test_seed_boxes_stop_at_2_53_where_a_page_number_stops_being_exact(page):
    """Past 2^53 - 1 a JS number cannot hold every integer: seed 2^53 + 1 was asked as 2^53 + 1 but labelled
    2^53, and a first seed there gave 36 copies of one seed."""
    top = 2**53 - 1
    page.select_option("#run", LAST)
    settle(page)
    page.fill("#seedA", str(2**53 + 1))
    page.press("#seedA", "Enter")
    settle(page, f"document.getElementById('interppath').textContent.includes('seed {top} ')")
    assert page.evaluate("() => document.getElementById('seedA').value") == str(top)
    redraw(page, f"() => {{ const s = document.getElementById('seed0'); s.value = '{2**53 + 1}'; "
                 "s.dispatchEvent(new Event('change')); }")
    seeds = page.evaluate("() => window.gf.grid.seeds")
    assert len(set(seeds)) == len(seeds) == 36 and max(seeds) <= top, seeds
