"""SRResNet (Ledig et al. 2017), the super-resolution generator of SRResNet and SRGAN; RRDB blocks (ESRGAN) as an option.

LR image in [0, 1] -> 9x9 conv, PReLU -> ``blocks`` residual blocks (3x3 conv, BN, PReLU, 3x3 conv,
BN, + input) -> 3x3 conv, BN -> + the first conv's output (the *global* skip: the body only learns
the high-frequency residual) -> log2(scale) x (3x3 conv to 4x channels, pixel shuffle x2, PReLU)
-> 9x9 conv to the image's channels. 16 blocks of 64 channels, batch norm, as published.

``block: rrdb`` swaps each residual block for ESRGAN's residual-in-residual dense block (three
dense blocks of five convs, residuals scaled by 0.2, no BN). ``norm: none`` drops batch norm
(EDSR/ESRGAN found it hurts SR and it costs time on small CPU batches); without BN, the last conv
of every residual branch starts at a tenth of its default init (EDSR's residual scaling in init
form) so the untrained net is close to the identity path and the first steps are stable.

``bicubic_skip: true`` adds the bicubic upscaling of the input to the output (VDSR's global
residual learning, Kim et al. 2016; not in the published SRResNet), with the tail conv starting at a
tenth of its init: the untrained net is then close to bicubic instead of to a grey image, which is
what lets a short CPU run end above the bicubic baseline rather than still climbing towards it.

``upsample_init: icnr`` (the default) starts every conv before a pixel shuffle with ICNR (Aitken et
al. 2017, "Checkerboard artifact free sub-pixel convolution"): the r*r filters that the shuffle
spreads over one output channel's r x r block are one and the same filter, so at init the upsampler
is a conv followed by a nearest-neighbour resize and the r x r sub-pixel positions of every block are
equal. With the default (``upsample_init: default``: every filter drawn on its own) the positions
differ from the first step, and the net starts with a fixed r-periodic pattern, the cross-hatch or
"checkerboard", that training must first unlearn and that an adversarial phase can sharpen instead.

Fully convolutional: any input size, any output ``scale`` that is a power of two. The output is
not squashed (a sigmoid/tanh slows SR training near black and white); callers clamp it to [0, 1].
:attr:`SRResNet.receptive_radius` is how far (in LR pixels) an output pixel sees, which is the
overlap tiling needs to reproduce the untiled result.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.registry import NetContext, register

BLOCKS = ("residual", "rrdb")
NORMS = ("batch", "none")
UPSAMPLE_INITS = ("icnr", "default")


def _shrink_init_(conv: nn.Conv2d, factor: float = 0.1) -> None:
    with torch.no_grad():
        conv.weight.mul_(factor)
        conv.bias.mul_(factor)


def icnr_(conv: nn.Conv2d, r: int) -> None:
    """ICNR (Aitken et al. 2017) for a conv whose output goes to ``PixelShuffle(r)``: each group of r*r
    filters (and biases) that the shuffle lays out over one output channel's r x r block becomes a copy
    of the group's first filter.

    Written here because torch has no ICNR. The paper draws a conv with out/r^2 filters and repeats
    each one r^2 times; keeping the first filter of each group of the conv's own default init is
    the same thing (torch's default init is scaled by fan-in, which a conv with fewer filters shares)
    and draws no extra random numbers, so a run with ``upsample_init: icnr`` and one with ``default``
    differ in this init and nothing else.
    """
    n = r * r
    if conv.out_channels % n:
        raise ValueError(f"ICNR needs out_channels divisible by {n}, got {conv.out_channels}")
    with torch.no_grad():  # PixelShuffle: input channel c*r*r + i*r + j -> output channel c, position (i, j)
        conv.weight.copy_(conv.weight[::n].repeat_interleave(n, 0))
        if conv.bias is not None:
            conv.bias.copy_(conv.bias[::n].repeat_interleave(n, 0))


class ShuffleBlur(nn.Module):
    """Pixel shuffle x2, then a 2x2 box blur (replicate-padded on the top and left so the size stays).

    Sugawara et al. 2019 ("Checkerboard artifacts free convolutional neural networks") and fastai's
    ``PixelShuffle_ICNR(blur=True)``: the box is zero at every 2-periodic frequency, so whatever the
    four sub-pixel filters learn, a flat input still gives a flat output; ICNR only starts there.
    No parameters, so it takes the place of the plain shuffle without renaming any weights."""

    def __init__(self) -> None:
        super().__init__()
        self.shuffle, self.pad, self.blur = nn.PixelShuffle(2), nn.ReplicationPad2d((1, 0, 1, 0)), nn.AvgPool2d(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blur(self.pad(self.shuffle(x)))


class ResidualBlock(nn.Module):
    """SRResNet's block: x + (3x3 conv, BN, PReLU, 3x3 conv, BN).

    With ``norm: none`` (EDSR) the second conv starts at a tenth of its init, so the untrained block is close
    to the identity and the first steps without batch norm are stable. ``radius`` (two 3x3 convs: 2 px) is
    its share of :attr:`SRResNet.receptive_radius`, the overlap tiled upscaling needs.
    """

    def __init__(self, channels: int, norm: str):
        super().__init__()
        bn = (lambda: nn.BatchNorm2d(channels)) if norm == "batch" else nn.Identity
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), bn(), nn.PReLU(channels),
                                  nn.Conv2d(channels, channels, 3, 1, 1), bn())
        if norm == "none":
            _shrink_init_(self.body[3])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)

    radius = 2  # two 3x3 convs


class DenseBlock(nn.Module):
    """Five 3x3 convs, each seeing the block input and all earlier outputs (ESRGAN)."""

    def __init__(self, channels: int, growth: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(channels + i * growth, growth if i < 4 else channels, 3, 1, 1)
                                   for i in range(5))
        self.act = nn.LeakyReLU(0.2)
        _shrink_init_(self.convs[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for i, conv in enumerate(self.convs):
            out = conv(torch.cat(feats, 1))
            if i < 4:
                feats.append(self.act(out))
        return x + 0.2 * out


class RRDB(nn.Module):
    """ESRGAN's residual-in-residual dense block: three :class:`DenseBlock` s in a row, their output scaled by 0.2
    before it is added to the input (ESRGAN's residual scaling, for a deep stack without batch norm).

    ``radius`` (three blocks of five 3x3 convs: 15 px) is its share of :attr:`SRResNet.receptive_radius`.
    """

    def __init__(self, channels: int, growth: int):
        super().__init__()
        self.dense = nn.Sequential(*(DenseBlock(channels, growth) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.dense(x)

    radius = 15  # three dense blocks of five 3x3 convs


class SRResNet(nn.Module):
    """LR (N, C, h, w) in [0, 1] -> SR (N, C, h*scale, w*scale), unclamped."""

    output_range = (0.0, 1.0)  # what the data are scaled to; the output itself is linear
    conditional = False
    num_classes = None

    def __init__(self, image_channels: int, *, scale: int, channels: int, blocks: int, block: str, norm: str,
                 growth: int, bicubic_skip: bool = False, upsample_init: str = "icnr", upsample_blur: bool = False):
        super().__init__()
        self.scale, self.image_channels, self.bicubic_skip = scale, image_channels, bicubic_skip
        bn = (lambda: nn.BatchNorm2d(channels)) if norm == "batch" and block == "residual" else nn.Identity
        self.head = nn.Sequential(nn.Conv2d(image_channels, channels, 9, 1, 4), nn.PReLU(channels))
        make = (lambda: ResidualBlock(channels, norm)) if block == "residual" else (lambda: RRDB(channels, growth))
        self.body = nn.Sequential(*(make() for _ in range(blocks)), nn.Conv2d(channels, channels, 3, 1, 1), bn())
        ups = []
        for _ in range(int(math.log2(scale))):
            shuffle = ShuffleBlur() if upsample_blur else nn.PixelShuffle(2)
            ups += [nn.Conv2d(channels, 4 * channels, 3, 1, 1), shuffle, nn.PReLU(channels)]
            if upsample_init == "icnr":
                icnr_(ups[-3], 2)
        self.up = nn.Sequential(*ups)
        self.tail = nn.Conv2d(channels, image_channels, 9, 1, 4)
        if bicubic_skip:
            _shrink_init_(self.tail)
        per_block = ResidualBlock.radius if block == "residual" else RRDB.radius
        # head 4 + blocks + body conv 1, then each up conv 1 pixel at its own (growing) size (and each blur 1
        # pixel at the size after it), tail 4 HR pixels.
        ups_radius = sum(1 / 2 ** i + upsample_blur / 2 ** (i + 1) for i in range(int(math.log2(scale))))
        self.receptive_radius = math.ceil(4 + blocks * per_block + 1 + ups_radius + 4 / scale)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.head(x)
        out = self.tail(self.up(h + self.body(h)))
        if self.bicubic_skip:  # the same interpolation as ganforge.data.superres.bicubic_up (nets sit beside data)
            out = out + F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False, antialias=True)
        return out


@register("generator", "srresnet", choices={"block": BLOCKS, "norm": NORMS, "upsample_init": UPSAMPLE_INITS})
def build_srresnet(
    ctx: NetContext,
    *,
    scale: int = 4,  # upscaling factor, a power of two (x4 in the paper)
    channels: int = 64,  # feature width (64 in the paper)
    blocks: int = 16,  # residual (or RRDB) blocks (16 in the paper)
    block: str = "residual",  # residual (SRResNet) or rrdb (ESRGAN)
    norm: str = "batch",  # batch (the paper) or none (EDSR, ESRGAN)
    growth: int = 32,  # RRDB dense blocks' width (32 in ESRGAN)
    bicubic_skip: bool = False,  # add the bicubic upscale to the output (not in the paper; starts at bicubic)
    # icnr: each pixel shuffle starts as nearest-neighbour resize, so the net starts without the r-periodic
    # cross-hatch that independently drawn sub-pixel filters print (Aitken et al. 2017; not in SRGAN's paper,
    # which predates it). default: torch's own init, kept to reproduce runs made before ICNR (their
    # checkpoints load either way: init does not touch loaded weights).
    upsample_init: str = "icnr",  # icnr: sub-pixel phases equal at init (no checkerboard) | default
    # a 2x2 box blur after each shuffle: no 2-periodic pattern survives whatever is learnt. Off here because
    # it changes what loaded weights compute: a run made without it (its config has no such key) must load
    # without it.
    upsample_blur: bool = False,  # 2x2 box blur after each pixel shuffle (off: old runs load as trained)
) -> nn.Module:
    """Defaults are the published SRResNet's (x4, 16 blocks of 64 channels, batch norm, no bicubic skip);
    ``growth`` is the RRDB dense blocks' width (32 in ESRGAN)."""
    if ctx.kind != "image" or len(ctx.data_shape) != 3:
        raise ValueError(f"srresnet needs image data (C, H, W), got {ctx.kind} of shape {tuple(ctx.data_shape)}")
    if scale < 2 or scale & (scale - 1):
        raise ValueError(f"scale must be a power of two >= 2 (2, 4, 8, ...), got {scale}")
    if blocks < 0 or growth < 1:
        raise ValueError(f"blocks must be >= 0 and growth >= 1, got blocks={blocks}, growth={growth}")
    return SRResNet(ctx.data_shape[0], scale=scale, channels=channels, blocks=blocks, block=block, norm=norm,
                    growth=growth, bicubic_skip=bicubic_skip, upsample_init=upsample_init, upsample_blur=upsample_blur)


__all__ = ["BLOCKS", "NORMS", "RRDB", "UPSAMPLE_INITS", "ResidualBlock", "SRResNet", "ShuffleBlur", "build_srresnet",
           "icnr_"]
