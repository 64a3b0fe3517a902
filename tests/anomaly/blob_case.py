"""A constructed anomaly case: normal images are one Gaussian blob, anomalies the same blob elsewhere.

Laid out as an MVTec-style folder (``anomaly-folder:PATH``), so the tests run the real protocol
path (validation split of normal images, labelled test split) without MNIST. Each method's
model is trained once per test session, tiny, on the CPU. The fixtures are imported by
``tests/anomaly/conftest.py`` and by the CLI tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge import config, presets
from ganforge.engine.loop import Trainer
from ganforge.runs.run import load_run

SIZE = 16
NORMAL_AT, ANOMALY_AT = (5.0, 5.0), (11.0, 11.0)
SMALL = ["model.g.base_channels=8", "model.d.base_channels=8", "model.z_dim=8", "train.batch_size=32",
         "log.tensorboard=false", "log.progress=false", "log.every=25", "log.sample_every=100000",
         "log.checkpoint_every=100000"]
# preset, steps, extra overrides: small enough for CI, long enough for AUROC ~ 1 on the blobs
MODELS = {
    "fanogan": ("fanogan-mnist", 300, ["anomaly.encoder_steps=150", "train.d_steps=1", "optim.g.lr=0.001",
                                       "optim.d.lr=0.001"]),
    "ganomaly": ("ganomaly-mnist", 150, []),
    "anogan": ("anogan-mnist", 150, ["anomaly.anogan_steps=60", "anomaly.anogan_lr=0.05"]),
}


def blobs(n: int, at: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """uint8 (n, SIZE, SIZE): a Gaussian blob (sigma ~2 px) near ``at``, jittered by up to 1 px."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    cy = at[0] + rng.uniform(-1, 1, n)[:, None, None]
    cx = at[1] + rng.uniform(-1, 1, n)[:, None, None]
    sigma = rng.uniform(1.6, 2.4, n)[:, None, None]
    img = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    return (255 * img).round().astype(np.uint8)


def _write(folder: Path, images: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:03d}.png")


@pytest.fixture(scope="session")
def blob_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("blobs")
    rng = np.random.default_rng(0)
    _write(root / "train", blobs(300, NORMAL_AT, rng))
    _write(root / "test" / "good", blobs(40, NORMAL_AT, rng))
    _write(root / "test" / "shifted", blobs(40, ANOMALY_AT, rng))
    return root


@pytest.fixture(scope="session")
def blob_runs(blob_folder, tmp_path_factory) -> dict[str, Path]:
    """One trained run per method on the normal blobs (trained at first use, then shared)."""
    runs: dict[str, Path] = {}
    base = tmp_path_factory.mktemp("blob-runs")

    def get(method: str) -> Path:
        if method not in runs:
            preset, steps, extra = MODELS[method]
            cfg = config.resolve(presets.load_preset(preset)[0],
                                 [f"data.name=anomaly-folder:{blob_folder}", "data.digit=null", f"train.steps={steps}",
                                  *SMALL, *extra])
            Trainer(cfg, base / method).fit()
            runs[method] = base / method
        return runs[method]

    return get


@pytest.fixture
def opened(blob_runs):
    return lambda method: load_run(blob_runs(method))
