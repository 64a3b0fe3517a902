"""The explorer in a real browser: Playwright driving the system's chromium (Debian's ``chromium``
package; ``playwright install`` is never run, it downloads browsers). Skipped, with the reason, where
either is missing; CI installs chromium (.ci/run).

Each test reads what the page drew (canvas pixels, the live view's chart data) and saves a
screenshot of its panel into docs/img/explore/, which docs/explore.md shows.
"""

from __future__ import annotations

import base64
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

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "img" / "explore"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
CGAN_RUN = os.environ.get("GANFORGE_TEST_CGAN_RUN")  # a trained class-conditional digits/MNIST run (see below)
LAST = "2" if CGAN_RUN else "1"  # the run the pictures show: the given one, else the tiny conditional run

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not Path(CHROMIUM).exists():
    pytest.skip("no chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(explore_runs):
    runs = [explore_runs / "digits", explore_runs / "cgan"] + ([Path(CGAN_RUN)] if CGAN_RUN else [])
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(build_app(runs), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    pg = browser.new_page(viewport={"width": 1400, "height": 1100})
    offsite = []
    pg.on("request", lambda r: offsite.append(r.url) if not r.url.startswith(server) else None)
    pg.goto(server)
    pg.wait_for_function("() => window.gf && window.gf.grid !== null")
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


def shoot(pg, panel: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.locator(f"#panel-{panel}").screenshot(path=str(SHOTS / f"{panel}.png"))


def test_the_grid_renders_and_a_click_locks_a_seed(page):
    imgs = cells(page)
    assert imgs.std() > 10 and all(c.std() > 1 for c in imgs)  # not blank, and each cell holds an image
    page.locator("#grid").click(position={"x": 36, "y": 36})
    page.wait_for_function("() => window.gf.locked.size === 1")
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


def test_curves_are_drawn_from_stats(page):
    page.select_option("#run", LAST)
    page.wait_for_function("() => window.gf.busy === 0")
    page.wait_for_function("() => document.getElementById('curvekey').options.length > 0")
    url = page.evaluate("() => document.getElementById('curves').toDataURL('image/png')")
    px = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",")[1]))).convert("RGB")).astype(int)
    blue = (px[..., 2] > 150) & (px[..., 0] < 100)  # the curve's colour
    assert blue.sum() > 50
    shoot(page, "curves")


@pytest.mark.skipif(not CGAN_RUN, reason="needs a trained class-conditional digits run in GANFORGE_TEST_CGAN_RUN: "
                    "one the lenet8 judge can read takes minutes of CPU, over this suite's budget")
def test_picking_class_3_gives_images_the_judge_reads_as_3(page):
    from ganforge.metrics.judges import load_judge  # noqa: PLC0415 - only where the run is given
    page.select_option("#run", "2")
    page.wait_for_function("() => window.gf.busy === 0 && document.getElementById('classbox').hidden === false")
    redraw(page, "() => { const c = document.getElementById('class'); c.value = '3'; "
                 "c.dispatchEvent(new Event('change')); }")
    g = page.evaluate("() => window.gf.grid")
    h = g["shape"][1]
    imgs = cells(page)[:, ::(g["cell"] - 2 * g["inset"]) // h, ::(g["cell"] - 2 * g["inset"]) // h][:, :h, :h]
    judge = load_judge("lenet8" if h == 8 else "lenet")
    predicted = judge(imgs[:, None].copy())[1].argmax(1).numpy()
    assert (predicted == 3).mean() >= 0.8, predicted
    shoot(page, "grid-class3")


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
