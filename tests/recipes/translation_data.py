"""Tiny two-domain data for the translation recipe tests: scikit-learn's digits, 16 px, as npz files."""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from ganforge.data.translation_tasks import canny_edges

TINY_G = ["model.g.arch=unet", "model.g.depth=4", "model.g.base_channels=4"]
TINY_D = ["model.d.arch=patchgan", "model.d.layers=1", "model.d.base_channels=4"]
QUIET = ["log.tensorboard=false", "log.progress=false", "log.every=5", "log.sample_every=1000",
         "log.checkpoint_every=1000", "train.batch_size=8", "optim.g.name=adam", "optim.d.name=adam",
         "optim.g.lr=2e-3", "optim.d.lr=2e-4", "optim.g.lr_decay=1.0", "optim.d.lr_decay=1.0"]


def digits16(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    d = load_digits()
    x = np.round(d.images[:n] * (255 / 16)).astype(np.uint8)
    return np.kron(x, np.ones((2, 2), np.uint8))[:, None], d.target[:n]


def write(path: Path, a: np.ndarray, b: np.ndarray, y=None, paired=True) -> Path:
    np.savez(path, a=a, b=b, paired=paired, **({"y": y} if y is not None else {}))
    return path


def edges_npz(tmp_path: Path, n: int = 200) -> str:
    x, y = digits16(n)
    return f"npz:{write(tmp_path / 'edges.npz', canny_edges(x), x, y)}"


def inverted_npz(tmp_path: Path, n: int = 200) -> str:
    x, y = digits16(n)
    half = n // 2
    return f"npz:{write(tmp_path / 'inverted.npz', x[:half], 255 - x[half:], y[:half], paired=False)}"
