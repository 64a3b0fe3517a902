"""PatchGAN discriminator (Isola et al. 2017): one realness logit per overlapping patch.

``layers`` strided 4x4 convs (LeakyReLU 0.2, norm on all but the first), one more 4x4 conv
at stride 1, and a 4x4 conv to one logit per position. Each logit sees a square of
``receptive_field(layers)`` pixels (70 for the paper's 3 layers, 34 for 2, 16 for 1), so D
judges texture and local structure and leaves global layout to the L1 term. It takes any
size of at least ``min_size(layers)`` px.

As a D for any recipe it keeps the protocol of :mod:`ganforge.nets.base`: ``features(x)``
is the flattened map of patch logits and ``head`` their mean, one logit per image; a
translation recipe calls ``patches(x)`` and takes its loss at every patch (the paper's way).
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.nets.base import Discriminator, check_choice, check_width
from ganforge.nets.registry import NetContext, register
from ganforge.nets.unet import norm_layer

NORMS = ("batch", "instance", "none")


def conv_plan(layers: int) -> list[tuple[int, int]]:
    """(kernel, stride) of every conv of a PatchGAN with ``layers`` strided convs."""
    return [(4, 2)] * layers + [(4, 1), (4, 1)]


def receptive_field(layers: int) -> int:
    """Side in pixels of the input square one patch logit depends on (70 for layers=3)."""
    field = 1
    for kernel, stride in reversed(conv_plan(layers)):
        field = field * stride + (kernel - stride)
    return field


def min_size(layers: int) -> int:
    """The smallest side giving at least one patch: each strided conv halves, each stride-1 conv takes 1."""
    return 3 * 2 ** layers


class PatchGAN(Discriminator):
    """pix2pix's D: 4x4 convs down to a map of logits, each judging one ``receptive_field``-pixel square patch
    (70 for ``layers=3``), so D scores texture and local structure and leaves global layout to the L1 term.

    Built as a :class:`~ganforge.nets.base.Discriminator` (``features``: the flattened logit map, ``logit``:
    its mean) so a noise-to-image recipe can use it as an ordinary D; translation recipes call :meth:`patches`
    to take the loss at every patch. Conv biases are dropped before batch norm, which has its own shift;
    weights N(0, 0.02), as pix2pix. Unconditional.
    """

    def __init__(self, ctx: NetContext, layers: int, base_channels: int, max_mult: int, norm: str):
        super().__init__(ctx, "none", False, ("none",))
        channels = ctx.data_shape[0]
        self.layers, self.receptive_field = layers, receptive_field(layers)
        width = lambda i: base_channels * min(2 ** i, max_mult)  # noqa: E731
        bias = norm != "batch"
        mods: list[nn.Module] = [nn.Conv2d(channels, base_channels, 4, 2, 1), nn.LeakyReLU(0.2)]
        for i in range(1, layers + 1):  # the first conv and layers - 1 more at stride 2, then one at stride 1
            stride = 2 if i < layers else 1
            mods += [nn.Conv2d(width(i - 1), width(i), 4, stride, 1, bias=bias), norm_layer(norm, width(i)),
                     nn.LeakyReLU(0.2)]
        mods.append(nn.Conv2d(width(layers), 1, 4, 1, 1))
        self.net = nn.Sequential(*mods)
        self.build_head(1, linear=False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def patches(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[(N, 1, h, w)]: one logit per patch (a list, like the multi-scale D's)."""
        return [self.net(x)]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)

    def logit(self, f: torch.Tensor) -> torch.Tensor:
        return f.mean(1)


def check_patch_size(shape: tuple[int, ...], layers: int, what: str) -> None:
    if len(shape) != 3:
        raise ValueError(f"{what} needs images (C, H, W); got data of shape {tuple(shape)}")
    side = min(shape[1:])
    if side < min_size(layers):
        raise ValueError(f"{what} with {layers} layers needs images of at least {min_size(layers)} px a side, "
                         f"these are {shape[1]}x{shape[2]}; lower model.d.layers or enlarge the images")


@register("discriminator", "patchgan", choices={"norm": NORMS})
def build_patchgan(
    ctx: NetContext,
    *,
    layers: int = 3,  # stride-2 layers (3: the paper's 70x70 receptive field; 2: 34x34)
    base_channels: int = 64,  # width of the first conv
    max_mult: int = 8,  # widths double per layer up to base_channels * max_mult
    norm: str = "batch",  # batch (pix2pix), instance or none
) -> nn.Module:
    """The paper's 70x70 PatchGAN is layers=3; on 32 px MNIST layers=2 (34x34) covers a digit."""
    check_width("layers", layers)
    check_width("base_channels", base_channels)
    check_width("max_mult", max_mult)
    check_choice("norm", norm, NORMS)
    check_patch_size(tuple(ctx.data_shape), layers, "patchgan")
    return PatchGAN(ctx, layers, base_channels, max_mult, norm)
