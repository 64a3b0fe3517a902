"""Wiring of StyleGAN2's generator: the flags of the built G, not only of the functions they call.

test_nets_stylegan2.py checks ``modulated_conv2d`` with ``demodulate=True`` as a function; here the
*built* G must use it: with demodulation, scaling a conv's weight changes nothing downstream (each
output channel is renormalised), while toRGB (not demodulated) passes the scale straight through.
A G built with ``demodulate`` off, or with toRGB demodulated, fails; so do z fed to the mapping
without pixel norm, a dropped toRGB skip and a D without minibatch std. The path-length phase is also
checked here, on a tiny G: weight x interval x penalty, and its running mean moved by the decay.
"""

from types import SimpleNamespace

import pytest
import torch

from ganforge.config import NetSpec
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.objectives.path_length import PathLengthMean, path_length_term, path_lengths

TINY = {"channels": 8, "w_dim": 16, "mapping_layers": 2, "mixing": 0.0}


def _g(size=8):
    torch.manual_seed(0)
    return build_generator(NetSpec("stylegan2", TINY), NetContext(data_shape=(1, size, size), z_dim=8)).eval()


@torch.no_grad()
def test_the_built_generator_demodulates_its_convs_so_their_weight_scale_cancels():
    G = _g()
    z = torch.randn(4, 8)
    before = G(z)
    for conv in G.convs:
        conv.weight.mul_(7.0)
    after = G(z)
    assert torch.allclose(before, after, rtol=1e-4, atol=1e-5), (before - after).abs().max()


@torch.no_grad()
def test_to_rgb_is_modulated_but_not_demodulated():
    G = _g()
    z = torch.randn(4, 8)
    ws = G.styles(z)
    rgb, x = G.rgbs[0], G.convs[0](G.const.unsqueeze(0).expand(4, -1, -1, -1), ws[:, 0])
    base = rgb(x, ws[:, 1]) - rgb.bias.view(1, -1, 1, 1)
    rgb.weight.mul_(3.0)
    assert torch.allclose(rgb(x, ws[:, 1]) - rgb.bias.view(1, -1, 1, 1), 3.0 * base, rtol=1e-4, atol=1e-6)


@torch.no_grad()
def test_every_resolution_adds_its_to_rgb_to_the_image():
    """The skip generator sums every toRGB: silencing any one of them changes the image."""
    G = _g()
    z = torch.randn(2, 8)
    full = G(z)
    for rgb in G.rgbs:
        saved = rgb.weight.clone(), rgb.bias.clone()
        rgb.weight.zero_(), rgb.bias.zero_()
        assert not torch.allclose(G(z), full)
        rgb.weight.copy_(saved[0]), rgb.bias.copy_(saved[1])


@torch.no_grad()
def test_z_is_pixel_normalised_before_the_mapping_so_its_scale_does_not_matter():
    G = _g()
    z = torch.randn(4, 8)
    assert torch.allclose(G.map(z), G.map(5.0 * z), rtol=1e-4, atol=1e-6)


@torch.no_grad()
def test_d_sees_the_batch_through_minibatch_std():
    """D's score of one image depends on the others in its group (and only through minibatch std)."""
    torch.manual_seed(0)
    D = build_discriminator(NetSpec("stylegan2", {"channels": 8, "mbstd_group": 4}),
                            NetContext(data_shape=(1, 8, 8), z_dim=8))
    x = torch.randn(4, 1, 8, 8)
    other = x.clone()
    other[1:] = torch.randn(3, 1, 8, 8) * 3
    assert not torch.allclose(D(x)[0], D(other)[0])


def test_the_path_length_term_is_weight_times_interval_times_the_penalty_and_moves_its_mean():
    G = _g().train()
    state = PathLengthMean(torch.device("cpu"))
    state.mean.fill_(0.5)
    z = torch.randn(4, 8)
    ctx = SimpleNamespace(forward_net=lambda name: G, noise=lambda n: z[:n], batch_size=8)
    torch.manual_seed(1)
    loss, stats = path_length_term(2.0, 4, 0.1, state, "G", ctx)
    torch.manual_seed(1)
    lengths = path_lengths(G, z).detach()
    mean = 0.5 + 0.1 * (lengths.mean() - 0.5)
    assert state.mean.item() == pytest.approx(mean.item(), rel=1e-5)
    penalty = (lengths - mean).pow(2).mean()
    assert stats["pl_penalty"].item() == pytest.approx(penalty.item(), rel=1e-4) and penalty > 0
    assert loss.item() == pytest.approx(2.0 * 4 * penalty.item(), rel=1e-4)
