"""Training streams a store at 64, 128 and 256 px (issue 26 item 5): StyleGAN2 and DCGAN at tiny widths, a few
steps each on the CPU. Each run must give samples of the store's size and a D loss that moved from its first
value (a run whose phases never stepped, or whose batches never reached D, would fail)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ganforge import api
from ganforge.data.store_build import BuildOptions, build_store

# Tiny widths: a smoke test of the shapes and the streaming, not of quality.
NETS = {
    "dcgan": ["model.g={arch: dcgan, base_channels: 2}", "model.d={arch: dcgan, base_channels: 2}",
              "optim.g.name=adam", "optim.d.name=adam", "optim.g.lr=0.002", "optim.d.lr=0.002", "model.z_dist=normal"],
    "stylegan2": ["model.g={arch: stylegan2, channels: 4, w_dim: 8, mapping_layers: 1}",
                  "model.d={arch: stylegan2, channels: 4, mbstd_group: 2}", "model.z_dim=8", "recipe=style-based",
                  "optim.g.name=adam", "optim.d.name=adam", "optim.g.lr=0.002", "optim.d.lr=0.002",
                  "model.z_dist=normal"],
}
STEPS = 6


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A folder of 16 photos-like images of mixed sizes (gradients plus noise), RGB and grey."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(16):
        w, h = int(rng.integers(260, 400)), int(rng.integers(260, 400))
        ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :, None] * rng.random(3)
        img = np.clip(ramp + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / f"{i:02d}.{'png' if i % 2 else 'jpg'}")
    return root


@pytest.mark.parametrize("arch", sorted(NETS))
@pytest.mark.parametrize("res", [64, 128, 256])
def test_trains_from_a_store_at_each_resolution(tmp_path, source, arch, res):
    store = tmp_path / f"store{res}"
    build_store(source, store, BuildOptions(resolution=res, crop="center", labels="none", channels=3))
    run = api.train(None, out=tmp_path / "run", steps=STEPS, device="cpu",
                    set=[f"data.name=store:{store}", "train.batch_size=4", "log.every=1", "log.sample_every=1000",
                         "log.sample_count=4", "log.checkpoint_every=1000", "log.tensorboard=false",
                         "log.progress=false", "log.diversity_n=0", *NETS[arch]])
    assert run.sample(3, seed=0).shape == (3, 3, res, res)
    stats = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    losses = [s["loss_D"] for s in stats if "loss_D" in s]
    assert len(losses) >= STEPS - 1 and all(np.isfinite(losses))
    assert max(abs(v - losses[0]) for v in losses[1:]) > 1e-3  # D's loss moved: the steps trained on the store


def test_a_resumed_store_run_with_augmentation_is_bitwise_the_straight_one(tmp_path, source):
    """Creating the DataLoader's iterator drew its workers' seed from the global RNG (the one augmentation
    draws from), and a resumed run creates it again at the resumed step: the weights drifted apart."""
    from safetensors.torch import load_file
    import torch

    store = tmp_path / "store"
    build_store(source, store, BuildOptions(resolution=64, crop="center", labels="none", channels=3))
    opts = [f"data.name=store:{store}", "train.batch_size=4", "log.every=2", "log.sample_every=1000",
            "log.checkpoint_every=2", "log.tensorboard=false", "log.progress=false", "log.diversity_n=0",
            "augment.policy=translation,cutout", *NETS["dcgan"]]
    api.train(None, out=tmp_path / "a", steps=4, device="cpu", set=opts)
    api.train(None, out=tmp_path / "b", steps=2, device="cpu", set=opts)
    api.train(None, out=tmp_path / "b", steps=4, device="cpu", set=opts, resume=True)
    last = "checkpoints/step-0000004/G.safetensors"
    a, b = load_file(str(tmp_path / "a" / last)), load_file(str(tmp_path / "b" / last))
    assert all(torch.equal(a[k], b[k]) for k in a)
