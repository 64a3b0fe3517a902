"""U-Net generator (Ronneberger et al. 2015; pix2pix's G, Isola et al. 2017).

An encoder of ``depth`` strided 4x4 convs (LeakyReLU 0.2, norm on all but the first and
the innermost) and a mirrored decoder of transposed convs (ReLU, norm, dropout on the
``dropout_layers`` blocks next to the bottleneck). With ``skips`` each decoder level also
reads the encoder's features of the same size, which is what lets pix2pix copy the input's
layout (edges, luma) straight to the output; ``skips: false`` is the encoder-decoder the
paper compares against. Output: tanh, (-1, 1).

The widths double from ``base_channels`` and stop at ``base_channels * max_mult`` (64 and 8
in pix2pix). Sides must be multiples of 2**depth (see :mod:`.translator_sizes`).
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.nets.base import check_choice, check_width
from ganforge.nets.registry import NetContext, register
from ganforge.nets.translator_sizes import SIZE_POLICIES, check_build_size, pad_to_multiple

NORMS = ("batch", "instance", "none")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Batch norm (pix2pix), instance norm (CycleGAN) or nothing."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    return nn.Identity()


def image_to_image_only(ctx: NetContext, arch: str) -> tuple[int, ...]:
    """Translators take an image, not noise: refuse to be a noise-to-image G (z_dim > 0)."""
    if ctx.z_dim != 0 or ctx.kind != "image" or len(ctx.data_shape) != 3:
        raise ValueError(f"{arch} is an image-to-image generator; use it with recipe paired-translation or "
                         f"cycle-translation (for noise-to-image pick dcgan or resnet)")
    return tuple(ctx.data_shape)


class UNetGenerator(nn.Module):
    """pix2pix's G: ``depth`` stride-2 4x4 convs down, as many transposed convs up, each up level also reading
    the encoder's features of its size (``skips``), tanh output.

    A plain ``nn.Module``, not a :class:`~ganforge.nets.base.Generator`: it maps an image to an image, with
    no z and no labels (``y`` is accepted and ignored), and states the generator protocol's ``output_range``,
    ``conditional`` and ``num_classes`` as class attributes. A side that is not a multiple of 2**depth is
    refused or padded and cropped back, per ``size_policy`` (:mod:`ganforge.nets.translator_sizes`).
    """

    output_range = (-1.0, 1.0)
    conditional = False
    num_classes = None

    def __init__(self, in_channels: int, out_channels: int, depth: int, base_channels: int, max_mult: int,
                 norm: str, dropout: float, dropout_layers: int, skips: bool, size_policy: str):
        super().__init__()
        self.multiple, self.size_policy, self.skips = 2 ** depth, size_policy, skips
        widths = [base_channels * min(2 ** i, max_mult) for i in range(depth)]
        bias = norm != "batch"  # batch norm has its own shift
        self.downs = nn.ModuleList()
        for i in range(depth):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(in_channels if i == 0 else widths[i - 1], widths[i], 4, 2, 1, bias=bias or i == 0))
            if 0 < i < depth - 1:
                layers.append(norm_layer(norm, widths[i]))
            self.downs.append(nn.Sequential(*layers))
        self.ups = nn.ModuleList()  # ups[i] undoes downs[i]; run innermost first
        for i in range(depth):
            inner = i == depth - 1
            cin = widths[i] * (1 if inner or not skips else 2)
            cout = widths[i - 1] if i > 0 else out_channels
            layers = [nn.ReLU(), nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias or i == 0)]
            if i > 0:
                layers.append(norm_layer(norm, cout))
                if depth - 1 - dropout_layers <= i - 1 < depth - 1 and dropout > 0:
                    layers.append(nn.Dropout(dropout))
            else:
                layers.append(nn.Tanh())
            self.ups.append(nn.Sequential(*layers))
        for m in self.modules():  # N(0, 0.02) as in pix2pix
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x, (h, w) = pad_to_multiple(x, self.multiple, self.size_policy, f"this U-Net (depth {len(self.downs)})")
        feats = []
        for down in self.downs:
            x = down(x)
            feats.append(x)
        out = feats[-1]
        for i in reversed(range(len(self.ups))):
            if i < len(self.ups) - 1 and self.skips:
                out = torch.cat([out, feats[i]], 1)
            out = self.ups[i](out)
        return out[..., :h, :w]


@register("generator", "unet", choices={"norm": NORMS, "size_policy": SIZE_POLICIES})
def build_unet(
    ctx: NetContext,
    *,
    depth: int = 5,  # downsamplings (8 for 256 px in pix2pix; 5 takes 32 px to 1x1)
    base_channels: int = 64,  # width of the first encoder conv
    max_mult: int = 8,  # widths double per level up to base_channels * max_mult
    norm: str = "batch",  # batch (pix2pix), instance or none
    dropout: float = 0.5,  # dropout in the innermost decoder layers (pix2pix's noise: 0.5)
    dropout_layers: int = 3,  # how many innermost decoder layers have dropout (3 in pix2pix)
    skips: bool = True,  # U-Net skip connections; false gives the paper's encoder-decoder ablation
    out_channels: int | None = None,  # output channels; null: the input's
    size_policy: str = "error",  # a size not a multiple of 2^depth: error, or pad and crop back
) -> nn.Module:
    """pix2pix's U-Net: depth 8 for 256 px in the paper; depth 5 takes 32 px down to 1x1."""
    shape = image_to_image_only(ctx, "unet")
    # Deliberately the same checks as resnet_translator's: each builder validates its own keywords, by name.
    check_width("depth", depth)
    check_width("base_channels", base_channels)
    check_width("max_mult", max_mult)
    check_choice("norm", norm, NORMS)
    check_choice("size_policy", size_policy, SIZE_POLICIES)
    if not 0 <= dropout < 1 or dropout_layers < 0:
        raise ValueError(f"dropout must be in [0, 1) and dropout_layers >= 0, got {dropout} and {dropout_layers}")
    check_build_size(shape, 2 ** depth, size_policy, f"a U-Net of depth {depth}")
    return UNetGenerator(shape[0], out_channels or shape[0], depth, base_channels, max_mult, norm, dropout,
                         dropout_layers, skips, size_policy)
