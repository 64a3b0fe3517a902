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
import pandas as pd
import pytest
import yaml
from PIL import Image

from ganforge.cli import main
from ganforge.errors import GanforgeError


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
    # --port 0: the system picks a free port, and the "serving" line names it (it used to say :0)
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "serve", str(run), "--port", "0"],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stderr.readline()
        assert "serving" in line and not line.rstrip().endswith(":0"), line
        url = line.rstrip().rsplit(" ", 1)[1]
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


def test_other_hosts_are_warned_about_once_bound_and_bad_flags_are_one_line(capsys):
    from ganforge.cli.serve import bind

    with bind("0.0.0.0", 0):
        err = capsys.readouterr().err
    assert "warning: binding 0.0.0.0" in err and "--host 127.0.0.1" in err
    assert main(["serve", "no-such-run", "--host", "192.0.2.1"]) == 2  # not opened yet: the run's error alone
    assert "warning" not in capsys.readouterr().err
    with pytest.raises(GanforgeError, match="--host 192.0.2.1 is not an address of this machine"):
        bind("192.0.2.1", 0)  # TEST-NET-1: an address, but no machine's; not blamed on the port
    assert "warning" not in capsys.readouterr().err
    assert main(["serve", "no-such-run", "--max-batch", "0"]) == 2
    assert "--max-batch must be a positive number" in capsys.readouterr().err


def test_truncation_centres_flag_on_a_run_without_a_style_space_is_one_line(served_runs, capsys):
    assert main(["serve", str(served_runs / "digits"), "--truncation-centres", "8"]) == 2
    err = capsys.readouterr().err
    assert "cannot fit truncation centres" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_port_in_use_is_one_line_before_any_serving_line(served_runs, capsys):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert main(["serve", str(served_runs / "digits"), "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert main(["explore", str(served_runs / "digits"), "--port", str(port)]) == 2
        err_explore = capsys.readouterr().err
    for e in (err, err_explore):  # uvicorn's log and its exit code 3 came after a false "serving" line
        assert f"cannot listen on 127.0.0.1:{port}" in e and "--port 0" in e, e
        assert "serving" not in e and "exploring" not in e and len(e.strip().splitlines()) == 1


def test_a_file_is_named_as_a_file_and_a_table_run_has_nothing_to_serve(served_runs, tmp_path, capsys):
    note = tmp_path / "notes.txt"
    note.write_text("x")
    assert main(["serve", str(note)]) == 2
    assert "is a file, not a run directory" in capsys.readouterr().err  # it said "does not exist"
    rng = np.random.default_rng(0)
    table = tmp_path / "t.csv"
    pd.DataFrame({"x": rng.normal(size=200).round(3), "c": rng.choice(["a", "b"], 200)}).to_csv(table, index=False)
    run = tmp_path / "table"
    assert main(["train", "ctgan-fast", "--out", str(run), "--steps", "2", "--set", f"data.name=csv:{table}",
                 "--set", "train.batch_size=50", "--set", "model.d.pack=5", "--set", "log.tensorboard=false",
                 "--set", "log.progress=false"]) == 0
    capsys.readouterr()
    assert main(["serve", str(run), "--port", "0"]) == 2  # it served /health alone, every POST a 404
    err = capsys.readouterr().err
    assert f"{run} is a tabular run, which cannot be served" in err and f"ganforge sample {run}" in err, err
    assert len(err.strip().splitlines()) == 1


def test_an_empty_host_is_named_as_empty(capsys):
    assert main(["serve", "no-such-run", "--host", ""]) == 2
    err = capsys.readouterr().err
    assert "--host is empty; give an address to bind" in err and "--host  " not in err


def test_truncation_centres_on_a_run_without_a_style_space_names_the_flag_not_a_sample_command(served_runs, capsys):
    assert main(["serve", str(served_runs / "digits"), "--truncation-centres", "64"]) == 2
    err = capsys.readouterr().err
    assert "leave --truncation-centres out" in err and "ganforge sample" not in err and "--n 64" not in err
