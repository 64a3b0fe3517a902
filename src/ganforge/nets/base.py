"""What every generator and discriminator shares: the call protocol and the label plumbing.

The training code relies on these, whatever the architecture:

- ``Generator``: ``forward(z, y=None)`` -> a batch shaped ``(N, *ctx.data_shape)``;
  ``output_range`` (``(-1, 1)`` tanh, ``(0, 1)`` sigmoid, ``None`` unbounded);
  ``conditional`` (True when it needs ``y``) and ``num_classes``.
- ``Discriminator``: ``features(x) -> f`` of shape (N, F), the representation the final
  linear map, the projection and the ACGAN classifier read; ``head(f, y=None)`` -> one
  realness logit per sample, (N,); ``forward(x, y=None) == head(features(x), y)``;
  ``classify(f)`` -> (N, num_classes) class logits, an attribute *only* when built with
  ``aux_classifier=True``; ``conditional`` (True when ``head`` needs ``y``).

Labels ``y`` are int64 class indices, shape (N,). A net that does not use them ignores
them, so callers may always pass them.

Conditioning a discriminator
    ``projection`` (Miyato & Koyama 2018): ``head(f, y) = linear(f) + <embed(y), f>``.
    ``concat`` (Mirza & Osindero 2014): the one-hot label joins the features in ``head``,
    followed by one hidden layer (a joint layer, as in the cGAN paper's D), then the linear
    output. Labels enter *after* ``features`` so that ``features(x)`` needs no labels and
    serves feature matching and the ACGAN classifier for every variant.
    ``aux_classifier`` (ACGAN, Odena et al. 2017) is independent of both: a linear
    ``classify`` on the features.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.errors import did_you_mean
from ganforge.nets.layers import halvings, one_hot
from ganforge.nets.registry import NetContext

G_CONDITIONING = ("none", "concat", "cbn")
D_CONDITIONING = ("none", "concat", "projection")


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got '{value}'"
                         f"{did_you_mean(str(value), choices)}")
    return str(value)


def check_width(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def conditioning_classes(ctx: NetContext, conditioning: str | None, choices: tuple[str, ...],
                         aux_classifier: bool = False) -> tuple[str, int | None]:
    """Validate a ``conditioning`` option; returns it (None -> 'none') and the class count it needs."""
    conditioning = check_choice("conditioning", "none" if conditioning is None else conditioning, choices)
    wants = [f"conditioning '{conditioning}'"] if conditioning != "none" else []
    wants += ["aux_classifier"] if aux_classifier else []
    if not wants:
        return conditioning, None
    if ctx.num_classes is None or ctx.num_classes < 2:
        has = "no labels" if ctx.num_classes is None else f"{ctx.num_classes} class"
        raise ValueError(f"{' and '.join(wants)} needs a labelled dataset with at least 2 classes, and this one "
                         f"has {has}; use a dataset with labels (e.g. mnist) or drop the option")
    return conditioning, ctx.num_classes


def image_plan(ctx: NetContext, arch: str, stop: int = 7) -> tuple[int, int, int]:
    """(channels, start size, number of 2x steps) for square images: size = start * 2**steps.

    The start size is what remains after halving while larger than ``stop``: 4 for 32
    and 64 px, 7 for 28 px, 4 for 8 and 16 px.
    """
    shape = tuple(ctx.data_shape)
    if ctx.kind != "image" or len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"{arch} needs square images (C, H, H); got data of shape {shape} ({ctx.kind}); "
                         f"use arch mlp/maxout for points or crop the images with data.resolution")
    c, size = shape[0], shape[1]
    steps = halvings(size, stop)
    start = size >> steps
    if steps < 1 or not 3 <= start <= stop:
        raise ValueError(f"{arch} cannot build {size} px images: the size must be s * 2**k with k >= 1 and "
                         f"3 <= s <= {stop} (e.g. 8, 16, 28, 32, 64, 128); resize with data.resolution")
    return c, start, steps


def check_attention_res(attention_res: int | None, valid: list[int]) -> int | None:
    if attention_res is not None and attention_res not in valid:
        raise ValueError(f"attention_res {attention_res} is not a feature-map size of this net; "
                         f"choose one of {', '.join(map(str, sorted(set(valid))))} or null (no attention)")
    return attention_res


class Generator(nn.Module):
    """Base class: validates ``conditioning`` and keeps the label bookkeeping."""

    output_range: tuple[float, float] | None = None

    def __init__(self, ctx: NetContext, conditioning: str | None, choices: tuple[str, ...] = G_CONDITIONING):
        super().__init__()
        self.data_shape = tuple(ctx.data_shape)
        self.conditioning, self.num_classes = conditioning_classes(ctx, conditioning, choices)

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    def labels(self, y: torch.Tensor | None) -> torch.Tensor | None:
        """``y`` if this G uses labels (then it must be given), else None."""
        if not self.conditional:
            return None
        if y is None:
            raise ValueError(f"this generator is class-conditional (conditioning '{self.conditioning}'): "
                             f"pass the class labels, G(z, y) with y an int64 tensor of shape (N,)")
        return y

    def with_labels(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """``z``, with the one-hot label appended when conditioning is ``concat``."""
        y = self.labels(y)
        if self.conditioning != "concat":
            return z
        return torch.cat([z, one_hot(y, self.num_classes, z)], 1)

    @property
    def z_extra(self) -> int:
        """Input width added to z by ``concat`` conditioning."""
        return self.num_classes if self.conditioning == "concat" else 0


class Discriminator(nn.Module):
    """Base class: ``forward = head(features(x), y)``; builds the linear / projection / concat / ACGAN head.

    Subclasses implement :meth:`features` and call :meth:`build_head` with its width.
    """

    def __init__(self, ctx: NetContext, conditioning: str | None, aux_classifier: bool,
                 choices: tuple[str, ...] = D_CONDITIONING):
        super().__init__()
        self.conditioning, self.num_classes = conditioning_classes(ctx, conditioning, choices, aux_classifier)
        self.aux_classifier = bool(aux_classifier)

    @property
    def conditional(self) -> bool:
        """True when ``head`` (hence ``forward``) needs the labels."""
        return self.conditioning != "none"

    def build_head(self, features: int, joint: nn.Module | None = None, joint_width: int = 0,
                   linear: bool = True) -> None:
        """The layers after ``features`` (width ``features``): ``linear`` (-> one logit),
        ``embed`` (projection), ``joint`` (concat: a hidden layer on [f, one_hot(y)] giving
        ``joint_width`` units, by default Linear + LeakyReLU(0.2)) and ``classify`` (ACGAN).
        ``linear=False`` when the subclass has its own final layer (and overrides :meth:`logit`)."""
        width = features
        if self.conditioning == "concat":
            joint_width = joint_width or features
            if joint is None:
                joint = nn.Sequential(nn.Linear(features + self.num_classes, joint_width), nn.LeakyReLU(0.2))
            self.joint = joint
            width = joint_width
        if linear:
            self.linear = nn.Linear(width, 1)
        if self.conditioning == "projection":
            self.embed = nn.Embedding(self.num_classes, features)
        if self.aux_classifier:
            self.classify = nn.Linear(features, self.num_classes)

    def labels(self, y: torch.Tensor | None) -> torch.Tensor:
        if y is None:
            raise ValueError(f"this discriminator is class-conditional (conditioning '{self.conditioning}'): "
                             f"pass the class labels, D(x, y) / D.head(f, y) with y an int64 tensor of shape (N,)")
        return y

    def features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def logit(self, f: torch.Tensor) -> torch.Tensor:
        """The unconditional part of the head: (N, F) -> (N,)."""
        return self.linear(f).squeeze(1)

    def head(self, f: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.conditioning == "none":
            return self.logit(f)
        y = self.labels(y)
        if self.conditioning == "concat":
            return self.logit(self.joint(torch.cat([f, one_hot(y, self.num_classes, f)], 1)))
        return self.logit(f) + (self.embed(y) * f).sum(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x), y)
