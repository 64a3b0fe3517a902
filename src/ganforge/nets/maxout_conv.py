"""The 2014 GAN paper's CIFAR-10 networks (goodfeli/adversarial ``cifar10_fully_connected.yaml`` and
``cifar10_convolutional.yaml``), rebuilt in PyTorch.

G (``mlp-deconv``): noise -> ReLU 8000 -> sigmoid 8000 -> either a linear map to every pixel (the
fully connected variant, ``deconv_channels: 0``) or a reshape to 80 maps of 10x10 (the yaml's
``SpaceConverter``; a dense map only when ``hidden``'s last width is not the grid's 8000) and one 5x5
transposed convolution of stride 3 to the 3x32x32 image (the convolutional variant; (10 - 1) * 3 + 5
= 32). Weights U(-0.05, 0.05) as pylearn2's ``irange``.

D (``maxout-conv``): maxout convolutions (conv, max over ``pieces`` channel groups, max pooling), as
pylearn2's ``MaxoutConvC01B``: 32x2 pieces 8x8 pad 4 pool 4/2 -> 32x2 8x8 pad 3 pool 4/2 -> 192x2 5x5
pad 3 pool 2/2, then maxout 500x5 and the output unit; weights U(-0.005, 0.005), dropout on each
layer's input (keep 0.8 on the image, 0.5 elsewhere). Pooling rounds up (``ceil_mode``) as
cuda-convnet's does, which gives the yaml's feature-map sizes (33 -> 16, 15 -> 7, 9 -> 5).

One deviation is forced by ganforge's data form: the paper trained on CIFAR-10 after global contrast
normalisation (each image's mean removed, its norm set to 55) with a linear output unit. That is not
invertible to pixels, so its samples cannot be written as images or compared with real ones by a
judge. Here the data are pixels in [0, 1] and G ends in a sigmoid whose (untied, per-pixel) bias
starts at the data's mean intensity, as the paper's MNIST model did.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.base import Discriminator, Generator, check_width
from ganforge.nets.layers import Maxout, init_uniform_
from ganforge.nets.registry import NetContext, register

_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def _image_shape(ctx: NetContext, arch: str) -> tuple[int, int, int]:
    if ctx.kind != "image" or len(ctx.data_shape) != 3:
        raise ValueError(f"{arch} builds images (C, H, W); got data of shape {tuple(ctx.data_shape)} ({ctx.kind})")
    return tuple(ctx.data_shape)  # type: ignore[return-value]


class MLPDeconvGenerator(Generator):
    """The 2014 paper's CIFAR-10 G: ReLU 8000 -> sigmoid 8000, read as 80 maps of 10x10 -> one transposed conv
    (or, with ``deconv_channels: 0``, a dense layer to every pixel) -> + a per-pixel bias -> sigmoid.

    The untied bias ``out_bias`` (pylearn2's ``tied_b 0``) sits outside the head so both variants share it and
    it can start at the logit of each pixel's mean: the sigmoid output on [0, 1] pixels replaces the paper's
    linear output on contrast-normalised data, which could not be written back as images. Unconditional only,
    as the yaml files it rebuilds.
    """

    def __init__(self, ctx: NetContext, hidden: tuple[int, ...], activation: str, last_activation: str,
                 deconv_channels: int, kernel: int, stride: int, irange: float, bias_from_data: bool):
        super().__init__(ctx, "none", ("none",))
        c, h, w = _image_shape(ctx, "mlp-deconv")
        for name, act in (("activation", activation), ("last_activation", last_activation)):
            if act not in _ACTIVATIONS:
                raise ValueError(f"{name} must be one of {', '.join(_ACTIVATIONS)}, got '{act}'")
        if deconv_channels and ((h - kernel) % stride or (w - kernel) % stride or h < kernel or w < kernel):
            raise ValueError(f"a {kernel}x{kernel} transposed conv of stride {stride} cannot give {h}x{w} "
                             f"images ((size - kernel) must be a multiple of the stride); change "
                             f"model.g.kernel/stride or set model.g.deconv_channels=0 (fully connected)")
        widths = [ctx.z_dim, *hidden]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            act = last_activation if i == len(hidden) - 1 else activation
            layers += [nn.Linear(a, b), _ACTIVATIONS[act]()]
        self.body = nn.Sequential(*layers)
        self.deconv_channels = deconv_channels
        if deconv_channels:
            check_width("deconv_channels", deconv_channels)
            self.grid = ((h - kernel) // stride + 1, (w - kernel) // stride + 1)
            cells = deconv_channels * math.prod(self.grid)
            # The yaml's SpaceConverter: the sigmoid layer's 8000 units *are* the 80 maps of 10x10, a reshape
            # with no weights. Only a G whose last width differs from the grid's (a narrowed CPU test, or a
            # `hidden` override) needs a dense map to it; round 20 and before always had one (64M weights).
            self.to_grid = nn.Identity() if widths[-1] == cells else nn.Linear(widths[-1], cells)
            self.head = nn.ConvTranspose2d(deconv_channels, c, kernel, stride, bias=False)
        else:
            self.head = nn.Linear(widths[-1], c * h * w, bias=False)
        # Untied output bias, one per pixel and channel (pylearn2's Deconv with tied_b 0; a Linear's own).
        self.out_bias = nn.Parameter(torch.zeros(c, h, w))
        self.output_range = (0.0, 1.0)
        with torch.no_grad():  # pylearn2's irange on every weight (init_uniform_ knows no transposed conv)
            for m in self.modules():
                if isinstance(m, nn.Linear | nn.ConvTranspose2d):
                    nn.init.uniform_(m.weight, -irange, irange)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
        if bias_from_data and ctx.data_mean is not None:
            p = ctx.data_mean.reshape(c, h, w).clamp(1e-7, 1 - 1e-7)
            with torch.no_grad():
                self.out_bias.copy_(torch.log(p / (1 - p)))  # start every pixel at its mean intensity

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(z)
        if self.deconv_channels:
            x = self.head(self.to_grid(h).view(z.shape[0], self.deconv_channels, *self.grid))
        else:
            x = self.head(h).view(z.shape[0], *self.data_shape)
        return torch.sigmoid(x + self.out_bias)


class MaxoutConv(nn.Module):
    """Convolution with ``units * pieces`` output channels, max over each unit's pieces, then max pooling."""

    def __init__(self, cin: int, units: int, pieces: int, kernel: int, pad: int, pool: int, pool_stride: int):
        super().__init__()
        self.units, self.pieces, self.pool, self.pool_stride = units, pieces, pool, pool_stride
        self.conv = nn.Conv2d(cin, units * pieces, kernel, padding=pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        n, _, height, width = h.shape
        h = h.view(n, self.units, self.pieces, height, width).amax(2)
        return F.max_pool2d(h, self.pool, self.pool_stride, ceil_mode=True)


def _maxout_conv_size(size: int, kernel: int, pad: int, pool: int, stride: int) -> int:
    """Output size of one maxout conv layer (conv, then max pooling rounded up); < 1 when nothing is left."""
    size = size + 2 * pad - kernel + 1 if size >= 1 else 0
    return -(-(size - pool) // stride) + 1 if size >= max(pool, 1) else 0


class MaxoutConvDiscriminator(Discriminator):
    """The 2014 paper's CIFAR-10 D: dropout + :class:`MaxoutConv` layers (ceil-mode pooling, as cuda-convnet,
    to get the yaml's map sizes), fully connected maxout layers, then dropout and the output unit.

    The output unit keeps its own dropout in ``out`` (``build_head(linear=False)``, ``logit`` overridden), so
    ``features`` ends at the last maxout layer, as in :mod:`ganforge.nets.mlp`. Weights U(-irange, irange)
    on every layer, convs included (``init_uniform_`` does not cover them). Unconditional only.
    """

    def __init__(self, ctx: NetContext, channels: tuple[int, ...], pieces: int, kernels: tuple[int, ...],
                 pads: tuple[int, ...], pools: tuple[int, ...], pool_strides: tuple[int, ...],
                 hidden: tuple[int, ...], hidden_pieces: int, input_dropout: float, hidden_dropout: float,
                 irange: float):
        super().__init__(ctx, "none", False, ("none",))
        c, size, _ = _image_shape(ctx, "maxout-conv")
        lengths = {len(channels), len(kernels), len(pads), len(pools), len(pool_strides)}
        if len(lengths) != 1:
            raise ValueError("units, kernels, pads, pools and pool_strides need one entry per conv layer; got "
                             f"lengths {len(channels)}, {len(kernels)}, {len(pads)}, {len(pools)}, {len(pool_strides)}")
        layers: list[nn.Module] = []
        height, width = size, ctx.data_shape[2]
        for i, spec in enumerate(zip(channels, kernels, pads, pools, pool_strides)):
            drop = nn.Dropout(input_dropout if i == 0 else hidden_dropout)
            layers += [drop, MaxoutConv(c, spec[0], pieces, *spec[1:])]
            c, (height, width) = spec[0], (_maxout_conv_size(s, *spec[1:]) for s in (height, width))
        if min(height, width) < 1:
            raise ValueError(f"the maxout convolutions shrink {size}x{ctx.data_shape[2]} images to nothing; "
                             f"use smaller kernels/pools or larger images")
        self.convs = nn.Sequential(*layers)
        flat = c * height * width
        widths = [flat, *hidden]
        mlp: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(widths[:-1], widths[1:]):
            mlp += [nn.Dropout(hidden_dropout), Maxout(a, b, hidden_pieces)]
        self.mlp = nn.Sequential(*mlp)
        self.build_head(widths[-1], linear=False)
        self.out = nn.Sequential(nn.Dropout(hidden_dropout), nn.Linear(widths[-1], 1))
        init_uniform_(self, irange)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.uniform_(m.weight, -irange, irange)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.convs(x))

    def logit(self, f: torch.Tensor) -> torch.Tensor:
        return self.out(f).squeeze(1)


@register("generator", "mlp-deconv", choices={"activation": tuple(_ACTIVATIONS),
                                               "last_activation": tuple(_ACTIVATIONS)})
def mlp_deconv_generator(
    ctx: NetContext,
    *,
    hidden: tuple[int, ...] = (8000, 8000),  # the CIFAR-10 yaml files' two layers of 8000
    activation: str = "relu",  # every hidden layer but the last (the yaml: ReLU)
    last_activation: str = "sigmoid",  # the last hidden layer (the yaml: sigmoid)
    deconv_channels: int = 80,  # maps before the output transposed conv (the yaml: 80 of 10x10); 0 = fully connected
    kernel: int = 5,  # the output transposed conv's kernel (the yaml: 5x5)
    stride: int = 3,  # and its stride (the yaml: 3)
    irange: float = 0.05,  # weights U(-irange, irange), as pylearn2
    bias_from_data: bool = True,  # output bias = logit of each pixel's mean
) -> nn.Module:
    return MLPDeconvGenerator(ctx, tuple(hidden), activation, last_activation, deconv_channels, kernel, stride,
                              irange, bias_from_data)


@register("discriminator", "maxout-conv")
def maxout_conv_discriminator(
    ctx: NetContext,
    *,
    units: tuple[int, ...] = (32, 32, 192),  # maxout units (output maps) per conv layer (the yaml)
    pieces: int = 2,  # pieces per conv maxout unit (the yaml: 2)
    kernels: tuple[int, ...] = (8, 8, 5),  # conv kernel sizes (the yaml)
    pads: tuple[int, ...] = (4, 3, 3),  # zero padding per side (the yaml)
    pools: tuple[int, ...] = (4, 4, 2),  # max-pool window (the yaml)
    pool_strides: tuple[int, ...] = (2, 2, 2),  # max-pool stride (the yaml)
    hidden: tuple[int, ...] = (500,),  # fully connected maxout layers after the convs (the yaml: 500)
    hidden_pieces: int = 5,  # pieces per fully connected maxout unit (the yaml: 5)
    input_dropout: float = 0.2,  # drop probability on D's input (keep 0.8)
    hidden_dropout: float = 0.5,  # drop probability on every later layer's input (keep 0.5)
    irange: float = 0.005,  # weights U(-irange, irange), as pylearn2
) -> nn.Module:
    return MaxoutConvDiscriminator(ctx, tuple(units), pieces, tuple(kernels), tuple(pads), tuple(pools),
                                   tuple(pool_strides), tuple(hidden), hidden_pieces, input_dropout, hidden_dropout,
                                   irange)
