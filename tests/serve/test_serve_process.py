"""``ganforge serve`` as a real process: it binds loopback, answers, and on SIGTERM finishes the request
in flight before it exits (143, one line); a host other than loopback is warned about."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx2
import numpy as np
import yaml
from PIL import Image

from ganforge.cli import main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stderr.read()
        try:
            if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the server did not come up")


def wait_in_flight(url: str, n: int, asking: threading.Thread, seconds: float = 60) -> bool:
    """Whether the server reports ``n`` requests in flight while ``asking`` still waits for its answer."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and asking.is_alive():
        if httpx2.get(f"{url}/health", timeout=5).json()["in_flight"] >= n:
            return asking.is_alive()
        time.sleep(0.05)
    return False


def test_sigterm_finishes_the_request_in_flight(served_runs, tmp_path):
    run = tmp_path / "slow"
    shutil.copytree(served_runs / "digits", run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["anomaly"]["anogan_steps"] = 4000  # a scoring request that takes a few seconds: one to be in flight
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "serve", str(run), "--port", str(port)],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_up(url, proc)
        answer = {}
        x = np.zeros((8, 8), np.uint8)
        buf = io.BytesIO()
        Image.fromarray(x).save(buf, format="PNG")

        def ask():
            answer["r"] = httpx2.post(f"{url}/v1/score", content=buf.getvalue(), timeout=120)
        t = threading.Thread(target=ask)
        t.start()
        assert wait_in_flight(url, 1, t)  # the request is being scored (a fixed sleep lost this race under load)
        proc.send_signal(signal.SIGTERM)
        t.join(120)
        assert answer["r"].status_code == 200 and np.isfinite(answer["r"].json()["score"])
        assert proc.wait(60) == 143
        err = proc.stderr.read()
        assert "terminated (SIGTERM)" in err and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_other_hosts_are_warned_about_and_bad_flags_are_one_line(capsys):
    assert main(["serve", "no-such-run", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "warning: binding 0.0.0.0" in err and "--host 127.0.0.1" in err
    assert main(["serve", "no-such-run", "--max-batch", "0"]) == 2
    assert "--max-batch must be a positive number" in capsys.readouterr().err


def test_truncation_centres_flag_on_a_run_without_a_style_space_is_one_line(served_runs, capsys):
    assert main(["serve", str(served_runs / "digits"), "--truncation-centres", "8"]) == 2
    err = capsys.readouterr().err
    assert "cannot fit truncation centres" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
