"""The serve tests open the session's tiny runs (tests/conftest.py): digits, a conditional G, ring8
points, a pix2pix translator and an SRResNet."""

import pytest


@pytest.fixture(scope="session")
def served_runs(tiny_runs):
    return tiny_runs
