"""Progressive GAN (Karras et al. 2018): networks that grow from 4x4 to the data's size.

Both networks are built at full size from the start; a ``level`` buffer says how much of
them is in use. Level 0 is the 4x4 stage; level ``k`` is stage k fully faded in; a level
between, ``k - 1 + alpha``, is stage k fading in: the new block's output is blended with the
previous stage's, linearly in alpha (the paper's Fig. 2). Something outside the nets sets the
level as training goes (:mod:`ganforge.training.growth`, through ``set_growth``); since it is a
buffer, checkpoints, moving averages and a loaded run all sample at the level they were at.

G always returns full-size images: the current stage's image is nearest-upsampled, and D
average-pools its input back to the stage's size, which undoes that exactly; so the data,
the metrics and the rest of ganforge never see the resolution change. Real images reach the
low-resolution stages the same way (average-pooled), the paper's downsampled training data; during a
fade the progressive recipe blends them between the two resolutions first, as the paper does
(:func:`ganforge.recipes.progressive.fade_reals`).

G: pixel-normalised z, a dense layer to 4x4, then per stage two 3x3 convs (after a nearest 2x
upsample), each with a leaky ReLU(0.2) and pixelnorm; a 1x1 toRGB per stage, linear output
(the paper's; ``output: tanh`` squashes it, as StyleGAN2's MNIST presets do, for the same reason).
D: a 1x1 fromRGB per stage, per stage two 3x3 convs and 2x average pooling, and at 4x4 the
minibatch standard deviation, a 3x3 conv, a dense layer and the linear logit. Every layer has
an equalised learning rate. Our own implementation from the paper.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.base import Discriminator, Generator, image_plan
from ganforge.nets.equalized import LRELU_GAIN, EqualizedConv2d, EqualizedLinear, pixel_norm
from ganforge.nets.layers import IMAGE_OUTPUTS, MinibatchStd
from ganforge.nets.registry import NetContext, register


def stage_and_alpha(level: float, top: int) -> tuple[int, float]:
    """Level -> (the highest stage in use, its fade-in weight alpha in (0, 1])."""
    level = min(max(float(level), 0.0), float(top))
    stage = math.ceil(level)
    return stage, (1.0 if stage == 0 else level - (stage - 1))


class Growing:
    """The growth protocol (:mod:`ganforge.training.growth`): ``growth_levels`` stages, ``set_growth``."""

    level: torch.Tensor
    growth_levels: int

    def set_growth(self, level: float) -> None:
        self.level.fill_(level)

    def stage_and_alpha(self) -> tuple[int, float]:
        return stage_and_alpha(float(self.level), self.growth_levels - 1)


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class ProGANGenerator(Generator, Growing):
    """ProGAN's G, built at full size from the start; the ``level`` buffer (:class:`Growing`) says which stages
    run and how far the newest one has faded in.

    :meth:`render` draws at the current stage's own size and ``forward`` nearest-upsamples that to the data's
    size, so the data, the metrics and the rest of ganforge never see the resolution change. ``level`` is a
    buffer so that checkpoints and the moving average sample at the stage they were at. Unconditional;
    the default linear output can overshoot ``output_range`` and is clamped when samples are written.
    """

    output_range = (-1.0, 1.0)  # output: linear overshoots it; sampling.to_output clamps every sample into it

    def __init__(self, ctx: NetContext, channels: int, output: str = "linear"):
        super().__init__(ctx, None)
        c, start, steps = image_plan(ctx, "progan")
        self.channels, self.start, self.growth_levels = channels, start, steps + 1
        self.squash = IMAGE_OUTPUTS[output]
        self.register_buffer("level", torch.zeros(()))
        # The paper's first layer is a 4x4 transposed conv from z: a dense layer, gain sqrt(2)/4 as in its code.
        self.dense = EqualizedLinear(ctx.z_dim, channels * start * start, gain=LRELU_GAIN / 4)
        self.first = EqualizedConv2d(channels, channels, 3, gain=LRELU_GAIN)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualizedConv2d(channels, channels, 3, gain=LRELU_GAIN),
                           EqualizedConv2d(channels, channels, 3, gain=LRELU_GAIN)]) for _ in range(steps))
        self.to_rgb = nn.ModuleList(EqualizedConv2d(channels, c, 1) for _ in range(steps + 1))

    def _block(self, i: int, h: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        for conv in self.blocks[i - 1]:
            h = pixel_norm(_act(conv(h)))
        return h

    def trunk(self, z: torch.Tensor, stage: int) -> torch.Tensor:
        """The features that ``stage``'s block (and the previous stage's toRGB) start from."""
        h = pixel_norm(_act(self.dense(pixel_norm(z))).view(-1, self.channels, self.start, self.start))
        h = pixel_norm(_act(self.first(h)))
        for i in range(1, stage):
            h = self._block(i, h)
        return h

    def render(self, z: torch.Tensor, stage: int, alpha: float) -> torch.Tensor:
        """The image at ``stage``'s own size: the new block's toRGB blended with the previous stage's
        upsampled toRGB by ``alpha`` (1: the new block alone)."""
        h = self.trunk(z, stage)
        if stage == 0:
            return self.to_rgb[0](h)
        new = self.to_rgb[stage](self._block(stage, h))
        if alpha >= 1:
            return new
        old = F.interpolate(self.to_rgb[stage - 1](h), scale_factor=2, mode="nearest")
        return old.lerp(new, alpha)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        stage, alpha = self.stage_and_alpha()
        img = self.squash(self.render(z, stage, alpha))
        factor = 2 ** (self.growth_levels - 1 - stage)
        return F.interpolate(img, scale_factor=factor, mode="nearest") if factor > 1 else img


class ProGANDiscriminator(Discriminator, Growing):
    """ProGAN's D, mirroring G: its full-size input is average-pooled to the current stage's size (undoing G's
    nearest upsample exactly), read by that stage's fromRGB and blocks, blended during a fade with the
    previous stage's fromRGB of the pooled image (:meth:`features_at`).

    At 4x4 (7x7 at 28 px), minibatch std, a 3x3 conv and a dense layer give ``features``; the equalised
    linear ``out`` is the logit (``logit`` overridden). Growth sets its ``level`` buffer together with G's.
    Unconditional.
    """

    def __init__(self, ctx: NetContext, channels: int, mbstd_group: int):
        super().__init__(ctx, None, False)
        c, start, steps = image_plan(ctx, "progan")
        self.growth_levels = steps + 1
        self.register_buffer("level", torch.zeros(()))
        self.from_rgb = nn.ModuleList(EqualizedConv2d(c, channels, 1, gain=LRELU_GAIN) for _ in range(steps + 1))
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualizedConv2d(channels, channels, 3, gain=LRELU_GAIN),
                           EqualizedConv2d(channels, channels, 3, gain=LRELU_GAIN)]) for _ in range(steps))
        self.mbstd = MinibatchStd(mbstd_group)
        self.conv = EqualizedConv2d(channels + 1, channels, 3, gain=LRELU_GAIN)
        self.dense = EqualizedLinear(channels * start * start, channels, gain=LRELU_GAIN)
        self.build_head(channels, linear=False)
        self.out = EqualizedLinear(channels, 1)

    def _block(self, i: int, h: torch.Tensor) -> torch.Tensor:
        for conv in self.blocks[i - 1]:
            h = _act(conv(h))
        return F.avg_pool2d(h, 2)

    def features_at(self, x: torch.Tensor, stage: int, alpha: float) -> torch.Tensor:
        """D's features for ``x`` at ``stage``'s own size, the new fromRGB + block blended with the
        previous stage's fromRGB of the pooled image by ``alpha``."""
        h = _act(self.from_rgb[stage](x))
        if stage > 0:
            h = self._block(stage, h)
            if alpha < 1:
                h = _act(self.from_rgb[stage - 1](F.avg_pool2d(x, 2))).lerp(h, alpha)
        for i in range(stage - 1, 0, -1):
            h = self._block(i, h)
        h = _act(self.conv(self.mbstd(h)))
        return _act(self.dense(h.flatten(1)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        stage, alpha = self.stage_and_alpha()
        factor = 2 ** (self.growth_levels - 1 - stage)
        return self.features_at(F.avg_pool2d(x, factor) if factor > 1 else x, stage, alpha)

    def logit(self, f: torch.Tensor) -> torch.Tensor:
        return self.out(f).squeeze(1)


@register("generator", "progan", choices={"output": tuple(IMAGE_OUTPUTS)})
def build_generator(
    ctx: NetContext,
    *,
    channels: int = 512,  # feature maps at every stage (the paper's 512 up to 32 px)
    output: str = "linear",  # linear: the paper's (clipped when saved) | tanh: squashed into (-1, 1)
) -> nn.Module:
    return ProGANGenerator(ctx, channels, output)


@register("discriminator", "progan")
def build_discriminator(
    ctx: NetContext,
    *,
    channels: int = 512,  # feature maps at every stage (the paper's 512 up to 32 px)
    mbstd_group: int = 4,  # minibatch std group size (the paper's code: 4)
) -> nn.Module:
    if mbstd_group < 1:
        raise ValueError(f"mbstd_group must be >= 1, got {mbstd_group}")
    return ProGANDiscriminator(ctx, channels, mbstd_group)
