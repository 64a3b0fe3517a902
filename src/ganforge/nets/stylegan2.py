"""StyleGAN2 (Karras et al. 2020), small: our own implementation from the paper.

Generator = mapping network + synthesis network:

- **mapping**: z (pixel-normalised) through ``mapping_layers`` equalised linear layers with a
  learning-rate multiplier of 0.01, giving the intermediate latent w. A running mean of w
  (``w_avg``, a buffer updated in training mode) is what truncation pulls towards.
- **synthesis**: a learned constant 4x4 input, then per resolution two 3x3 *modulated* convs
  (the first after a 2x bilinear upsample), each followed by per-pixel noise with a learned
  strength, a bias and a leaky ReLU; a "skip" output: each resolution's 1x1 toRGB is added to
  the upsampled image so far. Each conv reads its own copy of w, and each toRGB shares the copy of
  the next block's first conv (``num_ws`` = convs + 1, as in stylegan2-ada): style mixing exchanges them.
- **modulation/demodulation**: the conv weight is scaled per input channel by the style
  ``s = affine(w)``, then each output channel's weight is divided by its L2 norm
  (``demodulate``), which restores unit output variance for unit-variance input without the
  data-dependent normalisation (AdaIN) that caused StyleGAN's droplet artefacts.

Differences from the paper's code, chosen for a small CPU-friendly net: the upsample is
bilinear interpolation followed by a 3x3 conv rather than a transposed conv with a FIR
filter, and D downsamples by 2x2 average pooling; noise in eval mode is a fixed buffer per
layer, so a seed fixes a sample. Style mixing in training takes the second latent from the
next sample of the same batch (an independent draw already made), with probability ``mixing``
and a crossover layer drawn uniformly.

Discriminator: fromRGB at full resolution, then per resolution two 3x3 convs and a 2x
downsample, with residual skips (``architecture: resnet``, StyleGAN2's D) or without
(``orig``, the stylegan2-ada "cifar" configuration's D); at 4x4 a minibatch standard deviation
layer, a 3x3 conv and two fully connected layers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.base import Discriminator, Generator, image_plan
from ganforge.nets.equalized import EqualizedConv2d, EqualizedLinear, lrelu, pixel_norm
from ganforge.nets.layers import IMAGE_OUTPUTS, MinibatchStd
from ganforge.nets.registry import NetContext, register


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     eps: float = 1e-8) -> torch.Tensor:
    """A conv whose weight is scaled per sample and input channel by ``styles`` (N, in), then (when
    ``demodulate``) normalised per sample and output channel to unit L2 norm.

    Computed as scale the input, one ordinary conv, scale the output (the paper's non-fused form):
    the same numbers as building a weight per sample and running a grouped conv, and several
    times faster on a CPU, where grouped convs with one group per sample are slow.
    """
    out = F.conv2d(x * styles.view(*styles.shape, 1, 1).to(x.dtype), weight.to(x.dtype), padding=weight.shape[-1] // 2)
    if demodulate:
        # ||w_o * s||^2 over (in, k, k) = sum_i s_i^2 * sum_k w_oik^2, for every sample and output channel
        coefs = torch.rsqrt(styles.pow(2) @ weight.pow(2).sum(dim=(2, 3)).T + eps)
        out = out * coefs.view(*coefs.shape, 1, 1).to(out.dtype)
    return out


class ModulatedConv(nn.Module):
    """Modulated 3x3 conv (or 1x1 toRGB: no demodulation, no noise, no activation) with its style affine."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, size: int, kernel: int = 3, up: bool = False,
                 rgb: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.scale = 1 / math.sqrt(c_in * kernel * kernel)
        self.affine = EqualizedLinear(w_dim, c_in, bias_init=1.0)  # styles start at 1: an unmodulated conv
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.up, self.rgb = up, rgb
        if not rgb:
            self.noise_strength = nn.Parameter(torch.zeros(()))
            self.register_buffer("noise_const", torch.randn(1, 1, size, size))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = modulated_conv2d(x, self.weight * self.scale, self.affine(w), demodulate=not self.rgb)
        if self.rgb:
            return x + self.bias.view(1, -1, 1, 1)
        noise = (torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype) if self.training
                 else self.noise_const.to(x.dtype))
        return lrelu(x + self.noise_strength * noise + self.bias.view(1, -1, 1, 1))


class StyleGAN2Generator(Generator):
    """StyleGAN2's G: the mapping network z -> w and the synthesis network from a learned constant, with one
    copy of w per modulated conv plus one for the last toRGB (``num_ws``).

    The stages are separate methods because callers need them apart: truncation (:meth:`truncate`, towards
    the ``w_avg`` buffer or given centres) and style mixing act on w, fitting multi-modal truncation centres
    renders chosen w (:meth:`synthesis`), and the path-length term differentiates by the per-layer latents
    (``forward(..., return_styles=True)``). Unconditional; the default linear output can overshoot
    ``output_range`` and is clamped when samples are written.
    """

    output_range = (-1.0, 1.0)  # output: linear overshoots it; sampling.to_output clamps every sample into it

    def __init__(self, ctx: NetContext, channels: int, w_dim: int, mapping_layers: int, mapping_lr: float,
                 mixing: float, w_avg_beta: float, output: str = "linear"):
        super().__init__(ctx, None)
        self.squash = IMAGE_OUTPUTS[output]
        c, start, steps = image_plan(ctx, "stylegan2")
        self.z_dim, self.mixing, self.w_avg_beta = ctx.z_dim, mixing, w_avg_beta
        dims = [ctx.z_dim] + [w_dim] * mapping_layers
        self.mapping = nn.ModuleList(EqualizedLinear(a, b, lr_mul=mapping_lr) for a, b in zip(dims, dims[1:]))
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.const = nn.Parameter(torch.randn(channels, start, start))
        self.convs, self.rgbs = nn.ModuleList(), nn.ModuleList()
        for i in range(steps + 1):
            size = start << i
            if i > 0:
                self.convs.append(ModulatedConv(channels, channels, w_dim, size, up=True))
            self.convs.append(ModulatedConv(channels, channels, w_dim, size))
            self.rgbs.append(ModulatedConv(channels, c, w_dim, size, kernel=1, rgb=True))
        self.num_ws = len(self.convs) + 1  # toRGB shares the w of the next block's first conv (as in the paper)

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """z -> w, (N, w_dim); in training mode the running mean of w moves towards this batch's mean."""
        w = pixel_norm(z)
        for layer in self.mapping:
            w = lrelu(layer(w))
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().mean(0).to(self.w_avg.dtype), 1 - self.w_avg_beta)
        return w

    def truncate(self, ws: torch.Tensor, psi: float | None, centre: torch.Tensor | None = None) -> torch.Tensor:
        """The truncation trick in W: ``c + psi * (w - c)``, c the tracked mean w or, given, a ``centre`` per
        sample (N, w_dim) (multi-modal truncation); psi 1 (or None) leaves w, 0 gives the centre."""
        if psi is None or psi == 1:
            return ws
        c = self.w_avg if centre is None else centre.unsqueeze(1)
        return c.to(ws).lerp(ws, psi)

    def styles(self, z: torch.Tensor, psi: float | None = None) -> torch.Tensor:
        """The per-layer latents (N, num_ws, w_dim); in training mode, mixed with probability ``mixing``."""
        w = self.map(z)
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if self.training and self.mixing > 0 and z.shape[0] > 1:
            cutoff = int(torch.randint(1, self.num_ws, ()))
            if float(torch.rand(())) < self.mixing:
                # the next sample's w: an independent draw already made and mapped (the mapping is per sample),
                # so w_avg moves once per call, at w_avg_beta, as stylegan2-ada's skip_w_avg_update keeps it
                w2 = w.roll(1, 0)
                ws = torch.cat([ws[:, :cutoff], w2.unsqueeze(1).expand(-1, self.num_ws - cutoff, -1)], 1)
        return self.truncate(ws, psi)

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """(N, num_ws, w_dim) -> images (N, C, H, W)."""
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        x = self.convs[0](x, ws[:, 0])
        img = self.rgbs[0](x, ws[:, 1])
        for i in range(1, len(self.rgbs)):
            x = self.convs[2 * i - 1](x, ws[:, 2 * i - 1])
            x = self.convs[2 * i](x, ws[:, 2 * i])
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) + \
                self.rgbs[i](x, ws[:, 2 * i + 1])
        return self.squash(img)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, psi: float | None = None,
                return_styles: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Images; with ``return_styles`` also the per-layer latents they came from (what the path-length
        term differentiates by, called through this forward so that DDP sees it)."""
        ws = self.styles(z, psi)
        img = self.synthesis(ws)
        return (img, ws) if return_styles else img


class DBlock(nn.Module):
    """Two 3x3 convs and a 2x average-pool downsample; with ``residual``, plus a pooled 1x1 skip, / sqrt(2)."""

    def __init__(self, c_in: int, c_out: int, residual: bool):
        super().__init__()
        self.conv0, self.conv1 = EqualizedConv2d(c_in, c_in, 3), EqualizedConv2d(c_in, c_out, 3)
        self.skip = EqualizedConv2d(c_in, c_out, 1, bias=False) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(lrelu(self.conv1(lrelu(self.conv0(x)))), 2)
        if self.skip is None:
            return h
        return (h + self.skip(F.avg_pool2d(x, 2))) * math.sqrt(0.5)


class StyleGAN2Discriminator(Discriminator):
    """StyleGAN2's D: fromRGB at full size, one :class:`DBlock` per halving down to 4x4 (7x7 at 28 px),
    residual for ``architecture: resnet`` (StyleGAN2's) and plain for ``orig`` (stylegan2-ada's cifar config),
    then minibatch std, a 3x3 conv and a dense layer as ``features`` and an equalised linear ``out`` as the
    logit.

    Every layer has an equalised learning rate. Unconditional.
    """

    def __init__(self, ctx: NetContext, channels: int, architecture: str, mbstd_group: int):
        super().__init__(ctx, None, False)
        c, start, steps = image_plan(ctx, "stylegan2")
        self.from_rgb = EqualizedConv2d(c, channels, 1)
        self.blocks = nn.Sequential(*(DBlock(channels, channels, architecture == "resnet") for _ in range(steps)))
        self.mbstd = MinibatchStd(mbstd_group)
        self.conv = EqualizedConv2d(channels + 1, channels, 3)
        self.fc = EqualizedLinear(channels * start * start, channels)
        self.build_head(channels, linear=False)
        self.out = EqualizedLinear(channels, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(lrelu(self.from_rgb(x)))
        h = lrelu(self.conv(self.mbstd(h)))
        return lrelu(self.fc(h.flatten(1)))

    def logit(self, f: torch.Tensor) -> torch.Tensor:
        return self.out(f).squeeze(1)


@register("generator", "stylegan2", choices={"output": tuple(IMAGE_OUTPUTS)})
def build_generator(
    ctx: NetContext,
    *,
    channels: int = 512,  # feature maps at every resolution (the paper's 512 at 32 px and below)
    w_dim: int = 512,  # width of w and of the mapping network (the paper's 512)
    mapping_layers: int = 8,  # depth of the mapping network (8 in the paper; the ada "cifar" config uses 2)
    mapping_lr: float = 0.01,  # learning-rate multiplier of the mapping network (the paper's 0.01)
    mixing: float = 0.9,  # style-mixing probability per training batch (the paper's 0.9; 0 = off)
    w_avg_beta: float = 0.995,  # decay of the running mean of w that truncation pulls towards (the paper's)
    output: str = "linear",  # linear: the paper's unbounded sum of toRGBs | tanh: squashed into (-1, 1)
) -> nn.Module:
    if not 0 <= mixing <= 1:
        raise ValueError(f"mixing must be a probability in [0, 1], got {mixing}")
    if not 0 < mapping_lr <= 1 or not 0 <= w_avg_beta < 1 or mapping_layers < 1 or w_dim < 1:
        raise ValueError("mapping_lr must be in (0, 1], w_avg_beta in [0, 1), mapping_layers and w_dim >= 1")
    return StyleGAN2Generator(ctx, channels, w_dim, mapping_layers, mapping_lr, mixing, w_avg_beta, output)


@register("discriminator", "stylegan2", choices={"architecture": ("resnet", "orig")})
def build_discriminator(
    ctx: NetContext,
    *,
    channels: int = 512,  # feature maps at every resolution (the paper's 512 at 32 px and below)
    architecture: str = "resnet",  # resnet: residual blocks (StyleGAN2's D); orig: plain blocks (ada's cifar)
    mbstd_group: int = 4,  # minibatch std group size (the paper's 4; ada's cifar config uses 32)
) -> nn.Module:
    if mbstd_group < 1:
        raise ValueError(f"mbstd_group must be >= 1, got {mbstd_group}")
    return StyleGAN2Discriminator(ctx, channels, architecture, mbstd_group)
