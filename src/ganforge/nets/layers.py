"""Layers shared by several architectures, and the weight initialisations they use."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.nn import functional as F

from ganforge.errors import ConfigError

# Modules whose ``weight`` is a linear map: what spectral norm and the init schemes act on.
WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
            nn.ConvTranspose3d, nn.Embedding)


def _linear(img: torch.Tensor) -> torch.Tensor:
    return img


# How an equalised-lr generator's last layer becomes an image (StyleGAN2, ProGAN). "linear" is the papers':
# the sum is the image, clipped to the data's range only when saved. "tanh" squashes it into (-1, 1): on
# data that sits at its own floor (MNIST's background) a linear output let StyleGAN2's G drop its z
# (docs/stylegan.md, 'Why StyleGAN2 collapsed on MNIST').
IMAGE_OUTPUTS = {"linear": _linear, "tanh": torch.tanh}


class Maxout(nn.Module):
    """Maxout unit (Goodfellow et al. 2013): ``pieces`` affine maps per unit, keep the largest.

    The 2014 GAN's discriminator is built from these; the max of linear pieces is a
    learned convex activation that works well with dropout.
    """

    def __init__(self, in_features: int, units: int, pieces: int):
        super().__init__()
        if pieces < 1 or units < 1:
            raise ValueError(f"maxout needs units >= 1 and pieces >= 1, got {units} x {pieces}")
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(dim=-1)


class SelfAttention(nn.Module):
    """Self-attention over the pixels of a feature map (SAGAN, Zhang et al. 2018).

    1x1 convolutions give queries and keys (C/8 channels) and values (C/2, as in BigGAN);
    keys and values are max-pooled 2x2, as both reference codes do (SAGAN's TensorFlow
    ``sn_non_local_block_sim`` and BigGAN-PyTorch's ``Attention``; the paper's text leaves it out):
    each pixel attends over a quarter of the positions, at a quarter of the memory. An odd side
    is pooled with its last half window (``ceil_mode``), where the references' even maps need
    none, so no position is dropped; a map one pixel high or wide is not pooled. Each pixel's
    output is the softmax(q . k)-weighted sum of the values, mapped back to C channels and
    added to the input scaled by ``gamma``. ``gamma`` starts at 0, so the block starts as the
    identity and the net learns how much non-local evidence to use.
    """

    def __init__(self, channels: int):
        super().__init__()
        inner, values = max(channels // 8, 1), max(channels // 2, 1)
        self.query = nn.Conv2d(channels, inner, 1, bias=False)
        self.key = nn.Conv2d(channels, inner, 1, bias=False)
        self.value = nn.Conv2d(channels, values, 1, bias=False)
        self.out = nn.Conv2d(values, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        k, v = self.key(x), self.value(x)
        if min(h, w) >= 2:
            k, v = F.max_pool2d(k, 2, ceil_mode=True), F.max_pool2d(v, 2, ceil_mode=True)
        q, k, v = self.query(x).flatten(2), k.flatten(2), v.flatten(2)  # (N, C', HW) and (N, C', HW/4)
        # SAGAN's logits are plain dot products (no 1/sqrt(C') scale). Written out rather than with
        # scaled_dot_product_attention: its fused GPU kernels have no double backward, which
        # gradient penalties (WGAN-GP, R1) need. Memory is HW x HW/4 per sample.
        attention = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # (N, HW query, HW/4 key)
        o = (v @ attention.transpose(1, 2)).view(n, v.shape[1], h, w)  # explicit: a batch may be empty
        return x + self.gamma * self.out(o)


def mbstd_group_problem(group: int, batch: int) -> str | None:
    """Why a batch of ``batch`` cannot split into minibatch-std groups of ``group`` (one line naming the fix),
    or None when it splits. One wording for the config check (before a run directory is made) and the
    layer (for builders' defaults and for batches split among processes under torchrun)."""
    g = min(group, batch)
    if batch % g == 0:
        return None
    fits = max(d for d in range(1, g + 1) if batch % d == 0)
    return (f"train.batch_size={batch} does not split into groups of model.d.mbstd_group={g} for the minibatch "
            f"std; set train.batch_size to a multiple of {g} (per process under torchrun) or "
            f"model.d.mbstd_group to {fits}")


class MinibatchStd(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018): one extra feature map.

    The std of every feature at every pixel over a group of samples, averaged into one
    number per group and appended as a constant channel, lets D see a lack of variety
    in G's batch. ``group_size`` None uses the whole minibatch as one group (the paper's
    description); a group size must divide the batch size.
    """

    def __init__(self, group_size: int | None = None, eps: float = 1e-8):
        super().__init__()
        if group_size is not None and group_size < 1:
            raise ValueError(f"minibatch std group_size must be >= 1 or None, got {group_size}")
        self.group_size, self.eps = group_size, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if n == 0:  # an empty batch (a private D's Poisson draw may hold no image): no std, one more channel
            return torch.cat([x, x[:, :1]], 1)
        g = n if self.group_size is None else min(self.group_size, n)
        problem = mbstd_group_problem(g, n)
        if problem:  # a user's batch size, so a config error (one line, exit 2), not a traceback
            raise ConfigError(problem)
        groups = x.reshape(g, n // g, *x.shape[1:])  # sample i belongs to group i % (n // g)
        std = (groups.var(0, unbiased=False) + self.eps).sqrt()
        stat = std.flatten(1).mean(1).repeat(g)  # (N,)
        return torch.cat([x, stat.view(n, 1, *([1] * (x.dim() - 2))).expand(n, 1, *x.shape[2:])], 1)


def std_group(module: nn.Module) -> int:
    """The sample count ``module``'s minibatch std splits a batch into (1 without one, or with a group of the
    whole batch): a batch of another size is refused by the layer."""
    return max((m.group_size for m in module.modules() if isinstance(m, MinibatchStd) and m.group_size), default=1)


def whole_group_batches(module: nn.Module, n: int, batch_size: int) -> Iterator[tuple[int, torch.Tensor]]:
    """Index batches over ``n`` inputs that ``module``'s minibatch std takes: each a whole number of its groups
    (``batch_size`` rounded down to one), the last completed with the first indices, wrapped; with how many
    of each are its own. Scoring or embedding a set of any size (297 audit members, a feature export) runs
    through these; the extra outputs are dropped."""
    g = std_group(module)
    size = max(g, batch_size - batch_size % g)
    for start in range(0, n, size):
        own = torch.arange(start, min(start + size, n))
        yield len(own), torch.cat([own, torch.arange(-len(own) % g) % n])


class ConditionalBatchNorm2d(nn.BatchNorm2d):
    """Batch norm whose gain and bias are looked up per class (de Vries et al. 2017; Miyato & Koyama 2018).

    Normalisation statistics are shared; each class has its own affine parameters,
    starting at gain 1 and bias 0. The tables are plain parameters, not linear maps, so
    spectral norm and the weight init schemes leave them alone. Call as ``bn(x, y)``.
    """

    def __init__(self, channels: int, num_classes: int):
        super().__init__(channels, affine=False)
        self.class_gain = nn.Parameter(torch.ones(num_classes, channels))
        self.class_bias = nn.Parameter(torch.zeros(num_classes, channels))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        if y is None:
            raise ValueError("conditional batch norm needs the class labels y")
        h = super().forward(x)
        return h * self.class_gain[y][:, :, None, None] + self.class_bias[y][:, :, None, None]


def batch_norm2d(channels: int, num_classes: int | None) -> nn.BatchNorm2d:
    """Plain batch norm, or per-class batch norm when ``num_classes`` is given."""
    return nn.BatchNorm2d(channels) if num_classes is None else ConditionalBatchNorm2d(channels, num_classes)


def apply_norm(norm: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """Call a normalisation layer, passing the labels only to a conditional one."""
    return norm(x, y) if isinstance(norm, ConditionalBatchNorm2d) else norm(x)


def one_hot(y: torch.Tensor, num_classes: int, like: torch.Tensor) -> torch.Tensor:
    """(N,) int labels -> (N, num_classes) one-hot rows in ``like``'s dtype and device.

    Built by scatter, so an out-of-range label fails without a host-device sync.
    """
    return like.new_zeros(y.shape[0], num_classes).scatter_(1, y.view(-1, 1), 1.0)


INITS = ("normal", "xavier", "orthogonal", "default")


@torch.no_grad()
def init_weights_(module: nn.Module, scheme: str, gain: float = 1.0) -> None:
    """Initialise every Conv/Linear/Embedding weight in ``module``; biases to zero.

    ``normal``: N(0, 0.02), and batch-norm gains N(1, 0.02) (DCGAN, Radford et al. 2015);
    ``xavier``: Glorot uniform with ``gain`` (SNGAN, Miyato et al. 2018);
    ``orthogonal``: orthogonal with ``gain`` (BigGAN, Brock et al. 2019); ``default``: PyTorch's.
    """
    if scheme not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got '{scheme}'")
    if scheme == "default":
        return
    for m in module.modules():
        if isinstance(m, WEIGHTED):
            if scheme == "normal":
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif scheme == "xavier":
                nn.init.xavier_uniform_(m.weight, gain)
            else:
                nn.init.orthogonal_(m.weight, gain)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif scheme == "normal" and isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def init_uniform_(module: nn.Module, irange: float) -> None:
    """pylearn2's ``irange`` init: weights U(-irange, irange), biases zero (Linear and Embedding)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -irange, irange)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.uniform_(m.weight, -irange, irange)


# The attribute :func:`spectral_norm_` reads to leave a layer plain (set by :func:`without_spectral_norm`).
_PLAIN = "ganforge_without_spectral_norm"


def without_spectral_norm(module: nn.Module) -> nn.Module:
    """Mark a layer that :func:`spectral_norm_` leaves plain, whatever the net's ``spectral_norm`` option says:
    BigGAN's shared class embedding in G, which BigGAN-PyTorch keeps unnormalised ("applying SN to G's
    embedding seems to randomly cripple G"). Returns the module, so a builder writes it inline."""
    setattr(module, _PLAIN, True)
    return module


def spectral_norm_(module: nn.Module, n_power_iterations: int = 1) -> int:
    """Spectral normalisation (Miyato et al. 2018) on every Linear, Conv, ConvTranspose and Embedding
    (but a layer marked :func:`without_spectral_norm`).

    Each such weight W is used as W / sigma(W), sigma estimated by power iteration
    (``n_power_iterations`` per training-mode forward; the estimate is kept in buffers).
    Conv kernels are normalised as (out, in*k*k) matrices (ConvTranspose as (out, in*k*k)
    too, via ``dim=1``), as in the paper. Normalisation layers, conditional-BN tables and
    self-attention's ``gamma`` are not linear maps and are left alone. Returns the count.
    """
    count = 0
    for m in list(module.modules()):
        if (isinstance(m, WEIGHTED) and not getattr(m, _PLAIN, False)
                and not nn.utils.parametrize.is_parametrized(m, "weight")):
            nn.utils.parametrizations.spectral_norm(m, n_power_iterations=n_power_iterations)
            count += 1
    return count


def spectral_sigma(m: nn.Module) -> float:
    """Largest singular value of a module's effective weight, as spectral norm sees it (for tests/diagnostics)."""
    w = m.weight.detach()
    if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        w = w.transpose(0, 1)
    return float(torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2))


def halvings(size: int, stop: int) -> int:
    """How many times ``size`` can be halved exactly while it is larger than ``stop``."""
    n = 0
    while size > stop and size % 2 == 0:
        size //= 2
        n += 1
    return n


def in_layout_of(h: torch.Tensor, conv: nn.Module) -> torch.Tensor:
    """``h`` in the memory layout of ``conv``'s weight: channels_last once speed.channels_last has
    converted the net, else ``h`` itself.

    A generator's first map is a view of a linear layer's output, so it is NCHW whatever the net's
    layout; cuDNN then converted it (``nchwToNhwcKernel`` in issue 16's profile) for the first batch
    norm and convolution, forward and backward. Converting it here, once, keeps the net channels_last
    end to end.
    """
    w = conv.weight
    # Only a weight that is channels_last and not also plain-contiguous was converted (a weight with a
    # single input or output channel is both, and then the layouts cannot be told apart: leave h).
    if w.dim() == 4 and w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous():
        return h.contiguous(memory_format=torch.channels_last)
    return h

