"""Multi-modal truncation: psi pulls each w towards its own image cluster's centre, not the one mean w."""

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.recipes import truncation_centres as tc


class TwoModeGenerator(nn.Module):
    """A style generator with two modes: w = z + 3 sign(z_0) e_0, so the mean w (about 0) lies between
    them, and the image is tanh(w_0) everywhere, its sign the sample's 'class'."""

    num_ws, z_dim = 2, 4

    def __init__(self):
        super().__init__()
        self.register_buffer("w_avg", torch.zeros(self.z_dim))

    def styles(self, z, psi=None):
        w = z.clone()
        w[:, 0] += 3 * torch.sign(z[:, 0])
        return self.truncate(w.unsqueeze(1).repeat(1, self.num_ws, 1), psi)

    def truncate(self, ws, psi, centre=None):
        c = self.w_avg if centre is None else centre.unsqueeze(1)
        return ws if psi is None else c.to(ws).lerp(ws, psi)

    def synthesis(self, ws):
        return torch.tanh(ws[:, 0, 0]).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)


def classes(images):
    return (images.mean((1, 2, 3)) > 0).long()


def draw(G, n=400, seed=5):
    return G.styles(torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed)))


def test_pulling_towards_the_nearest_centre_keeps_each_samples_mode_where_the_mean_loses_it():
    G = TwoModeGenerator().eval()
    centres = tc.fit_centres(G, 2, G.z_dim, "normal", "cpu", n=1000)
    ws = draw(G)
    before = classes(G.synthesis(ws))
    assert 0.3 < before.float().mean() < 0.7  # both modes drawn
    own = G.truncate(ws, 0.0, centres.nearest(G, ws))
    assert torch.equal(classes(G.synthesis(own)), before)  # psi 0: every sample at its own mode's centre
    assert len(torch.unique(own[:, 0], dim=0)) == 2
    mean = G.truncate(ws, 0.0)  # the one mean w: a single image, between the modes
    assert len(torch.unique(G.synthesis(mean))) == 1
    assert abs(float(G.synthesis(mean).mean())) < 0.2
    # the two centres sit in the two modes, at about +-(3 + E|z_0|) = +-3.8 on w_0
    assert sorted(round(float(c), 0) for c in centres.w[:, 0]) == [-4.0, 4.0]


def test_psi_scales_the_distance_to_the_centre():
    G = TwoModeGenerator().eval()
    centres = tc.fit_centres(G, 2, G.z_dim, "normal", "cpu", n=1000)
    ws = draw(G, 50)
    c = centres.nearest(G, ws).unsqueeze(1)
    half = G.truncate(ws, 0.5, centres.nearest(G, ws))
    assert torch.allclose(half - c, 0.5 * (ws - c), atol=1e-6)


def test_the_fit_is_reproducible_and_refuses_a_generator_in_training_mode():
    G = TwoModeGenerator().eval()
    a, b = (tc.fit_centres(G, 3, G.z_dim, "normal", "cpu", n=600) for _ in range(2))
    assert torch.equal(a.w, b.w)
    with pytest.raises(ValueError, match="eval mode"):
        tc.fit_centres(G.train(), 3, G.z_dim, "normal", "cpu", n=600)


@pytest.mark.parametrize("k", [1, tc.MAX_CENTRES + 1])
def test_a_k_that_cannot_be_fitted_is_one_line(k):
    with pytest.raises(GanforgeError, match=f"between 2 and {tc.MAX_CENTRES}.*got {k}; try 64"):
        tc.check_centres(k)


def test_features_are_the_same_whichever_chunks_the_images_are_synthesised_in(monkeypatch):
    G = TwoModeGenerator().eval()
    ws = draw(G, 37)
    whole = tc.features_of(G, ws)
    monkeypatch.setattr(tc, "CHUNK_PIXELS", 5 * 16)  # 5 images of 4x4 at once
    assert whole.shape == (37, 16) and np.array_equal(tc.features_of(G, ws), whole)


def test_large_images_are_pooled_before_clustering():
    x = torch.rand(3, 3, 64, 48) * 4 - 2
    f = tc.image_features(x)
    assert f.shape == (3, 3 * 32 * 24) and f.min() >= -1 and f.max() <= 1
    assert np.allclose(f[:, 0], x[:, 0, :2, :2].clamp(-1, 1).mean((1, 2)).numpy(), atol=1e-6)
