import math

import pytest
import torch
from torch import nn

from ganforge.config import NetSpec
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets.layers import MinibatchStd, SelfAttention
from ganforge.nets.resnet import DownBlock, UpBlock

SIZES = (8, 16, 28, 32, 64)


def _ctx(shape=(3, 32, 32), z_dim=16, num_classes=None):
    return NetContext(data_shape=shape, z_dim=z_dim, num_classes=num_classes)


def _nets(ctx, g=None, d=None):
    G = build_generator(NetSpec("resnet", {"channels": 8, **(g or {})}), ctx)
    D = build_discriminator(NetSpec("resnet", {"channels": 8, **(d or {})}), ctx)
    return G, D


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", SIZES)
def test_shapes_and_features_head_consistency(size, channels):
    torch.manual_seed(0)
    G, D = _nets(_ctx((channels, size, size)))
    x = G(torch.randn(4, 16))
    assert x.shape == (4, channels, size, size) and G.output_range == (-1.0, 1.0)
    f = D.features(x)
    assert f.shape == (4, 8)  # global sum pooling over the last block's channels
    assert torch.equal(D(x), D.head(f)) and D(x).shape == (4,)


def test_sngan_cifar_layout():
    ctx = _ctx(z_dim=128)
    G = build_generator(NetSpec("resnet"), ctx)
    D = build_discriminator(NetSpec("resnet"), ctx)
    assert G.project.out_features == 256 * 4 * 4
    assert [(b.conv1.in_channels, b.conv2.out_channels) for b in G.blocks] == [(256, 256)] * 3
    assert G.to_image.out_channels == 3
    blocks = [b for b in D.blocks if isinstance(b, DownBlock)]
    assert [(b.conv1.out_channels, b.down, b.first) for b in blocks] == [
        (128, True, True), (128, True, False), (128, False, False), (128, False, False)]
    assert blocks[2].shortcut is None  # identity shortcut when nothing changes
    assert D.linear.in_features == 128
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules())


def test_28px_starts_at_7x7_and_d_ends_at_7x7():
    G, D = _nets(_ctx((1, 28, 28)))
    assert G.start == 7 and len(G.blocks) == 2
    seen = []
    D.blocks[-1].register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[-2:])))
    D(torch.randn(2, 1, 28, 28))
    assert seen == [(7, 7)]


def test_optimized_first_block_skips_the_input_relu():
    torch.manual_seed(0)
    block = DownBlock(3, 4, down=True, first=True)
    x = torch.randn(2, 3, 8, 8)
    # A pre-activation block would zero negative inputs first; the optimized one sees them.
    assert not torch.allclose(block(x), block(x.clamp(min=0)))


def test_upblock_doubles_and_shortcut_is_learned():
    block = UpBlock(4, 6, None)
    assert block(torch.randn(2, 4, 5, 5)).shape == (2, 6, 10, 10)


def test_xavier_init_gives_residual_convs_gain_sqrt2():
    torch.manual_seed(0)
    G = build_generator(NetSpec("resnet"), _ctx(z_dim=128))
    conv, sc = G.blocks[0].conv1, G.blocks[0].shortcut
    fan = 256 * 9
    assert conv.weight.abs().max() <= math.sqrt(2) * math.sqrt(6 / (2 * fan)) + 1e-6
    assert conv.weight.abs().max() > 0.95 * math.sqrt(2) * math.sqrt(6 / (2 * fan))
    assert sc.weight.abs().max() <= math.sqrt(6 / (2 * 256)) + 1e-6
    assert sc.bias.abs().max() == 0


def test_minibatch_std_before_last_block():
    _, D = _nets(_ctx(), d={"minibatch_std": True})
    assert isinstance(D.blocks[-2], MinibatchStd)
    assert D.blocks[-1].conv1.in_channels == 9 and D.blocks[-1].shortcut is not None
    assert D(torch.randn(4, 3, 32, 32)).shape == (4,)


def test_attention_placement():
    G, D = _nets(_ctx(), g={"attention_res": 16}, d={"attention_res": 8})
    assert G.attention_index == 1  # 4 -> 8 -> 16: after the second up-block
    kinds = [type(m).__name__ for m in D.blocks]
    assert kinds == ["DownBlock", "DownBlock", "SelfAttention", "DownBlock", "DownBlock"]
    assert isinstance(D.blocks[2], SelfAttention)
    assert G(torch.randn(2, 16)).shape == (2, 3, 32, 32)
    with pytest.raises(ConfigError, match="choose one of 8, 16, 32"):
        _nets(_ctx(), g={"attention_res": 4})


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="did you mean 'channels'"):
        build_generator(NetSpec("resnet", {"channel": 8}), _ctx())
    with pytest.raises(ConfigError, match="unknown config key 'model.d.norm'"):  # no norm in resnet D
        build_discriminator(NetSpec("resnet", {"norm": "batch"}), _ctx())
    with pytest.raises(ConfigError, match="square images"):
        build_discriminator(NetSpec("resnet"), NetContext(data_shape=(2,), z_dim=2, kind="points"))
