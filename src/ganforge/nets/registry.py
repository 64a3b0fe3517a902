"""Registries of named network builders.

A builder is a function ``(ctx: NetContext, **options) -> nn.Module``. Its keyword
options *are* the architecture's documented defaults, so every default lives in
one place, and a config option the builder does not take is rejected (with a
suggestion) before training starts.

Every generator maps ``(z, y=None)`` to a sample shaped like the data and exposes
``output_range`` (e.g. ``(0.0, 1.0)`` for a sigmoid output, ``None`` for raw 2D
points); real data are scaled to that range. Every discriminator maps
``(x, y=None)`` to one logit per sample, shape ``(N,)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganforge.errors import ConfigError, did_you_mean


@dataclass
class NetContext:
    """What a builder may know about the data and the run."""

    data_shape: tuple[int, ...]  # one sample: (C, H, W) for images, (D,) for points
    z_dim: int
    kind: str = "image"  # "image" or "points"
    num_classes: int | None = None
    # Per-feature mean of the real data scaled to [0, 1] (images only): lets a sigmoid
    # output start at the data's marginals, as the 2014 code did.
    data_mean: torch.Tensor | None = field(default=None, repr=False)


Builder = Callable[..., nn.Module]
_REGISTRIES: dict[str, dict[str, Builder]] = {"generator": {}, "discriminator": {}}


def register(role: str, name: str) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        _REGISTRIES[role][name] = fn
        return fn

    return deco


def list_archs(role: str) -> list[str]:
    return sorted(_REGISTRIES[role])


def _builder(role: str, arch: str, path: str) -> Builder:
    names = _REGISTRIES[role]
    if arch not in names:
        raise ConfigError(f"{path}.arch '{arch}' is not a known {role}{did_you_mean(arch, names)}; "
                          f"choose one of {', '.join(sorted(names))}")
    return names[arch]


def check_spec(role: str, spec: Any, path: str) -> None:
    """Reject an unknown architecture or an option its builder does not take."""
    fn = _builder(role, spec.arch, path)
    params = [p for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY]
    valid = [p.name for p in params]
    for key in spec.options:
        if key not in valid:
            raise ConfigError(f"unknown config key '{path}.{key}' for arch '{spec.arch}'"
                              f"{did_you_mean(key, valid)}; valid options: {', '.join(valid)}")


def _build(role: str, spec: Any, ctx: NetContext, path: str) -> nn.Module:
    check_spec(role, spec, path)
    fn = _builder(role, spec.arch, path)
    try:
        return fn(ctx, **spec.options)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{path} ({spec.arch}) cannot be built with options {spec.options}: {e}") from None


def build_generator(spec: Any, ctx: NetContext) -> nn.Module:
    return _build("generator", spec, ctx, "model.g")


def build_discriminator(spec: Any, ctx: NetContext) -> nn.Module:
    return _build("discriminator", spec, ctx, "model.d")
