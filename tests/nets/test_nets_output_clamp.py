"""ProGAN's and StyleGAN2's G end in a linear layer (the papers'), so they overshoot their output_range (-1, 1);
every path that turns G's output into samples (render, sample_chunks, the preview grid, the diversity judge)
goes through sampling.to_output, which clamps it into that range."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from ganforge import config
from ganforge.config import NetSpec
from ganforge.nets import NetContext, build_generator
from ganforge.recipes import noise_to_image
from ganforge.sampling import to_uint8
from ganforge.training import monitor

TINY = {"progan": {"channels": 8}, "stylegan2": {"channels": 8, "w_dim": 16, "mapping_layers": 2}}
Z_DIM = 8


class Overshooting(nn.Module):
    """The real G, its linear output scaled up so that it certainly leaves (-1, 1)."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G, self.output_range = G, G.output_range

    def forward(self, z, y=None):
        return 10 * self.G(z)


def _expected(G, z):
    raw = G(z)
    assert raw.min() < -1 and raw.max() > 1  # the case under test: outside the claimed range
    return to_uint8(raw.clamp(-1, 1), G.output_range).numpy()


@pytest.fixture(params=sorted(TINY))
def overshooting(request):
    torch.manual_seed(0)
    G = build_generator(NetSpec(request.param, TINY[request.param]), NetContext(data_shape=(1, 8, 8), z_dim=Z_DIM))
    assert G.output_range == (-1.0, 1.0)
    return Overshooting(G.eval())


@torch.no_grad()
def test_render_and_sample_chunks_clamp(overshooting):
    cfg = config.resolve(None, [f"model.z_dim={Z_DIM}", "model.z_dist=normal"])
    model = noise_to_image.NoiseToImageModel(cfg, {"G": overshooting})
    latents = model.latents(6, seed=3)
    out = model.render(latents)
    assert out.dtype == np.uint8 and np.array_equal(out, _expected(overshooting, latents["z"]))
    chunk, _ = next(iter(model.sample_chunks(6, seed=3)))
    assert np.array_equal(chunk, out)  # the first chunk draws the latents render was given


@torch.no_grad()
def test_the_preview_grid_and_the_judge_clamp(overshooting, monkeypatch, tmp_path):
    cfg = config.resolve(None, [f"model.z_dim={Z_DIM}", "model.z_dist=normal", "log.sample_count=4"])
    data = SimpleNamespace(num_classes=None, kind="image", meta={})
    preview = noise_to_image._Preview(cfg, data, torch.device("cpu"), conditional=False)
    saved = []
    monkeypatch.setattr(noise_to_image, "save_image_grid", lambda out, path: saved.append(out) or path)
    preview.save({"G": overshooting}, tmp_path / "grid.png", step=0)
    assert np.array_equal(saved[0], _expected(overshooting, preview.z))

    seen = []

    def judge(x):
        seen.append(x)
        return torch.zeros(len(x), 2), torch.zeros(len(x), 3)

    samples = overshooting(preview.z)
    monitor.judge_figures(judge, samples, samples, overshooting.output_range)
    assert np.array_equal(np.asarray(seen[0]), _expected(overshooting, preview.z))
