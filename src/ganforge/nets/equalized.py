"""Equalised learning rate and pixel normalisation (Karras et al. 2018), shared by ProGAN and StyleGAN2.

Equalised learning rate: weights are *stored* as N(0, 1 / lr_mul) and *used* multiplied by
``gain / sqrt(fan_in) * lr_mul`` at every forward. He initialisation would put that constant
into the stored weights instead; keeping it outside means Adam (whose steps are about the
same size for every parameter, whatever its scale) moves every layer by the same relative
amount, so layers with a large fan-in no longer learn more slowly than small ones.
``lr_mul`` < 1 slows a layer down on purpose (StyleGAN's mapping network uses 0.01):
its effective learning rate is ``lr * lr_mul`` while its output scale is unchanged.

The minibatch standard deviation layer the two papers share is
:class:`ganforge.nets.layers.MinibatchStd` (with a group size).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Keeps unit variance through a leaky ReLU(0.2): He et al.'s gain, rounded to sqrt(2) as in the papers.
LRELU_GAIN = math.sqrt(2.0)


class EqualizedLinear(nn.Module):
    """``y = x @ (W * scale).T + b * lr_mul`` with ``W ~ N(0, 1/lr_mul^2)``, ``scale = gain * lr_mul / sqrt(in)``.

    ``bias_init`` is the bias the layer starts with (b starts at bias_init / lr_mul); stylegan2-ada's starts
    at bias_init * lr_mul. The two agree at lr_mul 1, the only layer here with a bias_init (the style affine)."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, bias_init: float = 0.0,
                 lr_mul: float = 1.0, gain: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.scale = gain * lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        return F.linear(x, self.weight * self.scale, bias)


class EqualizedConv2d(nn.Module):
    """A same-padded convolution with the equalised-lr scale ``gain / sqrt(in * k * k)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True,
                 gain: float = 1.0, padding: int | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2 if padding is None else padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each pixel's feature vector scaled to unit mean square over the channels (dim 1)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU(0.2) times sqrt(2), so equalised layers keep their unit-variance outputs."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN
