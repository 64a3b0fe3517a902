"""``ganforge explore`` as a real process: Ctrl-C stops it while a live-view stream is open (a browser tab,
or ``curl -N``). The stream never ends by itself and uvicorn waits for every response before it stops, so
without the explorer's own hook on the signal the first Ctrl-C waited for as long as the tab stayed open."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest


def connect(host: str, port: int, proc: subprocess.Popen, seconds: float = 60) -> socket.socket:
    """A connection once the server listens (the port is bound before the app is built, and uvicorn listens
    after)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stderr.read()
        try:
            return socket.create_connection((host, port), timeout=30)
        except ConnectionRefusedError:
            time.sleep(0.1)
    raise AssertionError("the explorer did not come up")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_explorer_while_a_live_stream_is_open(sig, code):
    # a suite started in the background inherits SIGINT ignored: give the child the default, as a terminal would
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "explore", "--port", "0"], stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = proc.stderr.readline()
        host, port = re.search(r"http://([\d.]+):(\d+)", line).groups()
        with connect(host, int(port), proc) as stream:
            stream.sendall(b"GET /api/live/stream HTTP/1.1\r\nHost: explore\r\n\r\n")
            got = b""
            while b"data: " not in got:  # the first frame: the stream is open and being served
                got += stream.recv(65536)
            proc.send_signal(sig)
            try:
                assert proc.wait(20) == code  # within a second or so; it used to wait until the client left
            except subprocess.TimeoutExpired:
                pytest.fail("the explorer was still running 20 s after the signal, with a live stream open")
        err = proc.stderr.read()
        assert "Traceback" not in err and "stopped" in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
