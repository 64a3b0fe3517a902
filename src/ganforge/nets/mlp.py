"""The 2014 GAN's fully connected networks (Goodfellow et al., goodfeli/adversarial mnist.yaml).

G: noise -> ReLU 1200 -> ReLU 1200 -> sigmoid 784, weights U(-0.05, 0.05), output
bias set from the data's pixel marginals. D: maxout 240x5 -> maxout 240x5 ->
sigmoid (a logit here), weights U(-0.005, 0.005), dropout on D's input (keep 0.8)
and hidden layers (keep 0.5). Sizes are options, so the same family serves 8x8
digits and 2D mixtures.

Class-conditional variants (Mirza & Osindero 2014): G takes [z, one_hot(y)]
(``conditioning: concat``); D conditions in its head (see :mod:`ganforge.nets.base`):
``concat`` adds a joint maxout layer on [features, one_hot(y)] (the cGAN paper's D has a
joint maxout layer after its x and y branches), ``projection`` adds <embed(y), f>, and
``aux_classifier`` adds an ACGAN ``classify``. D's ``features`` are the last maxout
layer's output *before* its dropout (deterministic given x, so feature matching compares
clean statistics); that dropout belongs to the head, which keeps ``forward`` exactly as
it was: Flatten, [Dropout, Maxout]*, Dropout, Linear.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.nets.base import D_CONDITIONING, Discriminator, Generator
from ganforge.nets.layers import Maxout, init_uniform_
from ganforge.nets.registry import NetContext, register

_OUTPUTS = {"sigmoid": (nn.Sigmoid, (0.0, 1.0)), "tanh": (nn.Tanh, (-1.0, 1.0)), "linear": (nn.Identity, None)}
_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh}


class MLPGenerator(Generator):
    """The 2014 paper's fully connected G (ReLU 1200 -> ReLU 1200 -> sigmoid 784 on MNIST), sizes as options so
    the same class draws 8x8 digits and 2D points.

    ``out: auto`` picks a sigmoid for images (pixels in [0, 1]) and a linear output for points, which have no
    fixed range; the sigmoid's bias starts at the logit of each pixel's mean (pylearn2's
    ``init_sigmoid_bias_from_marginals``) so G starts at the data's mean intensity. Conditioning is
    ``concat`` only (the cGAN paper's [z, one_hot(y)]).
    """

    def __init__(self, ctx: NetContext, hidden: tuple[int, ...], activation: str, out: str, irange: float,
                 bias_from_data: bool, conditioning: str = "none", batch_norm: bool = False):
        super().__init__(ctx, conditioning, ("none", "concat"))
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(_ACTIVATIONS)}, got '{activation}'")
        if out == "auto":
            out = "sigmoid" if ctx.kind == "image" else "linear"
        if out not in _OUTPUTS:
            raise ValueError(f"out must be auto or one of {', '.join(_OUTPUTS)}, got '{out}'")
        widths = [ctx.z_dim + self.z_extra, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), *([nn.BatchNorm1d(b)] if batch_norm else []), _ACTIVATIONS[activation]()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], math.prod(self.data_shape))
        act, self.output_range = _OUTPUTS[out]
        self.out_act = act()
        init_uniform_(self, irange)
        if bias_from_data and out == "sigmoid" and ctx.data_mean is not None:
            # pylearn2 init_sigmoid_bias_from_marginals: start every pixel at its mean intensity.
            p = ctx.data_mean.reshape(-1).clamp(1e-7, 1 - 1e-7)
            with torch.no_grad():
                self.head.bias.copy_(torch.log(p / (1 - p)))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = self.out_act(self.head(self.body(self.with_labels(z, y))))
        return x.view(z.shape[0], *self.data_shape)


class MaxoutDiscriminator(Discriminator):
    """The 2014 paper's D: dropout + maxout layers (240 x 5 pieces, twice, on MNIST), then dropout and a linear
    logit; weights U(-irange, irange).

    The layers stay one ``nn.Sequential`` (``net``) so the unconditional ``forward`` is exactly the paper's
    stack; ``features`` stops before the last dropout, which belongs to the head (the ``logit``, the concat
    joint maxout layer and the ACGAN classifier each apply it).
    """

    def __init__(self, ctx: NetContext, hidden: tuple[int, ...], pieces: int, input_dropout: float,
                 hidden_dropout: float, irange: float, conditioning: str = "none", aux_classifier: bool = False):
        super().__init__(ctx, conditioning, aux_classifier, D_CONDITIONING)
        for name, p in (("input_dropout", input_dropout), ("hidden_dropout", hidden_dropout)):
            if not 0 <= p < 1:
                raise ValueError(f"{name} is a drop probability and must be in [0, 1), got {p}")
        widths = [math.prod(ctx.data_shape), *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers += [nn.Dropout(input_dropout if i == 0 else hidden_dropout), Maxout(a, b, pieces)]
        last_dropout = hidden_dropout if hidden else input_dropout
        layers += [nn.Dropout(last_dropout), nn.Linear(widths[-1], 1)]
        self.net = nn.Sequential(*layers)
        f = widths[-1]
        joint = None
        if self.conditioning == "concat":  # cGAN: a joint maxout layer over [features, label]
            joint = nn.Sequential(nn.Dropout(last_dropout), Maxout(f + self.num_classes, f, pieces))
        self.build_head(f, joint=joint, joint_width=f, linear=False)
        if self.aux_classifier:  # same dropout as the realness output
            self.classify = nn.Sequential(nn.Dropout(last_dropout), nn.Linear(f, self.num_classes))
        init_uniform_(self, irange)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.net[:-2]:
            x = layer(x)
        return x

    def logit(self, f: torch.Tensor) -> torch.Tensor:
        return self.net[-1](self.net[-2](f)).squeeze(1)


@register("generator", "mlp", choices={"activation": tuple(_ACTIVATIONS), "out": ("auto", *_OUTPUTS),
                                        "conditioning": ("none", "concat")})
def mlp_generator(
    ctx: NetContext,
    *,
    hidden: tuple[int, ...] = (1200, 1200),  # the paper's two ReLU layers of 1200
    activation: str = "relu",  # relu | leaky_relu | tanh
    out: str = "auto",  # sigmoid for images (data in [0, 1]), linear for 2D points; or tanh
    irange: float = 0.05,  # weights U(-irange, irange), as pylearn2
    bias_from_data: bool = True,  # sigmoid output bias = logit of each pixel's mean
    conditioning: str = "none",  # none | concat (G(z, y) reads [z, one_hot(y)]; needs labelled data)
    batch_norm: bool = False,  # BN before each activation (DCGAN's advice for G; the PacGAN/VEEGAN 2D G has it)
) -> nn.Module:
    return MLPGenerator(ctx, tuple(hidden), activation, out, irange, bias_from_data, conditioning, batch_norm)


@register("discriminator", "maxout", choices={"conditioning": D_CONDITIONING})
def maxout_discriminator(
    ctx: NetContext,
    *,
    hidden: tuple[int, ...] = (240, 240),  # the paper's two maxout layers of 240 units
    pieces: int = 5,  # linear pieces per maxout unit
    input_dropout: float = 0.2,  # drop probability on D's input (keep 0.8)
    hidden_dropout: float = 0.5,  # drop probability on hidden layers (keep 0.5)
    irange: float = 0.005,  # weights U(-irange, irange), as pylearn2
    conditioning: str = "none",  # none | concat (joint maxout layer on [features, one_hot(y)]) | projection
    aux_classifier: bool = False,  # ACGAN: add classify(features) -> class logits
) -> nn.Module:
    return MaxoutDiscriminator(ctx, tuple(hidden), pieces, input_dropout, hidden_dropout, irange, conditioning,
                               aux_classifier)
