"""Shared fixtures: every test gets a private data dir and can never reach the network."""

from __future__ import annotations

import io

import pytest

from ganforge import download
from ganforge.data import mnist


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    """A fresh GANFORGE_DATA per test; downloads (MNIST mirrors, pip, Inception weights) fail loudly.

    Only file:// URLs still open, for the download helper's own tests.
    """
    data = tmp_path / "gfdata"
    monkeypatch.setenv("GANFORGE_DATA", str(data))
    monkeypatch.delenv("GANFORGE_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("tests must not touch the network")

    real_open_url = download.open_url

    def local_files_only(url, timeout):
        if not url.startswith("file:"):
            no_network()
        return real_open_url(url, timeout)

    monkeypatch.setattr(download, "open_url", local_files_only)
    monkeypatch.setattr(mnist, "pip_download", no_network)
    return data


@pytest.fixture
def fake_web(monkeypatch):
    """``fake_web(answer)`` serves every download: ``answer(url)`` returns the bytes or raises.

    Returns the list of URLs asked for, in order.
    """
    asked: list[str] = []

    def install(answer):
        def open_url(url, timeout):
            asked.append(url)
            return io.BytesIO(answer(url))

        monkeypatch.setattr(download, "open_url", open_url)
        return asked

    return install


def _one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.fixture
def one_line():
    """Check that a raised error's message is the single line the CLI prints; return it."""
    return _one_line
