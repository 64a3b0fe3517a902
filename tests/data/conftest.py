"""Data-test helpers (offline isolation lives in tests/conftest.py)."""

from __future__ import annotations

import pytest


def _one_line(excinfo) -> str:
    """The message of a raised DataError, checked to be the single line the CLI prints."""
    msg = str(excinfo.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.fixture
def one_line():
    return _one_line
