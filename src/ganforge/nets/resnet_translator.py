"""ResNet translator (Johnson et al. 2016; CycleGAN's G, Zhu et al. 2017).

A 7x7 conv stem, ``downsamplings`` strided 3x3 convs, ``blocks`` residual blocks of two 3x3
convs, the same number of transposed convs back up, and a 7x7 conv to the image (tanh).
Padding is by reflection, not zeros, which is what CycleGAN uses to avoid border artefacts;
normalisation is instance norm by default (CycleGAN), batch norm on request. Sides must be
multiples of 2**downsamplings and at least twice that (:func:`min_side`; see :mod:`.translator_sizes`).
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.nets.base import check_choice, check_width
from ganforge.nets.registry import NetContext, register
from ganforge.nets.translator_sizes import SIZE_POLICIES, check_build_size, pad_to_multiple
from ganforge.nets.unet import NORMS, image_to_image_only, norm_layer


def min_side(downsamplings: int) -> int:
    """The smallest side the translator takes: its bottleneck (side / 2**downsamplings) must be at least 2 px, as the
    blocks' 1-px reflection padding needs a side of 2 (and instance norm more than one value); the 7x7 stem's
    3-px reflection needs 4, which this also gives. At 4 px with 2 downsamplings the bottleneck was 1 px, and
    that crashed deep inside torch."""
    return max(4, 2 * 2 ** downsamplings)


class ResidualBlock(nn.Module):
    """CycleGAN's bottleneck block: x + (reflection pad, 3x3 conv, norm, ReLU, [dropout], reflection pad, 3x3
    conv, norm), with no activation after the sum (as CycleGAN's ``ResnetBlock``).

    Reflection rather than zero padding is CycleGAN's way of avoiding border artefacts; it is also why the
    bottleneck must be at least 2 px a side (:func:`min_side`).
    """

    def __init__(self, channels: int, norm: str, dropout: float):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm_layer(norm, channels),
                                   nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm_layer(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetTranslator(nn.Module):
    """CycleGAN's G: a 7x7 stem, ``downsamplings`` stride-2 convs, ``blocks`` :class:`ResidualBlock` s, as many
    transposed convs back up, a 7x7 conv and tanh.

    Like :class:`~ganforge.nets.unet.UNetGenerator` it is a plain image-to-image ``nn.Module`` (no z, no
    labels; ``y`` ignored) that states the generator protocol's attributes on the class. Sizes that are not
    multiples of 2**downsamplings, or below ``min_side``, are refused or padded and cropped back, per
    ``size_policy``.
    """

    output_range = (-1.0, 1.0)
    conditional = False
    num_classes = None

    def __init__(self, in_channels: int, out_channels: int, blocks: int, base_channels: int, downsamplings: int,
                 norm: str, dropout: float, size_policy: str):
        super().__init__()
        self.multiple, self.size_policy = 2 ** downsamplings, size_policy
        self.downsamplings, self.min_side = downsamplings, min_side(downsamplings)
        c = base_channels
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, c, 7), norm_layer(norm, c), nn.ReLU()]
        for _ in range(downsamplings):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), norm_layer(norm, 2 * c), nn.ReLU()]
            c *= 2
        layers += [ResidualBlock(c, norm, dropout) for _ in range(blocks)]
        for _ in range(downsamplings):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), norm_layer(norm, c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x, (h, w) = pad_to_multiple(x, self.multiple, self.size_policy,
                                    f"this ResNet translator ({self.downsamplings} downsamplings)", self.min_side)
        return self.net(x)[..., :h, :w]


@register("generator", "resnet-translator", choices={"norm": NORMS, "size_policy": SIZE_POLICIES})
def build_resnet_translator(
    ctx: NetContext,
    *,
    blocks: int = 9,  # residual blocks at the bottleneck (9 at 256 px, 6 at 128 px in CycleGAN)
    # The options shared with unet.py (widths, norm, dropout, out_channels, size_policy) read alike on purpose: a
    # builder's keyword defaults are its documented defaults (nets/registry.py), one per builder.
    base_channels: int = 64,  # width of the first conv; doubled at each downsampling
    downsamplings: int = 2,  # stride-2 convs before the blocks (and as many upsamplings after)
    norm: str = "instance",  # instance (CycleGAN), batch or none
    dropout: float = 0.0,  # dropout inside each block (CycleGAN's --no_dropout default: 0)
    out_channels: int | None = None,  # output channels; null: the input's
    size_policy: str = "error",  # a size off 2^downsamplings or below min_side: error, or pad and crop back
) -> nn.Module:
    """CycleGAN's G: 9 blocks at 256 px, 6 at 128 px (the paper); fewer for small images."""
    shape = image_to_image_only(ctx, "resnet-translator")
    # Deliberately the same checks as unet's: each builder validates its own keywords, by name.
    check_width("blocks", blocks)
    check_width("base_channels", base_channels)
    check_width("downsamplings", downsamplings)
    check_choice("norm", norm, NORMS)
    check_choice("size_policy", size_policy, SIZE_POLICIES)
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    check_build_size(shape, 2 ** downsamplings, size_policy,
                     f"a ResNet translator with {downsamplings} downsamplings", min_side(downsamplings))
    return ResnetTranslator(shape[0], out_channels or shape[0], blocks, base_channels, downsamplings, norm, dropout,
                            size_policy)
