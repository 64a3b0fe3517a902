"""ProGAN's drift penalty keeps a Wasserstein critic's real outputs near zero."""

import torch

from ganforge import config, presets
from ganforge.engine.loop import Trainer

SETTINGS = ["data.name=digits", "model.g.channels=4", "model.d.channels=4", "model.z_dim=8", "train.batch_size=8",
            "train.steps=30", "reg.gp=0", "optim.d.lr=0.01", "log.progress=false", "log.tensorboard=false",
            "log.every=30", "log.checkpoint_every=1000", "log.sample_every=1000"]


def _real_logit(tmp_path, name, drift):
    cfg = config.resolve(presets.load_preset("progan-mnist-paper")[0], [*SETTINGS, f"reg.drift={drift}"])
    tr = Trainer(cfg, tmp_path / name)
    tr.fit()
    D = tr.built.nets["D"].eval()
    real = tr.built.parts.context.real.next()[0]
    with torch.no_grad():
        return D(real).abs().mean().item(), tr.last


def test_drift_pulls_the_real_logits_towards_zero(tmp_path):
    free, _ = _real_logit(tmp_path, "free", 0.0)
    held, stats = _real_logit(tmp_path, "held", 1.0)
    assert "drift" in stats
    assert held < 0.3 * free, (free, held)
