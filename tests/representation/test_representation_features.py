"""D's features for a linear probe: every activation layer max-pooled to a pool x pool grid and
concatenated (the DCGAN paper's protocol), layers named or refused, user arrays checked on the way in."""

import numpy as np
import pytest
import torch

from ganforge.config import NetSpec
from ganforge.errors import GanforgeError
from ganforge.nets import NetContext, build_discriminator
from ganforge.representation import d_features, feature_layers, to_d_input

CTX = NetContext(data_shape=(1, 28, 28), z_dim=8, num_classes=10)


def test_dcgan_d_features_are_each_layer_pooled_to_the_grid_and_concatenated():
    torch.manual_seed(0)
    D = build_discriminator(NetSpec("dcgan"), CTX)  # LeakyReLU maps: 64 x 14 x 14, 128 x 7 x 7
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    assert feature_layers(D) == ["blocks.0.1", "blocks.1.2"]
    assert d_features(D, x, pool=4).shape == (5, 64 * 16 + 128 * 16)
    assert d_features(D, x, pool=2).shape == (5, 64 * 4 + 128 * 4)
    one = d_features(D, x, layers=["blocks.1.2"], pool=1)
    maps = torch.nn.functional.leaky_relu(D.blocks[1][1].eval()(D.blocks[1][0](D.blocks[0](x))), 0.2)
    assert np.allclose(one, maps.amax((2, 3)).detach().numpy(), atol=1e-6)  # pool 1 = the global max per channel
    assert D.training  # left as it was


def test_an_mlp_d_without_activation_modules_gives_its_features():
    D = build_discriminator(NetSpec("ssgan-mlp", {"hidden": [32, 16]}), CTX)
    assert feature_layers(D) == [] and d_features(D, torch.rand(3, 1, 28, 28)).shape == (3, 16)


def test_unknown_layers_and_bad_inputs_are_one_line_errors():
    D = build_discriminator(NetSpec("dcgan"), CTX)
    with pytest.raises(GanforgeError, match="no layer 'blocks.9'"):
        feature_layers(D, ["blocks.9"])
    with pytest.raises(GanforgeError, match="pool must be an integer >= 1"):
        d_features(D, torch.rand(2, 1, 28, 28), pool=0)
    assert d_features(D, torch.rand(2, 1, 28, 28), pool=14).shape[0] == 2  # the largest map's side: allowed
    with pytest.raises(GanforgeError, match="--pool 15 is larger than D's largest feature map \\(14 a side\\)"):
        d_features(D, torch.rand(2, 1, 28, 28), pool=15)  # would copy each value, not pool
    assert to_d_input(np.full((2, 28, 28), 255, np.uint8), (1, 28, 28), (-1.0, 1.0)).shape == (2, 1, 28, 28)
    with pytest.raises(GanforgeError, match="takes \\(1, 28, 28\\)"):
        to_d_input(np.zeros((2, 3, 28, 28), np.uint8), (1, 28, 28), (-1.0, 1.0))
    with pytest.raises(GanforgeError, match="outside"):
        to_d_input(np.full((2, 1, 28, 28), 2.0, np.float32), (1, 28, 28), (-1.0, 1.0))


def test_layers_named_once_and_a_pool_that_pools_something():
    """An empty --layers fell back to the default layers, a layer named twice gave its features twice, and
    --pool on a D that reads only vectors was accepted and changed nothing."""
    D = build_discriminator(NetSpec("dcgan"), CTX)
    with pytest.raises(GanforgeError, match="--layers names no layer"):
        feature_layers(D, [])
    with pytest.raises(GanforgeError, match="names blocks.1.2 more than once"):
        feature_layers(D, ["blocks.1.2", "blocks.0.1", "blocks.1.2"])
    mlp = build_discriminator(NetSpec("ssgan-mlp", {"hidden": [32, 16]}), CTX)
    with pytest.raises(GanforgeError, match="--pool 2 pools conv maps, and every layer read here is a vector"):
        d_features(mlp, torch.rand(3, 1, 28, 28), pool=2)
    assert d_features(mlp, torch.rand(3, 1, 28, 28)).shape == (3, 16)  # no --pool: fine


def test_a_point_runs_own_samples_are_its_ds_input():
    """ring8's G has no output range: its samples (about +-0.01 early on, +-2 later) were refused as
    'floats outside [0, 1]'."""
    points = np.array([[-2.0, 0.01], [1.5, -1.9]], np.float32)
    assert torch.equal(to_d_input(points, (2,), None), torch.from_numpy(points))
    with pytest.raises(GanforgeError, match="finite float points"):
        to_d_input(np.array([[np.nan, 0.0]], np.float32), (2,), None)


def test_non_finite_floats_have_their_own_message():
    """A NaN was reported as "floats outside [0, 1]", and rescaling would not have helped."""
    x = np.full((2, 1, 4, 4), 0.5, np.float32)
    x[0, 0, 1, 1] = np.nan
    x[1, 0, 0, 0] = np.inf
    with pytest.raises(GanforgeError, match=r"--input holds NaN or infinite values \(2 of 32\); pass finite images"):
        to_d_input(x, (1, 4, 4), (0.0, 1.0))
    with pytest.raises(GanforgeError, match=r"outside \[0, 1\]"):
        to_d_input(np.full((1, 1, 4, 4), 2.0, np.float32), (1, 4, 4), (0.0, 1.0))


def test_a_minibatch_std_d_gives_features_of_any_count_of_images():
    """`ganforge features` on a StyleGAN2 run failed for a count its group of 4 did not divide; the batches are
    whole groups now, the last completed with the first images, whose extra rows are dropped."""
    torch.manual_seed(0)
    D = build_discriminator(NetSpec("stylegan2", {"channels": 8}), NetContext(data_shape=(1, 8, 8), z_dim=8))
    x = torch.rand(6, 1, 8, 8) * 2 - 1  # 6 does not split into groups of 4
    got = d_features(D, x)
    assert got.shape[0] == 6
    assert np.array_equal(got, d_features(D, torch.cat([x, x[:2]]))[:6])
