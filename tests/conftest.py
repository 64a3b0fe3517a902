"""Shared fixtures: every test gets a private data dir and can never reach the network."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import pytest

import ganforge
from ganforge import config, download, presets
from ganforge.data import mnist
from ganforge.engine.loop import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent / "recipes"))
from translation_data import QUIET, TINY_D, TINY_G, edges_npz  # noqa: E402  (tests/recipes: the edges task)


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="session")
def benchmark_script():
    """``load(name)``: the script benchmarks/<name>.py as a module (the scripts are not a package)."""
    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


@pytest.fixture(scope="session", autouse=True)
def session_data(tmp_path_factory):
    """A GANFORGE_DATA for module- and session-scoped fixtures, which pytest sets up before the per-test
    ``isolated_data``: without it their datasets, stores and table caches landed in ~/.cache/ganforge."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GANFORGE_DATA", str(tmp_path_factory.mktemp("session-gfdata")))
    yield
    mp.undo()


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


TINY = ["log.tensorboard=false", "log.progress=false", "model.z_dim=8", "model.g.hidden=[16]",
        "model.d.hidden=[8]", "model.d.pieces=2", "log.every=5", "log.checkpoint_every=10",
        "log.sample_every=1000", "train.batch_size=16"]


@pytest.fixture
def tiny_trainer(tmp_path):
    """``tiny_trainer("train.steps=10", ..., name="run", preset=..., resume=False)`` -> Trainer in tmp_path/name:
    a tiny, quiet trainer on the embedded digits, for tests of the engine's behaviour."""

    def make(*extra, name="run", preset="gan2014-digits", resume=False):
        cfg = config.resolve(presets.load_preset(preset)[0], [*TINY, *extra])
        return Trainer(cfg, tmp_path / name, resume=resume)

    return make


@pytest.fixture
def read_only(monkeypatch):
    """``read_only(path)`` makes a directory that ganforge sees as read-only, also when the tests run as
    root (who may write anywhere): mode 0o555, and ``os.access`` answers False for writing under it."""
    import os
    from pathlib import Path

    frozen: list[Path] = []
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        p = Path(path).absolute()
        if mode & os.W_OK and any(p == f or f in p.parents for f in frozen):
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)

    def make(path):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o555)
        frozen.append(path.absolute())
        return path

    yield make
    for path in frozen:
        path.chmod(0o755)


# Tiny runs shared by the tests of the verbs and apps that open a run (serve, explore, capabilities, the
# hardened CLI): each trained once per session, on first use, a few steps on the embedded digits (the
# interfaces are tested, not the models). They used to be trained again in four conftests.
RUN_TINY = [*TINY[:-3], "log.checkpoint_every=5", *TINY[-2:]]  # checkpoints at steps 5 and 10: two to pick
CGAN = {"data": {"name": "digits"}, "log": {"every": 5, "tensorboard": False, "progress": False},
        "model": {"z_dim": 8, "z_dist": "normal", "g": {"arch": "dcgan", "base_channels": 8, "conditioning": "cbn"},
                  "d": {"arch": "dcgan", "base_channels": 8, "conditioning": "projection", "norm": "none"}},
        "loss": {"d": "hinge", "g": "hinge"}, "train": {"batch_size": 16}}
QUIET_RUN = ["log.tensorboard=false", "log.progress=false", "log.every=5", "log.checkpoint_every=5",
             "log.sample_every=1000"]
SR = ["data.name=digits", "superres.hr_crop=8", "model.g.scale=2", "model.g.channels=8", "model.g.blocks=1",
      "train.batch_size=8", *QUIET_RUN]
STYLE = ["data.name=digits", "model.g.channels=8", "model.g.w_dim=16", "model.d.channels=8", "model.z_dim=8",
         "train.batch_size=8", "log.tensorboard=false", "log.progress=false", "ema.half_life_images=8",
         "ema.rampup=null", "log.sample_every=1000"]


def _pix2pix(root):
    return config.resolve(None, ["recipe=paired-translation", *TINY_G, *TINY_D, *QUIET,
                                 f"data.name={edges_npz(root)}"])


# name -> (preset or config, steps, --set items); a callable builds the config from the runs' folder.
TINY_RUNS = {
    "digits": ("gan2014-digits", 10, RUN_TINY),
    "ring8": ("gan2014-ring8", 10, RUN_TINY),
    "cgan": (CGAN, 10, []),
    "sr": ("srresnet-x4", 5, SR),
    "sr-rgb": ("srresnet-x4", 2, [*SR, "data.channels=3"]),  # RGB: upscale's alpha channel
    "style": ("stylegan2-mnist", 3, STYLE),
    "pix2pix": (_pix2pix, 2, []),
}


class TinyRuns:
    """``tiny_runs / "cgan"`` (or ``"digits/checkpoints/step-0000005"``): the path, its run trained on first use."""

    def __init__(self, root):
        self.root = root

    def __truediv__(self, name: str):
        run = str(name).split("/")[0]
        if not (self.root / run / "config.yaml").exists():
            preset, steps, settings = TINY_RUNS[run]
            if callable(preset):
                preset = preset(self.root)
            ganforge.train(preset, out=self.root / run, steps=steps, set=settings)
        return self.root / name


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    return TinyRuns(tmp_path_factory.mktemp("tiny-runs"))
