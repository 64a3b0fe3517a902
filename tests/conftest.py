"""Shared fixtures: every test gets a private data dir and runs offline."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path_factory.mktemp("gfdata")))
    monkeypatch.setenv("GANFORGE_OFFLINE", "1")
