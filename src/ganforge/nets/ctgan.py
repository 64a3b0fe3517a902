"""CTGAN's networks (Xu et al., NeurIPS 2019, section 4.4), written from the paper.

G: the input (noise z concatenated with the conditional vector) goes through residual blocks,
each ``h -> [ReLU(BN(Linear(h))), h]`` (the block's output is concatenated with its input, so
the width grows by the block's size), then one Linear layer to the transformed row. The
output head applies each block of the row its own activation (the spans of
:class:`ganforge.tabular.transform.TableTransformer`): tanh to a continuous value alpha, and
Gumbel-softmax with temperature 0.2 to a one-hot block (a value's mode, or a category), so
discrete outputs stay differentiable and look one-hot to D.

D: Linear + LeakyReLU(0.2) + Dropout(0.5) layers, then one logit. PacGAN packing (``pack``,
10 in the paper) is the registry's generic option: D is built for ``pack`` rows concatenated
and scores each group once (:class:`ganforge.nets.registry.PackedDiscriminator`).

At sampling, G runs in eval mode (batch norm's running statistics), so a row depends only on
its own input and Gumbel noise, never on the other rows of its batch; the Gumbel noise can be
drawn from a given generator (:meth:`CTGANGenerator.activate`), so sampling is reproducible.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.registry import NetContext, register

ACTIVATIONS = ("tanh", "softmax")


def gumbel_softmax(logits: torch.Tensor, tau: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """softmax((logits + g) / tau) with g ~ Gumbel(0, 1) drawn from ``generator`` (the global one when None).

    Our own rather than torch's ``F.gumbel_softmax``, which draws from the global generator only:
    sampling must be reproducible from its own seed. At a small tau the result is nearly one-hot,
    and its argmax is a draw from softmax(logits) (the Gumbel-max trick).
    """
    u = torch.rand(logits.shape, device=logits.device, dtype=logits.dtype, generator=generator)
    g = -torch.log((-torch.log(u.clamp_min(1e-10))).clamp_min(1e-10))
    return F.softmax((logits + g) / tau, dim=1)


def check_spans(spans: tuple[tuple[int, int, str], ...], width: int) -> None:
    """The spans must tile [0, width) in order, each with a known activation."""
    at = 0
    for start, size, activation in spans:
        if start != at or size < 1 or activation not in ACTIVATIONS:
            raise ValueError(f"bad output span ({start}, {size}, {activation}) at position {at}: spans must tile the "
                             f"row in order with activations {', '.join(ACTIVATIONS)}")
        at += size
    if at != width:
        raise ValueError(f"the output spans cover {at} of the row's {width} values")


class Residual(nn.Module):
    """CTGAN's generator block: the new features concatenated with the block's input."""

    def __init__(self, width_in: int, width_out: int):
        super().__init__()
        self.fc = nn.Linear(width_in, width_out)
        self.bn = nn.BatchNorm1d(width_out)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(h))), h], dim=1)


class CTGANGenerator(nn.Module):
    """(z ++ cond) -> a transformed table row, every span under its own activation."""

    output_range = None  # rows are not images: nothing is rescaled to a range
    conditional = False  # the conditional vector is part of the input, not a class label
    num_classes = None

    def __init__(self, ctx: NetContext, hidden: tuple[int, ...], tau: float):
        super().__init__()
        if not ctx.spans:
            raise ValueError("the ctgan generator needs a table's output spans (data.name=csv:PATH or parquet:PATH)")
        if tau <= 0:
            raise ValueError(f"tau is the Gumbel-softmax temperature and must be > 0, got {tau}")
        self.data_shape = tuple(ctx.data_shape)
        check_spans(ctx.spans, self.data_shape[0])
        self.spans = tuple(tuple(s) for s in ctx.spans)
        self.tau = tau
        blocks, width = [], ctx.z_dim
        for h in hidden:
            blocks.append(Residual(width, h))
            width += h
        self.body = nn.Sequential(*blocks)
        self.out = nn.Linear(width, self.data_shape[0])

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """The row before the activations (the conditional cross-entropy reads its softmax blocks)."""
        return self.out(self.body(z))

    def activate(self, raw: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """tanh on the continuous spans, Gumbel-softmax (noise from ``generator``) on the one-hot ones."""
        parts = []
        for start, width, activation in self.spans:
            block = raw[:, start:start + width]
            parts.append(torch.tanh(block) if activation == "tanh" else gumbel_softmax(block, self.tau, generator))
        return torch.cat(parts, dim=1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, *, with_logits: bool = False):
        """The activated row; with ``with_logits``, (activated row, raw logits) from one pass (for G's loss)."""
        raw = self.logits(z)
        out = self.activate(raw)
        return (out, raw) if with_logits else out


class CTGANDiscriminator(nn.Module):
    """A (packed) row ++ its conditional vector -> one realness score."""

    conditional = False
    num_classes = None
    aux_classifier = False

    def __init__(self, ctx: NetContext, hidden: tuple[int, ...], dropout: float, slope: float):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout is a drop probability and must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = []
        width = int(torch.tensor(ctx.data_shape).prod())
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(slope), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.linear = nn.Linear(width, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1))

    def head(self, f: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.linear(f).squeeze(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x), y)


@register("generator", "ctgan")
def ctgan_generator(
    ctx: NetContext,
    *,
    hidden: tuple[int, ...] = (256, 256),  # the paper's two residual blocks of 256
    tau: float = 0.2,  # Gumbel-softmax temperature of the one-hot outputs (the paper's 0.2)
) -> nn.Module:
    return CTGANGenerator(ctx, tuple(hidden), tau)


@register("discriminator", "ctgan")
def ctgan_discriminator(
    ctx: NetContext,
    *,
    hidden: tuple[int, ...] = (256, 256),  # the paper's two layers of 256
    dropout: float = 0.5,  # drop probability after each hidden layer (the paper's 0.5)
    slope: float = 0.2,  # LeakyReLU's negative slope (the paper's 0.2)
) -> nn.Module:
    return CTGANDiscriminator(ctx, tuple(hidden), dropout, slope)
