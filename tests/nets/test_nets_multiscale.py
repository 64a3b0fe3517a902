"""Multi-scale D (pix2pixHD): one PatchGAN per pyramid level, usable by any recipe (noise-to-image too)."""

import json

import pytest
import torch

from ganforge import config, presets
from ganforge.config import NetSpec
from ganforge.engine.loop import Trainer
from ganforge.nets import NetContext, build_discriminator
from ganforge.nets.multiscale import downsample
from test_nets_unet import one_gan_step, unet


def multiscale(shape, **opts):
    return build_discriminator(NetSpec("multiscale", {"base_channels": 4, "layers": 1, **opts}), NetContext(shape, 0))


@pytest.mark.parametrize("shape", [(1, 32, 32), (3, 64, 64), (1, 32, 48)])
def test_one_patch_map_per_scale_each_half_the_size(shape):
    D = multiscale(shape, scales=3)
    maps = D.patches(torch.rand(2, *shape))
    assert len(maps) == 3
    sides = [m.shape[-1] for m in maps]
    assert sides[0] > sides[1] > sides[2] >= 1
    assert D(torch.rand(2, *shape)).shape == (2,) and D.features(torch.rand(2, *shape)).shape == (2, 3)


def test_each_scale_judges_the_image_pooled_once_more():
    """Scale k is its own PatchGAN on the image average-pooled k times (pix2pixHD's pyramid)."""
    D = multiscale((1, 32, 32), scales=3)
    x = torch.rand(2, 1, 32, 32)
    maps = D.patches(x)
    for k, d in enumerate(D.scales):
        y = x
        for _ in range(k):
            y = downsample(y)
        assert torch.equal(maps[k], d.patches(y)[0])
    assert y.shape[-1] == 8 and torch.allclose(y.mean(), x.mean(), atol=0.05)


def test_one_d_and_g_step():
    G, D = unet((1, 32, 32), depth=5), multiscale((2, 32, 32), scales=2)
    assert one_gan_step(G, D, torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)) > 0


def test_the_multiscale_d_trains_a_noise_to_image_gan(tmp_path):
    """As the D of a DCGAN on 16-px digits: D learns to score real digits above G's early samples."""
    cfg = config.resolve(presets.load_preset("dcgan-digits")[0],
                         ["data.resolution=16", "model.d.arch=multiscale", "model.d.scales=2", "model.d.layers=1",
                          "model.d.base_channels=8", "model.g.base_channels=8", "train.steps=30",
                          "train.batch_size=32", "log.every=10", "log.tensorboard=false", "log.progress=false",
                          "log.sample_every=1000", "log.checkpoint_every=1000"])
    Trainer(cfg, tmp_path / "run").fit()
    stats = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert stats[-1]["D_real"] > stats[-1]["D_fake"]
    assert stats[-1]["loss_D"] < stats[0]["loss_D"]
