import pytest
import torch
from torch import nn

from ganforge.config import NetSpec
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets.layers import SelfAttention

SIZES = (8, 16, 28, 32, 64)


def _ctx(shape=(3, 32, 32), z_dim=16, num_classes=None, kind="image"):
    return NetContext(data_shape=shape, z_dim=z_dim, kind=kind, num_classes=num_classes)


def _nets(ctx, g=None, d=None):
    G = build_generator(NetSpec("dcgan", {"base_channels": 4, **(g or {})}), ctx)
    D = build_discriminator(NetSpec("dcgan", {"base_channels": 4, **(d or {})}), ctx)
    return G, D


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", SIZES)
def test_shapes_and_features_head_consistency(size, channels):
    torch.manual_seed(0)
    G, D = _nets(_ctx((channels, size, size)))
    x = G(torch.randn(5, 16))
    assert x.shape == (5, channels, size, size) and G.output_range == (-1.0, 1.0)
    assert x.abs().max() <= 1
    D.eval()
    f = D.features(x)
    assert f.dim() == 2 and f.shape[0] == 5
    logits = D(x)
    assert logits.shape == (5,)
    assert torch.equal(logits, D.head(f))


def test_paper_widths_at_64px():
    G = build_generator(NetSpec("dcgan"), _ctx((3, 64, 64), z_dim=100))
    D = build_discriminator(NetSpec("dcgan"), _ctx((3, 64, 64), z_dim=100))
    assert G.project.out_features == 512 * 4 * 4
    assert [(m.in_channels, m.out_channels) for m in G.modules() if isinstance(m, nn.ConvTranspose2d)] == [
        (512, 256), (256, 128), (128, 64), (64, 3)]
    assert [(m.in_channels, m.out_channels, m.stride) for m in D.modules() if isinstance(m, nn.Conv2d)] == [
        (3, 64, (2, 2)), (64, 128, (2, 2)), (128, 256, (2, 2)), (256, 512, (2, 2))]
    assert D.linear.in_features == 512 * 4 * 4
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in D.modules())


def test_28px_starts_at_7x7():
    G, D = _nets(_ctx((1, 28, 28)))
    assert G.start == 7 and len(G.ups) == 2
    assert D.features(torch.randn(2, 1, 28, 28)).shape == (2, 8 * 7 * 7)


def test_d_has_no_batch_norm_on_its_first_layer():
    _, D = _nets(_ctx((3, 32, 32)))
    blocks = [b for b in D.blocks if isinstance(b, nn.Sequential)]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in blocks[0])
    assert all(any(isinstance(m, nn.BatchNorm2d) for m in b) for b in blocks[1:])
    assert isinstance(blocks[0][-1], nn.LeakyReLU) and blocks[0][-1].negative_slope == 0.2


@pytest.mark.parametrize("norm, kind", [("none", None), ("layer", nn.GroupNorm)])
def test_d_norm_options(norm, kind):
    _, D = _nets(_ctx(), d={"norm": norm})
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    norms = [m for m in D.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == (0 if kind is None else 2)
    # without batch statistics a sample's logit does not depend on the rest of the batch
    x = torch.randn(4, 3, 32, 32)
    assert torch.allclose(D(x)[:2], D(x[:2]), atol=1e-5)


def test_batch_norm_d_depends_on_the_batch():
    _, D = _nets(_ctx())
    x = torch.randn(4, 3, 32, 32)
    assert not torch.allclose(D(x)[:2], D(x[:2]), atol=1e-5)


def test_generator_uses_batch_norm_and_relu_and_normal_init():
    torch.manual_seed(0)
    G = build_generator(NetSpec("dcgan"), _ctx((3, 64, 64), z_dim=100))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == 4
    w = G.ups[0].weight
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3


def test_sigmoid_output_option():
    G, _ = _nets(_ctx(), g={"out": "sigmoid"})
    x = G(torch.randn(3, 16))
    assert G.output_range == (0.0, 1.0) and x.min() >= 0 and x.max() <= 1


def test_minibatch_std_adds_one_input_channel_to_the_last_conv():
    _, D = _nets(_ctx(), d={"minibatch_std": True})
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert convs[-1].in_channels == convs[-2].out_channels + 1
    assert D(torch.randn(4, 3, 32, 32)).shape == (4,)


def test_attention_resolutions():
    G, D = _nets(_ctx(), g={"attention_res": 8}, d={"attention_res": 16})
    G.eval()
    assert isinstance(G.attention, SelfAttention) and G.attention.query.in_channels == 8  # 8x8 maps, 2*base
    seen = []
    G.attention.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape[-2:])))
    G(torch.randn(2, 16))
    assert seen == [(8, 8)]
    idx = [i for i, m in enumerate(D.blocks) if isinstance(m, SelfAttention)]
    assert idx == [1] and D.blocks[1].query.in_channels == 4  # after the first block: 32 -> 16
    with pytest.raises(ConfigError, match="choose one of 4, 8, 16"):
        _nets(_ctx(), g={"attention_res": 32})


@pytest.mark.parametrize("shape, kind, match", [
    ((3, 30, 30), "image", "cannot build 30 px"),
    ((3, 32, 16), "image", "square images"),
    ((2,), "points", "square images"),
    ((3, 4, 4), "image", "cannot build 4 px"),
])
def test_unsupported_data_is_a_config_error(shape, kind, match):
    with pytest.raises(ConfigError, match=match):
        build_generator(NetSpec("dcgan"), _ctx(shape, kind=kind))
    with pytest.raises(ConfigError, match=match):
        build_discriminator(NetSpec("dcgan"), _ctx(shape, kind=kind))


@pytest.mark.parametrize("role, options, match", [
    ("d", {"norm": "btach"}, "did you mean 'batch'"),
    ("d", {"init": "kaiming"}, "init must be one of"),
    ("g", {"out": "linear"}, "out must be one of"),
    ("g", {"base_channels": 0}, "an integer >= 1"),
    ("g", {"conditioning": "projection"}, "conditioning must be one of none, concat, cbn"),
    ("d", {"conditioning": "cbn"}, "conditioning must be one of none, concat, projection"),
    ("d", {"normalization": "batch"}, "unknown config key 'model.d.normalization'"),
])
def test_bad_options_are_config_errors(role, options, match):
    build = build_generator if role == "g" else build_discriminator
    with pytest.raises(ConfigError, match=match):
        build(NetSpec("dcgan", options), _ctx(num_classes=10))
