"""Short runs that must measurably learn (CPU, seconds)."""

import numpy as np
import pytest

from ganforge import config, presets
from ganforge.data import load_dataset
from ganforge.metrics.modes import mode_coverage
from ganforge.sampling import generate
from ganforge.engine.loop import Trainer

QUIET = ["log.tensorboard=false", "log.progress=false"]


def _trainer(tmp_path, preset, *overrides):
    cfg = config.resolve(presets.load_preset(preset)[0], [*QUIET, *overrides])
    return Trainer(cfg, tmp_path / "run")


def _nearest_mode_distance(points, centers):
    return np.linalg.norm(points[:, None] - np.asarray(centers)[None], axis=-1).min(1).mean()


def test_ring8_samples_move_to_the_modes(tmp_path):
    tr = _trainer(tmp_path, "gan2014-ring8", "train.steps=2000", "train.batch_size=128",
                  "model.g.hidden=[64, 64]", "model.d.hidden=[64, 64]", "model.d.pieces=2", "log.every=500")
    centers, std = tr.built.data.meta["centers"], tr.built.data.meta["std"]
    before = generate(tr.built.nets["G"].eval(), 2500, z_dim=tr.cfg.model.z_dim, z_dist=tr.cfg.model.z_dist, seed=1)[0]
    tr.built.nets["G"].train()
    tr.fit()
    after = generate(tr.built.nets["G"].eval(), 2500, z_dim=tr.cfg.model.z_dim, z_dist=tr.cfg.model.z_dist, seed=1)[0]
    d0, d1 = _nearest_mode_distance(before, centers), _nearest_mode_distance(after, centers)
    cov0, cov1 = mode_coverage(before, centers, std), mode_coverage(after, centers, std)
    assert d1 < d0 / 4, (d0, d1)
    # Within 3 std (0.03) of a mode is a tight target for 2k steps; before training almost nothing is.
    assert cov1["high_quality"] > 10 * max(cov0["high_quality"], 1e-3), (cov0, cov1)
    assert cov1["modes"] >= 3, cov1


@pytest.fixture(scope="module")
def digits_classifier():
    from sklearn.linear_model import LogisticRegression

    d = load_dataset("digits", split="train")
    x = d.x.reshape(len(d), -1).numpy() / 255.0
    return LogisticRegression(max_iter=3000).fit(x, d.y.numpy())


def test_digits_samples_become_recognisable(tmp_path, digits_classifier):
    tr = _trainer(tmp_path, "gan2014-digits", "train.steps=2000", "log.every=500")

    def confidence():
        x = generate(tr.built.nets["G"].eval(), 1000, z_dim=tr.cfg.model.z_dim, z_dist=tr.cfg.model.z_dist, seed=1)[0].reshape(1000, -1) / 255.0
        tr.built.nets["G"].train()
        p = digits_classifier.predict_proba(x)
        return p.max(1).mean(), np.bincount(p.argmax(1), minlength=10)

    conf0, _ = confidence()
    result = tr.fit()
    conf1, classes = confidence()
    assert result.step == 2000
    assert conf1 > conf0 + 0.15, (conf0, conf1)
    assert (classes > 0).sum() >= 8, classes
    assert 0.1 < result.last_stats["D_real"] < 0.99 and 0.01 < result.last_stats["D_fake"] < 0.9
