"""The explorer's grid on a trained style-based run at psi 0.5: towards the one mean w, then towards K
centres (docs/explore.md, 'Truncation towards centres'). Playwright drives Debian's chromium
(``/usr/bin/chromium``; ``playwright install`` is never run) against the explorer's own page.

    python benchmarks/explore_shots.py RUN_DIR --out docs/img/explore [--centres 64] [--psi 0.5]

Writes ``grid-psi05-mean.png`` and ``grid-psi05-centres.png`` (the psi in the name) under ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from ganforge.explore.app import build_app

CHROMIUM = "/usr/bin/chromium"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a trained style-based run directory")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--centres", type=int, default=64)
    p.add_argument("--psi", type=float, default=0.5)
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    app = build_app([a.run], truncation_centres=a.centres, log=print)
    print(f"fitted in {time.perf_counter() - t0:.1f} s", flush=True)
    # Port 0: the system picks a free one (a fixed port clashes with any server already on it).
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    tag = f"psi{a.psi:g}".replace(".", "")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(f"http://127.0.0.1:{port}")
        page.wait_for_function("() => window.gf && window.gf.grid !== null && window.gf.busy === 0")

        def redraw(action: str) -> None:
            version = page.evaluate("() => document.getElementById('grid').dataset.version")
            page.evaluate(action)
            page.wait_for_function(f"() => document.getElementById('grid').dataset.version !== '{version}' "
                                   f"&& window.gf.busy === 0")

        redraw(f"() => {{ const s = document.getElementById('trunc'); s.value = '{a.psi}'; "
               f"s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change')); }}")
        page.locator("#panel-grid").screenshot(path=str(a.out / f"grid-{tag}-mean.png"))
        redraw("() => { const c = document.getElementById('centres'); c.checked = true; "
               "c.dispatchEvent(new Event('change')); }")
        page.locator("#panel-grid").screenshot(path=str(a.out / f"grid-{tag}-centres.png"))
        browser.close()
    server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
