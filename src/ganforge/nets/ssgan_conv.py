"""The semi-supervised GAN's CIFAR networks (Salimans et al. 2016, the improved-gan CIFAR-10 model), as conv nets.

D (``ssgan-conv``): dropout 0.2 on the input (the reference code's; ``input_noise`` adds Gaussian noise
instead or as well), then weight-normalised 3x3 convs with LeakyReLU 0.2: 96, 96, 96 (the third stride 2),
dropout 0.5, 192, 192, 192 (the third stride 2), dropout 0.5, 192 (valid padding), two 1x1 "network in
network" layers of 192, a global average pool, and a weight-normalised linear map to K class logits.
``features`` is the pooled 192-vector (what G's feature matching reads), ``classify(f)`` the K logits and
``head(f)`` log Z = logsumexp of them, as for the MNIST model (:mod:`ganforge.nets.ssgan`): the fake class's
logit is fixed at 0, so D(x) = Z / (Z + 1). ``channels`` is the first block's width (the rest are twice it).

G (``ssgan-conv``): z -> linear to 4x4x512 -> 5x5 stride-2 transposed convs to 256 and 128 channels, each
with batch norm (a learned shift, no scale, as the reference) and ReLU -> a weight-normalised 5x5 stride-2
transposed conv to the image with tanh. ``channels`` is the last hidden width (128; 256 and 512 before it).

Pixels: the recipe gives D images in [0, 1]; D maps them to [-1, 1] first (the reference's scale, which its
input dropout and noise assume), and G reads its tanh in [0, 1] ((tanh + 1) / 2, ``output_range`` (0, 1)), so
D sees exactly what the reference's D sees. Every D layer is weight-normalised with the data-dependent init
of :meth:`SSGANConvDiscriminator.init_from_data`; the hidden layers keep that scale fixed (a buffer), the
output layer and G's output layer train it. Our own code, written from the paper's description.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ganforge.nets.base import Discriminator, Generator, image_plan
from ganforge.nets.registry import NetContext, register
from ganforge.nets.ssgan import GaussianNoise, WeightNormed, WNLinear

Tensor = torch.Tensor


class WNConv2d(WeightNormed):
    """The convolutional :class:`~ganforge.nets.ssgan.WNLinear`: ||v|| over each output channel's whole
    kernel. ``transposed`` makes it a transposed conv (G's output)."""

    def __init__(self, n_in: int, n_out: int, kernel: int, stride: int = 1, padding: int = 0, *,
                 transposed: bool = False, train_scale: bool = False, init_std: float = 0.05, init_stdv: float = 1.0):
        shape = (n_in, n_out, kernel, kernel) if transposed else (n_out, n_in, kernel, kernel)
        super().__init__(shape, n_out, train_scale, init_std, init_stdv)
        self.stride, self.padding, self.transposed = stride, padding, transposed

    def direction(self, x: Tensor) -> Tensor:
        """The conv with unit-norm kernels and no scale or bias: what the data-dependent init measures."""
        dims = (0, 2, 3) if self.transposed else (1, 2, 3)
        w = self.v / torch.linalg.vector_norm(self.v, dim=dims, keepdim=True).clamp_min(1e-12)
        if self.transposed:  # 2x upsampling for an odd kernel: out = 2 * in
            return F.conv_transpose2d(x, w, stride=self.stride, padding=self.padding,
                                      output_padding=self.stride - 1)
        return F.conv2d(x, w, stride=self.stride, padding=self.padding)


class ShiftBatchNorm(nn.Module):
    """Batch norm with a learned shift and no scale (the reference G's ``batch_norm(g=None)``)."""

    def __init__(self, width: int, dims: int):
        super().__init__()
        self.norm = (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(width, affine=False)
        self.shift = nn.Parameter(torch.zeros(width))

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x) + self.shift.view(1, -1, *([1] * (x.dim() - 2)))


# The std the data-dependent init gives the output layers of D (class logits) and G (tanh's input): the reference's
# init_stdv=0.1 for both, so D starts near-uniform over the classes and G's tanh near its linear range
OUT_INIT_STDV = 0.1

# (width multiple of ``channels``, kernel, stride, padding) of D's conv layers; dropout after DROP_AFTER.
D_PLAN = ((1, 3, 1, 1), (1, 3, 1, 1), (1, 3, 2, 1), (2, 3, 1, 1), (2, 3, 1, 1), (2, 3, 2, 1),
          (2, 3, 1, 0), (2, 1, 1, 0), (2, 1, 1, 0))
DROP_AFTER = (2, 5)


class SSGANConvDiscriminator(Discriminator):
    """improved-gan's CIFAR-10 D as a conv net: a K-class classifier whose realness logit is the logsumexp of
    its class logits, as :class:`~ganforge.nets.ssgan.SSGANDiscriminator`.

    It takes [0, 1] pixels and maps them to [-1, 1] itself, the scale the reference's input dropout and
    noise assume, so it sees what the reference's D sees. Every layer is weight-normalised, initialised from
    data by :meth:`init_from_data`. Needs labelled images of at least 12x12 px.
    """

    def __init__(self, ctx: NetContext, channels: int, input_dropout: float, input_noise: float, dropout: float,
                 slope: float):
        super().__init__(ctx, "none", aux_classifier=False)
        if ctx.num_classes is None or ctx.num_classes < 2:
            raise ValueError("ssgan-conv classifies: it needs a labelled dataset with at least 2 classes")
        shape = tuple(ctx.data_shape)
        if ctx.kind != "image" or len(shape) != 3 or min(shape[1:]) < 12:
            raise ValueError(f"ssgan-conv needs images of at least 12x12 px, got data of shape {shape}")
        self.num_classes, self.slope = ctx.num_classes, float(slope)
        self.input_drop, self.input_noise = nn.Dropout(input_dropout), GaussianNoise(input_noise)
        widths = [shape[0], *(m * channels for m, *_ in D_PLAN)]
        self.layers = nn.ModuleList(WNConv2d(a, b, k, s, p)
                                    for a, b, (_, k, s, p) in zip(widths[:-1], widths[1:], D_PLAN))
        self.drops = nn.ModuleList(nn.Dropout(dropout) for _ in DROP_AFTER)
        self.out = WNLinear(widths[-1], ctx.num_classes, train_scale=True, init_stdv=OUT_INIT_STDV)

    def _trunk(self, x: Tensor, init: bool = False) -> Tensor:
        h = self.input_noise(self.input_drop(x * 2.0 - 1.0))  # [0, 1] pixels -> the reference's [-1, 1]
        for i, layer in enumerate(self.layers):
            h = F.leaky_relu(layer.init_scale(h) if init else layer(h), self.slope)
            if i in DROP_AFTER:
                h = self.drops[DROP_AFTER.index(i)](h)
        return h.mean((2, 3))

    def features(self, x: Tensor) -> Tensor:
        """The global average pool of the last 1x1 layer (2 x ``channels`` wide): what feature matching reads."""
        return self._trunk(x)

    def classify(self, f: Tensor) -> Tensor:
        """The K class logits (the fake class's logit is the constant 0)."""
        return self.out(f)

    def head(self, f: Tensor, y: Tensor | None = None) -> Tensor:
        """The realness logit log Z = logsumexp(class logits): sigmoid of it is Z / (Z + 1)."""
        return torch.logsumexp(self.classify(f), dim=1)

    @torch.no_grad()
    def init_from_data(self, x: Tensor) -> None:
        """Data-dependent init of every weight-normalised layer, in order, on batch ``x`` (dropout and noise
        active, as the MNIST model's init)."""
        self.out.init_scale(self._trunk(x, init=True))


class SSGANConvGenerator(Generator):
    """improved-gan's CIFAR-10 G: linear to 4x4x512, 5x5 stride-2 transposed convs with shift-only batch norm
    and ReLU, a weight-normalised transposed conv and tanh, read as (tanh + 1) / 2.

    That rescaling gives ``output_range`` (0, 1), the range the recipe feeds D in, while G computes what the
    reference's tanh G computes. :meth:`init_from_noise` gives the output layer the reference's
    data-dependent init without moving the batch norms' running statistics.
    """

    def __init__(self, ctx: NetContext, channels: int):
        super().__init__(ctx, "none")
        c_out, self.start, steps = image_plan(ctx, "ssgan-conv")
        widths = [channels * 2 ** (steps - 1 - i) for i in range(steps)]  # 512, 256, 128 at 32 px
        self.fc = nn.Linear(ctx.z_dim, widths[0] * self.start ** 2, bias=False)
        self.fc_norm = ShiftBatchNorm(widths[0] * self.start ** 2, dims=1)
        ups: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            ups += [nn.ConvTranspose2d(a, b, 5, 2, 2, output_padding=1, bias=False), ShiftBatchNorm(b, 2), nn.ReLU()]
        self.ups = nn.Sequential(*ups)
        self.out = WNConv2d(widths[-1], c_out, 5, 2, 2, transposed=True, train_scale=True, init_stdv=OUT_INIT_STDV)
        for m in (self.fc, *self.ups):
            if isinstance(m, (nn.Linear, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.05)  # the reference's N(0, 0.05) weights
        self.output_range = (0.0, 1.0)

    def _trunk(self, z: Tensor) -> Tensor:
        return self.ups(F.relu(self.fc_norm(self.fc(z))).view(len(z), -1, self.start, self.start))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return (torch.tanh(self.out(self._trunk(z))) + 1.0) / 2.0  # the reference's tanh, read in [0, 1]

    @torch.no_grad()
    def init_from_noise(self, z: Tensor) -> None:
        """The data-dependent init of the weight-normalised output layer on batch ``z`` (the reference runs G
        with ``init=True`` too): tanh's input starts at mean 0 and std 0.1 per channel. The batch norms use the
        batch's statistics, as in training, and their running averages are left as they were."""
        norms = [m for m in self.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in norms]
        was_training = self.training
        self.train()
        self.out.init_scale(self._trunk(z))
        for m, state in zip(norms, saved):
            m.load_state_dict(state)
        self.train(was_training)


@register("discriminator", "ssgan-conv")
def ssgan_conv_discriminator(
    ctx: NetContext,
    *,
    channels: int = 96,  # the first block's width; the second block and the 1x1 layers are twice it (192)
    input_dropout: float = 0.2,  # dropout on D's input in training (the reference code's)
    input_noise: float = 0.0,  # std of Gaussian noise on D's input in training, in [-1, 1] pixel units; 0 = off
    dropout: float = 0.5,  # dropout after each stride-2 conv, in training
    slope: float = 0.2,  # the LeakyReLU slope
) -> nn.Module:
    return SSGANConvDiscriminator(ctx, channels, input_dropout, input_noise, dropout, slope)


@register("generator", "ssgan-conv")
def ssgan_conv_generator(
    ctx: NetContext,
    *,
    channels: int = 128,  # the last hidden width; each earlier one doubles it (512-256-128 at 32 px)
) -> nn.Module:
    return SSGANConvGenerator(ctx, channels)
