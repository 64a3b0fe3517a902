"""Keep every data test offline and away from the user's real data cache."""

from __future__ import annotations

import pytest

from ganforge.data import mnist


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    data = tmp_path / "gfdata"
    monkeypatch.setenv("GANFORGE_DATA", str(data))
    monkeypatch.delenv("GANFORGE_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(mnist, "fetch_url", no_network)
    monkeypatch.setattr(mnist, "pip_download", no_network)
    return data


def _one_line(excinfo) -> str:
    """The message of a raised DataError, checked to be the single line the CLI prints."""
    msg = str(excinfo.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.fixture
def one_line():
    return _one_line
