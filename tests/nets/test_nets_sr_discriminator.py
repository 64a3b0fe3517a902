"""SRGAN's VGG-style D judges any crop size (one logit each) and exposes its conv maps for the D-feature loss."""

import pytest
import torch

from ganforge.config import NetSpec
from ganforge.nets import NetContext, build_discriminator


@pytest.mark.parametrize("size", [(16, 16), (17, 23), (5, 9)])
def test_one_logit_per_image_at_any_size(size):
    D = build_discriminator(NetSpec("sr-vgg", {"base_channels": 8, "stages": 3, "dense": 16}),
                            NetContext(data_shape=(3, 32, 32), z_dim=1))
    x = torch.rand(3, 3, *size)
    assert D(x).shape == (3,)
    assert D.features(x).shape == (3, 32)
    maps = D.feature_maps(x)
    w = size[1]
    for _ in range(3):  # each stage's stride-2 conv (padding 1) rounds up
        w = (w + 1) // 2
    assert maps.shape[:2] == (3, 32) and maps.shape[-1] == w


def test_published_defaults_double_channels_to_512():
    D = build_discriminator(NetSpec("sr-vgg"), NetContext(data_shape=(3, 96, 96), z_dim=1))
    convs = [m for m in D.convs if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2] * 4
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in D.convs) == 7  # none after the first conv
