"""DCGAN (Radford et al. 2015): all-convolutional G and D, one builder for every resolution.

G: z -> linear projection to a ``start`` x ``start`` map (4x4 for 8/16/32/64 px, 7x7 for
28 px) -> batch norm + ReLU -> transposed convs (4x4, stride 2) doubling the size and
halving the width, each followed by BN + ReLU -> the last one gives the image, tanh.
D mirrors it: strided 4x4 convs with LeakyReLU(0.2), no pooling, normalisation on every
layer except the first (``norm: none`` or ``layer`` for WGAN-GP, whose penalty is wrong
under batch norm); the final linear map reads the flattened ``start`` x ``start`` map
(the paper's last "conv to one unit"). Weights N(0, 0.02), BN gains N(1, 0.02).

The number of blocks follows from the data's size; ``base_channels`` is the width at the
finest resolution (64 in the paper: 64 px is 512-256-128-64 in G, 64-128-256-512 in D).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.base import (D_CONDITIONING, G_CONDITIONING, Discriminator, Generator, check_attention_res,
                                check_choice, check_width, image_plan)
from ganforge.nets.layers import (INITS, MinibatchStd, SelfAttention, apply_norm, batch_norm2d, in_layout_of,
                                  init_weights_)
from ganforge.nets.registry import NetContext, register

_OUTPUTS = {"tanh": (torch.tanh, (-1.0, 1.0)), "sigmoid": (torch.sigmoid, (0.0, 1.0))}
D_NORMS = ("batch", "layer", "none")


class DCGANGenerator(Generator):
    """DCGAN's G: z -> a projected ``start`` x ``start`` map -> stride-2 4x4 transposed convs, BN + ReLU before each.

    The number of up-steps and the widths follow from the data's size (:func:`~ganforge.nets.base.image_plan`),
    so one class serves 8 to 64 px rather than one hand-written net per resolution. ``cbn`` conditioning makes
    each of those batch norms per class, ``concat`` widens the projection's input by one_hot(y); the optional
    self-attention runs on the maps of size ``attention_res``, just before their up-conv.
    """

    def __init__(self, ctx: NetContext, base_channels: int, conditioning: str, attention_res: int | None,
                 out: str, init: str):
        super().__init__(ctx, conditioning, G_CONDITIONING)
        check_choice("out", out, tuple(_OUTPUTS))
        check_choice("init", init, INITS)
        check_width("base_channels", base_channels)
        channels, start, steps = image_plan(ctx, "dcgan")
        widths = [base_channels * 2 ** (steps - 1 - i) for i in range(steps)]  # at start, 2*start, ..., size/2
        sizes = [start * 2**i for i in range(steps)]
        check_attention_res(attention_res, sizes)
        self.attention_index = sizes.index(attention_res) if attention_res is not None else -1
        self.start = start
        classes = self.num_classes if self.conditioning == "cbn" else None
        self.project = nn.Linear(ctx.z_dim + self.z_extra, widths[0] * start * start, bias=False)
        self.norms = nn.ModuleList([batch_norm2d(w, classes) for w in widths])
        self.ups = nn.ModuleList(
            [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False) for a, b in zip(widths[:-1], widths[1:])]
            + [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1)])
        if attention_res is not None:
            self.attention = SelfAttention(widths[self.attention_index])
        self.out_act, self.output_range = _OUTPUTS[out]
        init_weights_(self, init)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y = self.labels(y)
        h = in_layout_of(self.project(self.with_labels(z, y)).view(z.shape[0], -1, self.start, self.start), self.ups[0])
        for i, (norm, up) in enumerate(zip(self.norms, self.ups)):
            h = F.relu(apply_norm(norm, h, y))
            if i == self.attention_index:
                h = self.attention(h)
            h = up(h)
        return self.out_act(h)


class DCGANDiscriminator(Discriminator):
    """DCGAN's D: stride-2 4x4 convs with LeakyReLU(0.2), widths doubling from ``base_channels``; ``features`` is
    the flattened ``start`` x ``start`` map.

    The first layer is never normalised (the paper's); ``norm: layer`` (GroupNorm with one group, per sample)
    and ``none`` are for WGAN-GP and spectral norm: batch norm makes each sample's logit depend on the rest
    of its batch, which breaks WGAN-GP's per-sample gradient penalty. The paper's final "conv to one unit"
    is the base class's linear head on the flattened map, so the projection, concat and ACGAN heads of
    :class:`~ganforge.nets.base.Discriminator` read the same features.
    """

    def __init__(self, ctx: NetContext, base_channels: int, norm: str, conditioning: str, aux_classifier: bool,
                 minibatch_std: bool, attention_res: int | None, init: str):
        super().__init__(ctx, conditioning, aux_classifier, D_CONDITIONING)
        check_choice("norm", norm, D_NORMS)
        check_choice("init", init, INITS)
        check_width("base_channels", base_channels)
        channels, start, steps = image_plan(ctx, "dcgan")
        widths = [base_channels * 2**i for i in range(steps)]
        sizes = [start * 2 ** (steps - 1 - i) for i in range(steps)]  # output size of each block
        check_attention_res(attention_res, sizes)
        layers: list[nn.Module] = []
        prev = channels
        for i, (w, size) in enumerate(zip(widths, sizes)):
            if minibatch_std and i == steps - 1:
                layers.append(MinibatchStd())
                prev += 1
            normed = i > 0 and norm != "none"
            block = [nn.Conv2d(prev, w, 4, 2, 1, bias=not normed)]
            if normed:
                block.append(nn.BatchNorm2d(w) if norm == "batch" else nn.GroupNorm(1, w))
            block.append(nn.LeakyReLU(0.2))
            layers.append(nn.Sequential(*block))
            if size == attention_res:
                layers.append(SelfAttention(w))
            prev = w
        self.blocks = nn.Sequential(*layers)
        self.build_head(widths[-1] * start * start, joint_width=widths[-1])
        init_weights_(self, init)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).flatten(1)


@register("generator", "dcgan", choices={"conditioning": G_CONDITIONING, "out": tuple(_OUTPUTS), "init": INITS})
def dcgan_generator(
    ctx: NetContext,
    *,
    base_channels: int = 64,  # width of the last hidden layer; doubles towards the start (64 -> 512 at 64 px)
    conditioning: str = "none",  # none | concat ([z, one_hot(y)]) | cbn (per-class BN gain and bias)
    attention_res: int | None = None,  # SAGAN self-attention on the feature maps of this size; null = off
    out: str = "tanh",  # tanh (data in [-1, 1], the paper) | sigmoid ([0, 1])
    init: str = "normal",  # normal N(0, 0.02) as the paper | xavier | orthogonal | default (PyTorch's)
) -> nn.Module:
    return DCGANGenerator(ctx, base_channels, conditioning, attention_res, out, init)


@register("discriminator", "dcgan", choices={"conditioning": D_CONDITIONING, "norm": D_NORMS, "init": INITS})
def dcgan_discriminator(
    ctx: NetContext,
    *,
    base_channels: int = 64,  # width of the first conv; doubles at every downsampling (64 -> 512 at 64 px)
    norm: str = "batch",  # batch (the paper; none on the first layer) | layer | none (for WGAN-GP / spectral norm)
    conditioning: str = "none",  # none | concat (joint layer on [features, one_hot(y)]) | projection
    aux_classifier: bool = False,  # ACGAN: add classify(features) -> class logits
    minibatch_std: bool = False,  # append the batch's mean std as one feature map before the last conv
    attention_res: int | None = None,  # SAGAN self-attention after the block giving maps of this size; null = off
    init: str = "normal",  # normal N(0, 0.02) as the paper | xavier | orthogonal | default (PyTorch's)
) -> nn.Module:
    return DCGANDiscriminator(ctx, base_channels, norm, conditioning, aux_classifier, minibatch_std, attention_res,
                              init)
