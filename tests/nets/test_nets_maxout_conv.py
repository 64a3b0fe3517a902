"""The 2014 paper's CIFAR-10 networks: the yaml files' layer sizes, one D and one G step, bad sizes refused."""

from __future__ import annotations

import pytest
import torch

from ganforge.config import NetSpec
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets.maxout_conv import MaxoutConv


def _ctx(shape=(3, 32, 32), mean=None):
    return NetContext(data_shape=shape, z_dim=10, data_mean=mean)


def test_convolutional_variant_has_the_yaml_sizes():
    torch.manual_seed(0)
    G = build_generator(NetSpec("mlp-deconv", {"hidden": [16, 16]}), _ctx())
    assert G.grid == (10, 10) and G.to_grid.out_features == 80 * 100  # 80 maps of 10x10, 5x5 stride 3 -> 32
    assert isinstance(G.body[1], torch.nn.ReLU) and isinstance(G.body[3], torch.nn.Sigmoid)
    D = build_discriminator(NetSpec("maxout-conv", {"hidden": [16]}), _ctx())
    sizes = []
    for m in D.modules():
        if isinstance(m, MaxoutConv):
            m.register_forward_hook(lambda mod, i, o: sizes.append(tuple(o.shape[1:])))
    x = G(torch.randn(2, 10))
    assert x.shape == (2, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    assert D(x).shape == (2,) and D.features(x).shape == (2, 16)
    assert sizes[:3] == [(32, 16, 16), (32, 7, 7), (192, 5, 5)]  # cuda-convnet's rounded-up pooling


def test_the_sigmoid_layer_is_read_as_the_maps_with_no_weights_between_as_the_yaml_s_space_converter():
    """cifar10_convolutional.yaml puts a SpaceConverter (a reshape) between the 8000 sigmoid units and the
    deconv, not a layer: at a last width equal to the grid's cells G has no weights there, and the deconv
    reads the sigmoid outputs themselves (here 80 maps of 2x2 for 8x8 images); a narrowed G keeps a map."""
    torch.manual_seed(0)
    G = build_generator(NetSpec("mlp-deconv", {"hidden": [16, 320]}), _ctx((3, 8, 8)))
    assert G.grid == (2, 2) and isinstance(G.to_grid, torch.nn.Identity)
    z = torch.randn(3, 10)
    maps = G.body(z).view(3, 80, 2, 2)
    torch.testing.assert_close(G(z), torch.sigmoid(G.head(maps) + G.out_bias))
    assert not any(p.shape == (320, 320) for p in G.parameters())
    narrowed = build_generator(NetSpec("mlp-deconv", {"hidden": [16, 16]}), _ctx((3, 8, 8)))
    assert isinstance(narrowed.to_grid, torch.nn.Linear) and narrowed.to_grid.out_features == 320


def test_fully_connected_variant_and_output_bias_from_the_data():
    mean = torch.full((3 * 8 * 6,), 0.25)
    G = build_generator(NetSpec("mlp-deconv", {"hidden": [16, 16], "deconv_channels": 0}), _ctx((3, 8, 6), mean))
    with torch.no_grad():
        G.head.weight.zero_()
    assert torch.allclose(G(torch.randn(3, 10)), torch.full((3, 3, 8, 6), 0.25))  # every pixel starts at its mean


def test_d_output_at_init_scales_as_the_fifth_power_of_irange():
    """Why gan2014-cifar10-conv's D init matters: with zero biases, maxout and max pooling commute with
    a positive scale, so D (four maxout layers and its output unit: five weight layers) is homogeneous
    of degree 5 in its weights. Doubling irange multiplies every logit by 32, and the yaml's 0.005
    against the preset's 0.02 divides it by 4**5 = 1024 (docs/cifar.md: the plateau this makes)."""
    x = torch.rand(4, 3, 32, 32)
    logits = {}
    for irange in (0.005, 0.01, 0.02):
        torch.manual_seed(0)
        D = build_discriminator(NetSpec("maxout-conv", {"units": [8, 8, 16], "hidden": [16], "irange": irange}),
                                _ctx()).eval()
        with torch.no_grad():
            logits[irange] = D(x)
    assert logits[0.005].abs().max() > 0
    torch.testing.assert_close(logits[0.01], 32 * logits[0.005], rtol=1e-4, atol=0)
    torch.testing.assert_close(logits[0.02], 1024 * logits[0.005], rtol=1e-4, atol=0)


def test_one_d_step_and_one_g_step():
    torch.manual_seed(0)
    G = build_generator(NetSpec("mlp-deconv", {"hidden": [16, 16]}), _ctx())
    D = build_discriminator(NetSpec("maxout-conv", {"units": [4, 4, 8], "hidden": [8]}), _ctx())
    opt_g, opt_d = torch.optim.SGD(G.parameters(), 0.1), torch.optim.SGD(D.parameters(), 0.1)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    real, z = torch.rand(4, 3, 32, 32), torch.randn(4, 10)
    before = D.convs[1].conv.weight.detach().clone()
    loss_d = bce(D(real), torch.ones(4)) + bce(D(G(z).detach()), torch.zeros(4))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    assert not torch.equal(before, D.convs[1].conv.weight)
    before = G.head.weight.detach().clone()
    loss_g = bce(D(G(z)), torch.ones(4))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    assert not torch.equal(before, G.head.weight)


@pytest.mark.parametrize("arch, role, options, shape, text", [
    ("mlp-deconv", "g", {}, (3, 30, 30), "cannot give 30x30 images"),
    ("maxout-conv", "d", {}, (3, 8, 8), "shrink 8x8 images to nothing"),
    ("maxout-conv", "d", {"kernels": [8, 8]}, (3, 32, 32), "one entry per conv layer"),
])
def test_sizes_that_do_not_fit_are_one_config_line(arch, role, options, shape, text):
    build = build_generator if role == "g" else build_discriminator
    with pytest.raises(ConfigError) as err:
        build(NetSpec(arch, options), _ctx(shape))
    assert text in str(err.value) and "\n" not in str(err.value)
