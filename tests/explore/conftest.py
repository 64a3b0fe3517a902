"""The explorer's tests open the session's tiny runs (tests/conftest.py): an unconditional and a conditional
digits G, and for the panels a style-based G, a pix2pix translator and an SRResNet."""

import pytest


@pytest.fixture(scope="session")
def explore_runs(tiny_runs):
    return tiny_runs


@pytest.fixture(scope="session")
def panel_runs(tiny_runs):
    return tiny_runs
