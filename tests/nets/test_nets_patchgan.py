"""PatchGAN: its receptive field (70 px for 3 layers, as in pix2pix), patch-map shapes, the D protocol, steps."""

import pytest
import torch

from ganforge.config import NetSpec
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator
from ganforge.nets.patchgan import receptive_field
from test_nets_unet import one_gan_step, unet


def patchgan(shape, **opts):
    return build_discriminator(NetSpec("patchgan", {"base_channels": 4, **opts}), NetContext(shape, 0))


def test_receptive_field_matches_the_paper_and_the_gradient():
    assert [receptive_field(n) for n in (1, 2, 3)] == [16, 34, 70]
    D = patchgan((1, 96, 96), layers=3, norm="none")
    x = torch.rand(1, 1, 96, 96, requires_grad=True)
    D.patches(x)[0][0, 0, 4, 4].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    assert rows.max() - rows.min() + 1 <= 70  # one logit sees at most a 70-px square


@pytest.mark.parametrize("shape,patches", [((1, 32, 32), (6, 6)), ((3, 64, 64), (14, 14)), ((1, 32, 48), (6, 10))])
def test_patch_maps_and_the_one_logit_protocol(shape, patches):
    D = patchgan(shape, layers=2)
    x = torch.rand(3, *shape)
    (p,) = D.patches(x)
    assert p.shape == (3, 1, *patches)
    assert D(x).shape == (3,) and torch.allclose(D(x), p.flatten(1).mean(1))


def test_one_d_and_g_step():
    G, D = unet((1, 32, 48), depth=4), patchgan((2, 32, 48), layers=2)
    assert one_gan_step(G, D, torch.rand(2, 1, 32, 48), torch.rand(2, 1, 32, 48)) > 0


def test_too_small_images_are_one_line(one_line):
    with pytest.raises(ConfigError) as e:
        patchgan((1, 16, 16), layers=3)
    assert "at least 24 px" in one_line(e)
