"""Shared fixtures: every test gets a private data dir and can never reach the network."""

from __future__ import annotations

import pytest

from ganforge.data import mnist
from ganforge.metrics import features


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    """A fresh GANFORGE_DATA per test; downloads (MNIST mirrors, pip, Inception weights) fail loudly."""
    data = tmp_path / "gfdata"
    monkeypatch.setenv("GANFORGE_DATA", str(data))
    monkeypatch.delenv("GANFORGE_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(mnist, "fetch_url", no_network)
    monkeypatch.setattr(mnist, "pip_download", no_network)
    monkeypatch.setattr(features, "fetch_url", no_network)
    return data


def _one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.fixture
def one_line():
    """Check that a raised error's message is the single line the CLI prints; return it."""
    return _one_line
