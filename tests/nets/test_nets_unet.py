"""The U-Net translator: shapes at 32, 64 and non-square sizes, its skips, its size rule, one D and G step."""

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import NetSpec
from ganforge.errors import ConfigError, DataError
from ganforge.nets import NetContext, build_discriminator, build_generator


def unet(shape, **opts):
    return build_generator(NetSpec("unet", {"base_channels": 4, **opts}), NetContext(shape, 0))


def one_gan_step(G, D, a, b):
    """One D and one G update (pix2pix losses); returns how far each update moved its net."""
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    before = [p.detach().clone() for p in (*G.parameters(), *D.parameters())]
    fake = G(a)
    d_loss = F.softplus(-D(torch.cat([a, b], 1))).mean() + F.softplus(D(torch.cat([a, fake.detach()], 1))).mean()
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = F.softplus(-D(torch.cat([a, fake], 1))).mean() + 100 * (fake - b).abs().mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    after = [p.detach() for p in (*G.parameters(), *D.parameters())]
    return sum((x - y).abs().sum().item() for x, y in zip(before, after))


@pytest.mark.parametrize("shape,depth", [((1, 32, 32), 5), ((3, 64, 64), 4), ((1, 32, 96), 5), ((3, 16, 48), 4)])
def test_unet_keeps_the_size_and_trains_one_step(shape, depth):
    G = unet(shape, depth=depth, out_channels=3)
    a = torch.rand(2, *shape) * 2 - 1
    out = G(a)
    assert out.shape == (2, 3, *shape[1:]) and out.abs().max() <= 1
    D = build_discriminator(NetSpec("patchgan", {"layers": 1, "base_channels": 4}),
                            NetContext((shape[0] + 3, *shape[1:]), 0))
    assert one_gan_step(G, D, a, torch.rand(2, 3, *shape[1:]) * 2 - 1) > 0


def test_skips_carry_the_input_detail_to_the_output():
    """With skips an output pixel depends mostly on the input pixels around it (the short path); without,
    everything goes through the 1x1 bottleneck and the neighbourhood has no special weight."""
    local = {}
    for skips in (True, False):
        torch.manual_seed(0)
        G = unet((1, 32, 32), depth=5, skips=skips, norm="none", dropout=0.0).eval()
        x = (torch.rand(1, 1, 32, 32) * 2 - 1).requires_grad_()
        G(x)[0, 0, 10, 10].backward()
        g = x.grad[0, 0].abs()
        local[skips] = (g[9:12, 9:12].sum() / g.sum()).item()
    assert local[True] > 0.2 and local[False] < 0.05, local


def test_a_size_off_the_multiple_is_one_line_naming_the_nearest_valid_size(one_line):
    with pytest.raises(ConfigError) as e:
        unet((1, 30, 44), depth=3)
    msg = one_line(e)
    assert "multiples of 8" in msg and "nearest valid size is 48x32" in msg and "size_policy=pad" in msg
    G = unet((1, 32, 32), depth=3)
    with pytest.raises(DataError) as e:
        G(torch.zeros(1, 1, 30, 30))
    assert "nearest valid size is 32x32" in one_line(e)


def test_size_policy_pad_pads_and_crops_back():
    G = unet((1, 30, 44), depth=3, size_policy="pad")
    assert G(torch.zeros(2, 1, 30, 44)).shape == (2, 1, 30, 44)


def test_a_translator_is_refused_as_a_noise_to_image_generator(one_line):
    with pytest.raises(ConfigError) as e:
        build_generator(NetSpec("unet", {}), NetContext((1, 32, 32), 100))
    assert "image-to-image generator" in one_line(e)
