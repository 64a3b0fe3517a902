"""The explorer's tests open the session's tiny runs (tests/conftest.py): an unconditional and a conditional
digits G, and for the panels a style-based G, a pix2pix translator and an SRResNet. The class-picker test
opens ``class_run``: a conditional digits G trained here until it draws the class it is asked for."""

import os
from pathlib import Path

import pytest
import torch

import ganforge

# gan2014-digits made class-conditional: G reads [z, one_hot(y)], D projects its features onto a class
# embedding. Measured (docs/explore.md, seeds 0-3, one thread): at step 1500 the lenet8 judge reads
# 94-100% of a class-3 grid (36 seeds) as 3 and 0-6% of a class-5 grid, and 90-96% of each class's
# images as the class asked for. About 14 s of one CPU core.
CLASS_RUN = ("gan2014-digits", 1500, ["model.g.conditioning=concat", "model.d.conditioning=projection",
                                       "log.tensorboard=false", "log.progress=false", "log.every=500",
                                       "log.checkpoint_every=1500", "log.sample_every=100000"])


@pytest.fixture(scope="session")
def explore_runs(tiny_runs):
    return tiny_runs


@pytest.fixture(scope="session")
def panel_runs(tiny_runs):
    return tiny_runs


@pytest.fixture(scope="session")
def class_run(tmp_path_factory) -> Path:
    """A class-conditional run that draws the asked-for class: GANFORGE_TEST_CGAN_RUN where it names one
    (a trained cgan-mnist, say), else ``CLASS_RUN`` trained once per session on one thread (the count the
    measurement used; CPU results differ between thread counts)."""
    given = os.environ.get("GANFORGE_TEST_CGAN_RUN")
    if given:
        return Path(given)
    preset, steps, settings = CLASS_RUN
    out = tmp_path_factory.mktemp("class-run") / "cgan-digits"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ganforge.train(preset, out=out, steps=steps, seed=0, set=settings)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="session")
def judge_dir(tmp_path_factory) -> Path:
    """Where the digits judge (lenet8) is trained and cached for the session: it needs no download."""
    return tmp_path_factory.mktemp("judges")
