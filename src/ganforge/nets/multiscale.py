"""Multi-scale discriminator (Wang et al. 2018, pix2pixHD): k PatchGANs on an image pyramid.

D_1 sees the image, D_2 the image average-pooled to half size, D_k to 1/2**(k-1); the
coarse ones judge global structure with the same small receptive field, the fine one
detail. This is the "multiple discriminators" of GAN practice, and it is a plain
discriminator of the registry, so any recipe can use it: as a noise-to-image D,
``features(x)`` is each scale's mean patch logit, (N, k), and ``head`` their mean, so every
scale weighs the same whatever its number of patches; a translation recipe calls
``patches(x)`` and takes the loss at every patch of every scale, averaged over scales
(pix2pixHD's way).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.base import Discriminator, check_choice, check_width
from ganforge.nets.patchgan import NORMS, PatchGAN, check_patch_size
from ganforge.nets.registry import NetContext, register


def downsample(x: torch.Tensor) -> torch.Tensor:
    """pix2pixHD's pyramid step: 3x3 average pooling at stride 2, borders not counted."""
    return F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)


class MultiScaleDiscriminator(Discriminator):
    """pix2pixHD's D: ``scales`` independent :class:`~ganforge.nets.patchgan.PatchGAN` s, the k-th judging the
    image average-pooled k - 1 times (finest first).

    A registry discriminator like any other: ``features`` is each scale's mean patch logit, (N, scales), and
    ``logit`` their mean, so every scale weighs the same whatever its number of patches; translation recipes
    read :meth:`patches` instead and take the loss at every patch. ``receptive_field`` is one PatchGAN's, in
    pixels of its own scale's input. Unconditional.
    """

    def __init__(self, ctx: NetContext, scales: int, layers: int, base_channels: int, max_mult: int, norm: str):
        super().__init__(ctx, "none", False, ("none",))
        self.scales = nn.ModuleList(PatchGAN(ctx, layers, base_channels, max_mult, norm) for _ in range(scales))
        self.receptive_field = self.scales[0].receptive_field  # in pixels of each scale's own input
        self.build_head(scales, linear=False)

    def patches(self, x: torch.Tensor) -> list[torch.Tensor]:
        """One (N, 1, h_s, w_s) map of patch logits per scale, finest first."""
        out = []
        for i, d in enumerate(self.scales):
            if i:
                x = downsample(x)
            out.append(d.net(x))
        return out

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([p.flatten(1).mean(1) for p in self.patches(x)], 1)

    def logit(self, f: torch.Tensor) -> torch.Tensor:
        return f.mean(1)


@register("discriminator", "multiscale", choices={"norm": NORMS})
def build_multiscale(
    ctx: NetContext,
    *,
    scales: int = 3,  # PatchGANs, each on the image halved once more (3 in pix2pixHD)
    layers: int = 3,  # stride-2 layers of each PatchGAN (3: the 70x70 receptive field)
    base_channels: int = 64,  # width of each PatchGAN's first conv
    max_mult: int = 8,  # widths double per layer up to base_channels * max_mult
    norm: str = "batch",  # batch, instance or none
) -> nn.Module:
    """pix2pixHD uses 3 scales of 3-layer PatchGANs at 1024x512; small images take fewer of both."""
    check_width("scales", scales)
    check_width("layers", layers)
    check_width("base_channels", base_channels)
    check_width("max_mult", max_mult)
    check_choice("norm", norm, NORMS)
    shape = tuple(ctx.data_shape)
    coarsest = (shape[0], *[-(-s // 2 ** (scales - 1)) for s in shape[1:]]) if len(shape) == 3 else shape
    check_patch_size(coarsest, layers, f"multiscale (its coarsest of {scales} scales)")
    return MultiScaleDiscriminator(ctx, scales, layers, base_channels, max_mult, norm)
