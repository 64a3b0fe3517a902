"""Metrics tests: offline, in a private data dir, with judges small enough to train in a second."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.data import mnist
from ganforge.metrics import evaluation as evaluate_mod
from ganforge.metrics import judges
from ganforge.metrics.judges import Judge


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors gain nothing from threads, and on a loaded CPU OpenMP threads slow each other
    down by an order of magnitude: run these tests on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fast_judges(monkeypatch):
    """The real judge architectures with a 2-epoch recipe (a different cache key from the real one)."""
    for name, spec in list(judges.JUDGES.items()):
        monkeypatch.setitem(judges.JUDGES, name,
                            dataclasses.replace(spec, recipe={**spec.recipe, "epochs": 2}))


# --- a fake MNIST whose digits a stand-in judge reads exactly ---------------------------------

LEVELS = np.arange(10) * 25 + 10  # class k: every pixel near 25 k + 10


def fake_mnist_arrays(n_train: int, n_valid: int, n_test: int, seed: int = 0):
    rng = np.random.default_rng(seed)

    def make(n):
        y = rng.integers(0, 10, size=n)
        x = np.clip(LEVELS[y][:, None, None] + rng.integers(-3, 4, size=(n, 28, 28)), 0, 255).astype(np.uint8)
        return x, y.astype(np.int64)

    x60, y60 = make(n_train + n_valid)
    xt, yt = make(n_test)
    return x60, y60, xt, yt


def install_fake_mnist(data_dir, monkeypatch, n_train=200, n_valid=50, n_test=100, seed=0):
    """Write the arrays as the four IDX files a user may place in <data_dir>/mnist/raw."""
    x60, y60, xt, yt = fake_mnist_arrays(n_train, n_valid, n_test, seed)

    def idx(a):
        head = (0x800 + a.ndim).to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
        return gzip.compress(head + a.astype(np.uint8).tobytes())

    files = {"train-images-idx3-ubyte.gz": idx(x60), "train-labels-idx1-ubyte.gz": idx(y60),
             "t10k-images-idx3-ubyte.gz": idx(xt), "t10k-labels-idx1-ubyte.gz": idx(yt)}
    raw = data_dir / "mnist" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (raw / name).write_bytes(blob)
    monkeypatch.setattr(mnist, "TRAIN_SIZE", n_train)
    monkeypatch.setattr(mnist, "IDX_FILES", {k: hashlib.sha256(v).hexdigest() for k, v in files.items()})
    payload = {"x_train60k": x60, "y_train60k": y60, "x_test": xt, "y_test": yt}
    monkeypatch.setattr(mnist, "IDX_PAYLOAD_SHA256", {k: mnist.idx_payload_sha256(a) for k, a in payload.items()})
    return payload


@pytest.fixture
def fake_mnist(isolated_data, monkeypatch):
    """``install(n_train=..., n_valid=..., n_test=..., seed=...)`` puts a fake MNIST in the data dir."""
    return lambda **kw: install_fake_mnist(isolated_data, monkeypatch, **kw)


class LevelReader(nn.Module):
    """Reads a fake-MNIST digit exactly from its mean brightness."""

    num_features = 2

    def embed(self, x):
        x = x.float()
        return torch.stack([x.mean((1, 2, 3)), x.std((1, 2, 3))], 1)

    def classify(self, f):
        centres = torch.as_tensor(LEVELS, dtype=torch.float32)
        return -((f[:, :1] - centres[None]) ** 2)


@pytest.fixture
def exact_lenet(monkeypatch):
    """Replace the MNIST judge by the exact stand-in for everything the evaluator loads."""
    judge = Judge(name="lenet", net=LevelReader(), input_shape=(1, 28, 28), num_classes=10,
                  record={"test_accuracy": 1.0, "key": "stand-in"})
    real = evaluate_mod.load_judge
    monkeypatch.setattr(evaluate_mod, "load_judge",
                        lambda name, *a, **k: judge if name == "lenet" else real(name, *a, **k))
    return judge
