"""The ResNet translator: shapes at 32, 64 and non-square sizes, reflect padding, size rule, one D and G step."""

import pytest
import torch
from torch import nn

from ganforge.config import NetSpec
from ganforge.errors import ConfigError, DataError
from ganforge.nets import NetContext, build_discriminator, build_generator
from test_nets_unet import one_gan_step


def translator(shape, **opts):
    return build_generator(NetSpec("resnet-translator", {"base_channels": 4, "blocks": 2, **opts}),
                           NetContext(shape, 0))


@pytest.mark.parametrize("shape", [(1, 32, 32), (3, 64, 64), (1, 32, 96), (3, 20, 36)])
def test_resnet_translator_keeps_the_size_and_trains_one_step(shape):
    G = translator(shape)
    a = torch.rand(2, *shape) * 2 - 1
    assert G(a).shape == (2, *shape)
    D = build_discriminator(NetSpec("patchgan", {"layers": 1, "base_channels": 4}),
                            NetContext((2 * shape[0], *shape[1:]), 0))
    assert one_gan_step(G, D, a, torch.rand(2, *shape) * 2 - 1) > 0


def test_it_pads_by_reflection_and_has_its_blocks():
    G = translator((1, 32, 32), blocks=3)
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in G.modules()) == 2 + 2 * 3
    assert not any(isinstance(m, nn.Conv2d) and m.padding != (0, 0) and m.stride == (1, 1) for m in G.modules())


def test_off_multiple_size_is_one_line(one_line):
    with pytest.raises(ConfigError) as e:
        translator((1, 30, 30))
    assert "multiples of 4" in one_line(e) and "nearest valid size is 32x32" in one_line(e)
    assert translator((1, 30, 30), size_policy="pad")(torch.zeros(1, 1, 30, 30)).shape == (1, 1, 30, 30)


def test_a_side_under_twice_the_multiple_is_one_line_at_build_and_at_translate(one_line):
    """At 4 px with 2 downsamplings the bottleneck was 1 px: the blocks' reflection padding and instance norm
    crashed deep inside torch. The smallest side (2 * 2**downsamplings) is part of the size rule."""
    with pytest.raises(ConfigError) as e:
        translator((1, 4, 8))
    assert "multiples of 4 and at least 8" in one_line(e) and "nearest valid size is 8x8" in one_line(e)
    G = translator((1, 32, 32)).eval()
    for h, w in ((4, 4), (4, 8), (8, 4)):
        with pytest.raises(DataError) as e:
            G(torch.zeros(1, 1, h, w))
        assert f"{w}x{h} (width x height) images" in one_line(e) and "at least 8" in one_line(e)
        assert "nearest valid size is 8x8" in one_line(e)


@pytest.mark.parametrize("downsamplings", [1, 2, 3])
def test_the_smallest_side_works_and_pad_takes_any_size(downsamplings):
    side = 2 * 2 ** downsamplings
    for norm in ("instance", "batch"):
        G = translator((1, side, side), downsamplings=downsamplings, norm=norm, blocks=1)  # train mode, batch 1
        assert G(torch.zeros(1, 1, side, 3 * side)).shape == (1, 1, side, 3 * side)
    G = translator((1, 1, 1), downsamplings=downsamplings, size_policy="pad", blocks=1)
    for h, w in ((1, 1), (2, 3), (side // 2, side), (side + 1, 1)):
        assert G(torch.rand(1, 1, h, w)).shape == (1, 1, h, w)


def test_sizes_are_named_width_x_height(one_line):
    with pytest.raises(ConfigError) as e:
        translator((1, 30, 44))  # 44 wide, 30 high
    assert "44x30 (width x height) images" in one_line(e) and "nearest valid size is 44x32" in one_line(e)
