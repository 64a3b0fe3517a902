"""The semi-supervised GAN's MNIST networks (Salimans et al. 2016, openai/improved-gan's MNIST model).

D (``ssgan-mlp``): Gaussian noise (std 0.3) on the input, then weight-normalised ReLU layers
1000-500-250-250-250 each followed by Gaussian noise (std 0.5), then a weight-normalised linear
map to K class logits. ``features`` is the last 250-unit layer (what G's feature matching reads),
``classify(f)`` the K logits, and ``head(f)`` the realness logit log Z with Z = sum exp(logits): the
fake class's logit is fixed at 0, so D(x) = sigmoid(log Z) = Z / (Z + 1). That keeps the network
protocol of :mod:`ganforge.nets.base` (one realness logit per sample) while the same D classifies.

G (``ssgan-mlp``): z -> 500 -> 500 with batch norm and softplus, then a weight-normalised linear
map to the image with a sigmoid.

Weight normalisation (Salimans & Kingma 2016) is written here rather than taken from
``torch.nn.utils.parametrizations.weight_norm`` because the improved-gan model keeps the scale g of
its hidden layers *fixed* after a data-dependent initialisation (only the output layer trains it),
and because that initialisation (:meth:`SSGANDiscriminator.init_from_data`) needs the normalised
pre-activations layer by layer. A fixed g is a buffer, so freezing/unfreezing D never trains it.
Our own code, written from the paper's description.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ganforge.nets.base import Discriminator, Generator
from ganforge.nets.registry import NetContext, register

Tensor = torch.Tensor

# improved-gan's MNIST D draws its dense layers' v from N(0, 0.1) (nn.DenseLayer's theta); 0.05 here had doubled
# the rate at which Adam turns each hidden unit's direction
MNIST_THETA_STD = 0.1


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise in training mode only (the model is deterministic in eval mode)."""

    def __init__(self, std: float):
        super().__init__()
        self.std = float(std)

    def forward(self, x: Tensor) -> Tensor:
        if self.training and self.std > 0:
            return x + self.std * torch.randn_like(x)
        return x


class WeightNormed(nn.Module):
    """y = (g / ||v||) * (v * x) + b per output channel (dim 1 of y), with the data-dependent init of
    :meth:`init_scale`. Subclasses give ``direction`` (the product with unit-norm v); ``train_scale=False``
    keeps g as a buffer (the reference's hidden layers). ``init_std`` is v's initial std: only v's direction
    enters y, but Adam moves each element of v by about lr, so a smaller v turns faster (the reference draws
    0.1 in its MNIST dense layers, 0.05 in its CIFAR ones). ``init_stdv`` is the std each output channel gets
    from the data-dependent init (the reference's ``init_stdv``: 1, 0.1 for the CIFAR model's output layers)."""

    def __init__(self, v_shape: tuple[int, ...], n_out: int, train_scale: bool, init_std: float,
                 init_stdv: float = 1.0):
        super().__init__()
        self.init_stdv = float(init_stdv)
        self.v = nn.Parameter(torch.randn(v_shape) * init_std)
        self.b = nn.Parameter(torch.zeros(n_out))
        g = torch.ones(n_out)
        if train_scale:
            self.g = nn.Parameter(g)
        else:
            self.register_buffer("g", g)

    def direction(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _per_channel(self, p: Tensor, t: Tensor) -> Tensor:
        return p.view(1, -1, *[1] * (t.dim() - 2))

    def forward(self, x: Tensor) -> Tensor:
        t = self.direction(x)
        return t * self._per_channel(self.g, t) + self._per_channel(self.b, t)

    @torch.no_grad()
    def init_scale(self, x: Tensor) -> Tensor:
        """Data-dependent init: each output channel gets zero mean and std ``init_stdv`` on batch ``x`` (over
        the batch and, for maps, space)."""
        t = self.direction(x)
        dims = (0, *range(2, t.dim()))
        mean, std = t.mean(dims), t.std(dims, unbiased=False).clamp_min(1e-6)
        self.g.copy_(self.init_stdv / std)
        self.b.copy_(-mean * self.init_stdv / std)
        return self.forward(x)


class WNLinear(WeightNormed):
    """The weight-normalised linear layer: ||v|| per output unit."""

    def __init__(self, n_in: int, n_out: int, train_scale: bool = False, init_std: float = 0.05,
                 init_stdv: float = 1.0):
        super().__init__((n_out, n_in), n_out, train_scale, init_std, init_stdv)

    def direction(self, x: Tensor) -> Tensor:
        """(v / ||v||) x without the scale or bias: what the data-dependent init measures."""
        return F.linear(x, self.v / self.v.norm(dim=1, keepdim=True).clamp_min(1e-12))


class SSGANDiscriminator(Discriminator):
    """improved-gan's MNIST D: a K-class classifier whose realness logit is the logsumexp of its class logits
    (the fake class's logit fixed at 0), so one net both classifies and plays D under the protocol of
    :mod:`ganforge.nets.base`.

    Weight-normalised ReLU layers with Gaussian noise on the input and after every hidden layer (training mode
    only); the hidden layers' scales are fixed buffers set by :meth:`init_from_data`, which the
    semi-supervised recipe calls on its first real images. Needs labelled data.
    """

    def __init__(self, ctx: NetContext, hidden: tuple[int, ...], input_noise: float, hidden_noise: float):
        super().__init__(ctx, "none", aux_classifier=False)
        if ctx.num_classes is None or ctx.num_classes < 2:
            raise ValueError("ssgan-mlp classifies: it needs a labelled dataset with at least 2 classes")
        self.num_classes = ctx.num_classes
        widths = [math.prod(ctx.data_shape), *hidden]
        self.input_noise = GaussianNoise(input_noise)
        self.layers = nn.ModuleList(WNLinear(a, b, init_std=MNIST_THETA_STD) for a, b in zip(widths[:-1], widths[1:]))
        self.noises = nn.ModuleList(GaussianNoise(hidden_noise) for _ in hidden)
        self.out = WNLinear(widths[-1], ctx.num_classes, train_scale=True, init_std=MNIST_THETA_STD)

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer's ReLU output (before its noise): what feature matching reads."""
        h = self.input_noise(x.flatten(1))
        for i, layer in enumerate(self.layers):
            if i:
                h = self.noises[i - 1](h)
            h = F.relu(layer(h))
        return h

    def classify(self, f: Tensor) -> Tensor:
        """The K class logits (the fake class's logit is the constant 0)."""
        return self.out(self.noises[-1](f))

    def head(self, f: Tensor, y: Tensor | None = None) -> Tensor:
        """The realness logit log Z = logsumexp(class logits): sigmoid of it is Z / (Z + 1)."""
        return torch.logsumexp(self.classify(f), dim=1)

    @torch.no_grad()
    def init_from_data(self, x: Tensor) -> None:
        """improved-gan's data-dependent initialisation of every weight-normalised layer, in order,
        on batch ``x`` (the noise layers active, as in the reference)."""
        h = self.input_noise(x.flatten(1))
        for i, layer in enumerate(self.layers):
            if i:
                h = self.noises[i - 1](h)
            h = F.relu(layer.init_scale(h))
        self.out.init_scale(self.noises[-1](h))


class SSGANGenerator(Generator):
    """improved-gan's MNIST G: z -> (linear, batch norm, softplus) x 2 of 500 -> a weight-normalised linear map
    with a trainable scale -> sigmoid, images in [0, 1].

    The hidden linear maps have no bias (batch norm follows them). Unconditional, as in the paper: the labels
    are D's to use.
    """

    def __init__(self, ctx: NetContext, hidden: tuple[int, ...]):
        super().__init__(ctx, "none")
        widths = [ctx.z_dim, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.Softplus()]
        self.body = nn.Sequential(*layers)
        self.out = WNLinear(widths[-1], math.prod(self.data_shape), train_scale=True)
        self.output_range = (0.0, 1.0)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return torch.sigmoid(self.out(self.body(z))).view(-1, *self.data_shape)


@register("discriminator", "ssgan-mlp")
def ssgan_discriminator(
    ctx: NetContext,
    *,
    hidden: tuple[int, ...] = (1000, 500, 250, 250, 250),  # the improved-gan MNIST D's widths
    input_noise: float = 0.3,  # std of the Gaussian noise added to D's input in training (the paper's code)
    hidden_noise: float = 0.5,  # std of the Gaussian noise added after every hidden layer in training
) -> nn.Module:
    return SSGANDiscriminator(ctx, tuple(hidden), input_noise, hidden_noise)


@register("generator", "ssgan-mlp")
def ssgan_generator(
    ctx: NetContext,
    *,
    hidden: tuple[int, ...] = (500, 500),  # the improved-gan MNIST G's widths (batch norm, softplus)
) -> nn.Module:
    return SSGANGenerator(ctx, tuple(hidden))
