"""Residual G and D as in SNGAN (Miyato et al. 2018, CIFAR-10), with optional SAGAN attention.

G: z -> linear to a ``start`` x ``start`` map of ``channels`` (4x4x256 at 32 px, 7x7 at 28
px) -> up-blocks (BN, ReLU, 2x nearest upsample, 3x3 conv, BN, ReLU, 3x3 conv; 1x1 conv
shortcut on the upsampled input) until the data's size -> BN, ReLU, 3x3 conv, tanh.
D: an "optimized" first block (conv, ReLU, conv, 2x2 average pool; shortcut pool then 1x1
conv), pre-activation down-blocks until the maps are 8x8 or smaller (7x7 at 28 px), then
two blocks at that size (4 blocks of 128 at 32 px) -> ReLU -> global sum pooling, which
are the ``features``. No normalisation in D: use it with ``spectral_norm: true``.

Conditioning: G ``cbn`` makes every block's batch norm per-class (the last BN stays shared,
as in Miyato & Koyama 2018), ``concat`` appends one_hot(y) to z; D ``projection`` /
``concat`` / ``aux_classifier`` act on the pooled features (see :mod:`ganforge.nets.base`).
Init ``xavier`` is SNGAN's: Glorot uniform, gain sqrt(2) on the residual 3x3 convs and 1
on shortcuts and linear maps; ``orthogonal`` is BigGAN's.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.base import (D_CONDITIONING, G_CONDITIONING, Discriminator, Generator, check_attention_res,
                                check_choice, check_width, image_plan)
from ganforge.nets.layers import (INITS, MinibatchStd, SelfAttention, apply_norm, batch_norm2d, halvings,
                                  init_weights_)
from ganforge.nets.registry import NetContext, register

_OUTPUTS = {"tanh": (torch.tanh, (-1.0, 1.0)), "sigmoid": (torch.sigmoid, (0.0, 1.0))}


class UpBlock(nn.Module):
    """Pre-activation residual block that doubles the size (SNGAN's generator block)."""

    def __init__(self, cin: int, cout: int, num_classes: int | None):
        super().__init__()
        self.norm1, self.conv1 = batch_norm2d(cin, num_classes), nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2, self.conv2 = batch_norm2d(cout, num_classes), nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = F.interpolate(F.relu(apply_norm(self.norm1, x, y)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(apply_norm(self.norm2, self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    """Residual D block; ``first`` is SNGAN's "optimized" block (no ReLU on the raw input)."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1, self.conv2 = nn.Conv2d(cin, cout, 3, 1, 1), nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1) if (cin != cout or down or first) else None

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) if self.down else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = self._pool(self.conv2(F.relu(h)))
        if self.first:
            return h + self.shortcut(self._pool(x))
        sc = x if self.shortcut is None else self.shortcut(x)
        return h + self._pool(sc)


def _init(net: nn.Module, scheme: str) -> None:
    init_weights_(net, scheme)
    if scheme == "xavier":  # SNGAN: residual convs get gain sqrt(2)
        for block in net.modules():
            if isinstance(block, (UpBlock, DownBlock)):
                init_weights_(nn.ModuleList([block.conv1, block.conv2]), scheme, gain=math.sqrt(2))


class ResNetGenerator(Generator):
    """SNGAN's residual G: linear to ``start`` x ``start``, one :class:`UpBlock` per doubling (all ``channels``
    wide, as SNGAN's CIFAR G), then BN, ReLU, 3x3 conv and the output activation.

    With ``cbn`` the blocks' batch norms are per class while the final one stays shared (Miyato & Koyama
    2018); ``concat`` appends one_hot(y) to z. ``init: xavier`` gives the residual convs gain sqrt(2), as
    SNGAN's code does.
    """

    def __init__(self, ctx: NetContext, channels: int, conditioning: str, attention_res: int | None, out: str,
                 init: str):
        super().__init__(ctx, conditioning, G_CONDITIONING)
        check_choice("out", out, tuple(_OUTPUTS))
        check_choice("init", init, INITS)
        check_width("channels", channels)
        image_channels, start, steps = image_plan(ctx, "resnet")
        sizes = [start * 2 ** (i + 1) for i in range(steps)]  # output size of each up-block
        check_attention_res(attention_res, sizes)
        self.attention_index = sizes.index(attention_res) if attention_res is not None else -1
        self.start, self.channels = start, channels
        classes = self.num_classes if self.conditioning == "cbn" else None
        self.project = nn.Linear(ctx.z_dim + self.z_extra, channels * start * start)
        self.blocks = nn.ModuleList([UpBlock(channels, channels, classes) for _ in range(steps)])
        if attention_res is not None:
            self.attention = SelfAttention(channels)
        self.norm = nn.BatchNorm2d(channels)
        self.to_image = nn.Conv2d(channels, image_channels, 3, 1, 1)
        self.out_act, self.output_range = _OUTPUTS[out]
        _init(self, init)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y = self.labels(y)
        h = self.project(self.with_labels(z, y)).view(z.shape[0], self.channels, self.start, self.start)
        for i, block in enumerate(self.blocks):
            h = block(h, y)
            if i == self.attention_index:
                h = self.attention(h)
        return self.out_act(self.to_image(F.relu(self.norm(h))))


class ResNetDiscriminator(Discriminator):
    """SNGAN's residual D: the "optimized" first :class:`DownBlock`, down-blocks until the maps are 8x8 or
    smaller, two more at that size, then ReLU and global *sum* pooling as ``features``.

    It has no normalisation layers of its own: it is meant to run with the registry's generic
    ``spectral_norm``, as in SNGAN. Conditioning (projection, concat, ACGAN) is the base class's head on the
    pooled features; optional minibatch std before the last block and self-attention after the first block
    giving maps of ``attention_res``.
    """

    def __init__(self, ctx: NetContext, channels: int, conditioning: str, aux_classifier: bool,
                 minibatch_std: bool, attention_res: int | None, init: str):
        super().__init__(ctx, conditioning, aux_classifier, D_CONDITIONING)
        check_choice("init", init, INITS)
        check_width("channels", channels)
        image_channels, _, _ = image_plan(ctx, "resnet")
        size = ctx.data_shape[-1]
        downs = halvings(size, 8)  # down to 8x8 at 16/32/64 px, 7x7 at 28 px
        plan = [True] * downs + [False, False]  # SNGAN 32 px: down, down, same, same
        sizes = [size >> sum(plan[: i + 1]) for i in range(len(plan))]
        check_attention_res(attention_res, sizes)
        layers: list[nn.Module] = []
        prev = image_channels
        for i, (down, out_size) in enumerate(zip(plan, sizes)):
            if minibatch_std and i == len(plan) - 1:
                layers.append(MinibatchStd())
                prev += 1
            layers.append(DownBlock(prev, channels, down, first=i == 0))
            if out_size == attention_res and not any(isinstance(m, SelfAttention) for m in layers):
                layers.append(SelfAttention(channels))
            prev = channels
        self.blocks = nn.Sequential(*layers)
        self.build_head(channels)
        _init(self, init)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.blocks(x)).sum(dim=(2, 3))


@register("generator", "resnet", choices={"conditioning": G_CONDITIONING, "out": tuple(_OUTPUTS), "init": INITS})
def resnet_generator(
    ctx: NetContext,
    *,
    channels: int = 256,  # width of every block (SNGAN CIFAR-10: 256)
    conditioning: str = "none",  # none | concat ([z, one_hot(y)]) | cbn (per-class BN in every block)
    attention_res: int | None = None,  # SAGAN self-attention after the up-block giving this size; null = off
    out: str = "tanh",  # tanh (data in [-1, 1]) | sigmoid ([0, 1])
    init: str = "xavier",  # xavier as SNGAN | orthogonal as BigGAN | normal N(0, 0.02) | default (PyTorch's)
) -> nn.Module:
    return ResNetGenerator(ctx, channels, conditioning, attention_res, out, init)


@register("discriminator", "resnet", choices={"conditioning": D_CONDITIONING, "init": INITS})
def resnet_discriminator(
    ctx: NetContext,
    *,
    channels: int = 128,  # width of every block (SNGAN CIFAR-10: 128)
    conditioning: str = "none",  # none | concat (joint layer on [features, one_hot(y)]) | projection (SNGAN cond.)
    aux_classifier: bool = False,  # ACGAN: add classify(features) -> class logits
    minibatch_std: bool = False,  # append the batch's mean std as one feature map before the last block
    attention_res: int | None = None,  # SAGAN self-attention after the first block giving this size; null = off
    init: str = "xavier",  # xavier as SNGAN | orthogonal as BigGAN | normal N(0, 0.02) | default (PyTorch's)
) -> nn.Module:
    return ResNetDiscriminator(ctx, channels, conditioning, aux_classifier, minibatch_std, attention_res, init)
