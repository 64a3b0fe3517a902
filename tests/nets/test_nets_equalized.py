"""Equalised learning rate: the runtime scale, its effect under Adam, and the mapping network's lr multiplier."""

import math

import pytest
import torch
from torch import nn

from ganforge.nets.equalized import EqualizedConv2d, EqualizedLinear, pixel_norm


def test_the_runtime_scale_is_gain_over_sqrt_fan_in():
    torch.manual_seed(0)
    lin, conv = EqualizedLinear(256, 64, gain=2.0), EqualizedConv2d(8, 4, 3)
    assert lin.scale == pytest.approx(2.0 / 16) and conv.scale == pytest.approx(1 / math.sqrt(72))
    assert lin.weight.std().item() == pytest.approx(1.0, abs=0.02)  # stored as N(0, 1): the scale is not in it
    x = torch.randn(4096, 256)
    assert torch.allclose(lin(x), x @ (lin.weight * lin.scale).T + lin.bias, atol=1e-5)
    assert (lin(x) / 2).std().item() == pytest.approx(1.0, abs=0.05)  # unit variance in, gain out


def _relative_step(layer: nn.Module, lr: float) -> float:
    """How far one Adam step moves the layer's effective weight, relative to that weight's size."""
    effective = lambda: layer.weight * getattr(layer, "scale", 1.0)  # noqa: E731
    before = effective().detach().clone()
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    layer(torch.randn(32, layer.weight.shape[1])).pow(2).mean().backward()
    opt.step()
    return ((effective().detach() - before).abs().mean() / before.abs().mean()).item()


def test_equalised_layers_learn_at_the_same_relative_speed_whatever_their_fan_in():
    torch.manual_seed(0)
    small, large = _relative_step(EqualizedLinear(16, 16), 1e-3), _relative_step(EqualizedLinear(1024, 16), 1e-3)
    assert small == pytest.approx(large, rel=0.1)
    plain_small, plain_large = _relative_step(nn.Linear(16, 16), 1e-3), _relative_step(nn.Linear(1024, 16), 1e-3)
    assert plain_large / plain_small > 5  # He-style init in the weights: the wide layer moves ~8x faster


def test_the_lr_multiplier_slows_a_layer_without_changing_its_output_scale():
    torch.manual_seed(0)
    normal, slow = EqualizedLinear(64, 64), EqualizedLinear(64, 64, lr_mul=0.01)
    x = torch.randn(4096, 64)
    assert slow(x).std().item() == pytest.approx(normal(x).std().item(), rel=0.05)
    ratio = _relative_step(slow, 1e-3) / _relative_step(normal, 1e-3)
    assert ratio == pytest.approx(0.01, rel=0.1)


def test_pixel_norm_gives_unit_mean_square_per_pixel():
    x = torch.randn(3, 16, 5, 7) * 4
    assert torch.allclose(pixel_norm(x).pow(2).mean(1), torch.ones(3, 5, 7), atol=1e-4)
