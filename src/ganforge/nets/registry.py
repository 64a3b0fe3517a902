"""Registries of named network builders.

A builder is a function ``(ctx: NetContext, **options) -> nn.Module``. Its keyword
options *are* the architecture's documented defaults, so every default lives in
one place, and a config option the builder does not take is rejected (with a
suggestion) before training starts.

Every generator maps ``(z, y=None)`` to a sample shaped like the data and exposes
``output_range`` (e.g. ``(0.0, 1.0)`` for a sigmoid output, ``None`` for raw 2D
points); real data are scaled to that range. Every discriminator maps
``(x, y=None)`` to one logit per sample, shape ``(N,)``, as ``head(features(x), y)``
(the full protocol, conditioning included, is in :mod:`ganforge.nets.base`).

A few *generic* options (:func:`generic_options`, e.g. ``spectral_norm``) are taken by
every builder of both roles: the registry applies them to the module a builder returns,
so no builder repeats them, and no builder may declare an option of the same name.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ganforge.errors import ConfigError, did_you_mean
from ganforge.nets.layers import spectral_norm_


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
    # Tables (nets/ctgan.py): G's output blocks as (start, width, activation "tanh" | "softmax"), so its
    # head applies each block's own activation; empty for every other kind of data.
    spans: tuple[tuple[int, int, str], ...] = ()


Builder = Callable[..., nn.Module]
_REGISTRIES: dict[str, dict[str, Builder]] = {"generator": {}, "discriminator": {}}
_CHOICES: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}  # (role, arch) -> {option: allowed strings}


def _widths(value: Any) -> bool:
    return all(isinstance(v, int) and v >= 1 for v in value)


# Ranges of options that mean the same in every builder taking them. Checked with the config, so a bad
# value fails at --dry-run with the option's name, not later inside torch with a tensor-shape error.
RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "hidden": (_widths, "a list of layer widths, each an integer >= 1"),
    "pieces": (lambda v: v >= 1, "an integer >= 1"),
    "base_channels": (lambda v: v >= 1, "an integer >= 1"),
    "channels": (lambda v: v >= 1, "an integer >= 1"),
    "input_dropout": (lambda v: 0 <= v < 1, "a drop probability in [0, 1)"),
    "hidden_dropout": (lambda v: 0 <= v < 1, "a drop probability in [0, 1)"),
    "irange": (lambda v: v > 0, "a number > 0 (weights are drawn from U(-irange, irange))"),
    "attention_res": (lambda v: v is None or v >= 1, "a feature-map size >= 1, or null for none"),
}
RANGES.update({  # BigGAN's G and the 2014 paper's CIFAR-10 nets
    "shared_dim": (lambda v: v >= 1, "an integer >= 1"),
    "deconv_channels": (lambda v: v >= 0, "an integer >= 0 (0 = a fully connected output)"),
    "kernel": (lambda v: v >= 1, "an integer >= 1"),
    "stride": (lambda v: v >= 1, "an integer >= 1"),
    "units": (_widths, "a list of layer widths, each an integer >= 1"),
    "kernels": (_widths, "a list of kernel sizes, each an integer >= 1"),
    "pads": (lambda v: all(isinstance(p, int) and p >= 0 for p in v), "a list of paddings, each an integer >= 0"),
    "pools": (_widths, "a list of pooling windows, each an integer >= 1"),
    "pool_strides": (_widths, "a list of pooling strides, each an integer >= 1"),
    "hidden_pieces": (lambda v: v >= 1, "an integer >= 1"),
})
RANGES.update({  # the translation, super-resolution and style-based nets
    "blocks": (lambda v: v >= 0, "an integer >= 0"),
    "downsamplings": (lambda v: v >= 1, "an integer >= 1"),
    "depth": (lambda v: v >= 1, "an integer >= 1"),
    "max_mult": (lambda v: v >= 1, "an integer >= 1"),
    "dropout": (lambda v: 0 <= v < 1, "a drop probability in [0, 1)"),
    "dropout_layers": (lambda v: v >= 0, "an integer >= 0"),
    "out_channels": (lambda v: v is None or v in (1, 3), "1 or 3, or null for the input's channels"),
    "scale": (lambda v: v >= 2 and v & (v - 1) == 0, "a power of two >= 2 (2, 4, 8, ...)"),
    "growth": (lambda v: v >= 1, "an integer >= 1"),
    "scales": (lambda v: v >= 1, "an integer >= 1"),
    "layers": (lambda v: v >= 1, "an integer >= 1"),
    "stages": (lambda v: v >= 1, "an integer >= 1"),
    "dense": (lambda v: v >= 1, "an integer >= 1"),
    "w_dim": (lambda v: v >= 1, "an integer >= 1"),
    "mapping_layers": (lambda v: v >= 1, "an integer >= 1"),
    "mapping_lr": (lambda v: v > 0, "a number > 0"),
    "mixing": (lambda v: 0 <= v <= 1, "a probability in [0, 1]"),
    "w_avg_beta": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "mbstd_group": (lambda v: v >= 1, "an integer >= 1"),
    "input_noise": (lambda v: v >= 0, "a standard deviation >= 0 (0 = no noise)"),
    "hidden_noise": (lambda v: v >= 0, "a standard deviation >= 0 (0 = no noise)"),
})
RANGES.update({  # the table nets (CTGAN)
    "tau": (lambda v: v > 0, "a Gumbel-softmax temperature > 0"),
    "slope": (lambda v: 0 <= v < 1, "a LeakyReLU slope in [0, 1)"),
})


def generic_options(
    *,
    spectral_norm: bool = False,  # divide every Linear/Conv/Embedding weight by its top singular value
    spectral_norm_iterations: int = 1,  # power iterations per training-mode forward (Miyato et al. use 1)
    pack: int = 1,  # discriminators only: judge this many samples at once, concatenated (PacGAN); 1 = off
) -> None:
    """The options every builder takes; their keyword defaults are the documented defaults.

    Spectral normalisation divides each weight by its largest singular value, estimated
    by power iteration (see :func:`ganforge.nets.layers.spectral_norm_` for which layers:
    normalisation layers, per-class BN tables and attention's gamma are not touched).
    It applies to a generator as well (SAGAN, BigGAN).

    Packing (Lin et al. 2018, PacGAN) builds D for ``pack`` samples concatenated along the
    channels (images) or features (points) and scores each group with one logit: a D that
    sees several samples together can tell a collapsed generator's near-copies from real
    variety, which a D that sees one sample at a time cannot.
    """


def _keyword_params(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY]


GENERIC = {p.name: p.default for p in _keyword_params(generic_options)}


def register(role: str, name: str, *, choices: dict[str, tuple[str, ...]] | None = None
             ) -> Callable[[Builder], Builder]:
    """Register a builder; ``choices`` names the allowed strings of its string options, checked with
    the config (before anything is built). A name is registered once: a second builder under it would
    silently replace the first for every run that names it."""
    if name in _REGISTRIES[role]:
        raise ValueError(f"{role} {name!r} is registered twice")

    def deco(fn: Builder) -> Builder:
        clash = [p.name for p in _keyword_params(fn) if p.name in GENERIC]
        if clash:
            raise TypeError(f"builder {fn.__name__} declares the generic option(s) {', '.join(clash)}; "
                            f"the registry applies those itself")
        _REGISTRIES[role][name] = fn
        _CHOICES[(role, name)] = dict(choices or {})
        return fn

    return deco


def options(role: str, arch: str) -> dict[str, Any]:
    """Every option ``arch`` takes, with its default: the builder's own, then the generic ones."""
    fn = _builder(role, arch, f"model.{role[0]}")
    return {**{p.name: p.default for p in _keyword_params(fn)}, **GENERIC}


def resolved_options(role: str, spec: Any) -> dict[str, Any]:
    """The options ``spec`` builds with: its own over its builder's defaults and the generic ones (:func:`options`).
    Read a config's option value through this, so each default is written once, in its builder's signature; an
    option the builder does not take is absent."""
    return {**options(role, spec.arch), **spec.options}


def option_default(arch: str, key: str) -> Any:
    """``key``'s default in the builders registered as ``arch``, for a spec that does not say its role (a
    generator's and a discriminator's builder of one arch taking ``key`` must agree on it); None where none
    takes it, or ``arch`` is not registered."""
    defaults = {p.default for role in _REGISTRIES if arch in _REGISTRIES[role]
                for p in _keyword_params(_REGISTRIES[role][arch]) if p.name == key}
    if len(defaults) > 1:
        raise TypeError(f"the {arch} builders disagree on the default of {key} ({sorted(map(repr, defaults))}); "
                        f"a spec without a role cannot read it")
    return next(iter(defaults), None)


def list_archs(role: str) -> list[str]:
    return sorted(_REGISTRIES[role])


def _builder(role: str, arch: str, path: str) -> Builder:
    names = _REGISTRIES[role]
    if arch not in names:
        raise ConfigError(f"{path}.arch '{arch}' is not a known {role}{did_you_mean(arch, names)}; "
                          f"choose one of {', '.join(sorted(names))}")
    return names[arch]


def _fits(value: Any, hint: Any) -> bool:
    """Whether a config value (as YAML gives it) fits a builder's annotation; unknown hints pass."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (tuple, list) and args:
        return isinstance(value, list | tuple) and all(_fits(v, args[0]) for v in value)
    return True


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if hint is type(None):
        return "null"
    if origin in (tuple, list) and args:
        return "a list of " + {int: "integers", float: "numbers", str: "strings"}.get(args[0], str(args[0]))
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


def check_spec(role: str, spec: Any, path: str) -> None:
    """Reject an unknown architecture, an option its builder does not take, or a value of the wrong type."""
    fn = _builder(role, spec.arch, path)
    valid = [p.name for p in _keyword_params(fn)] + list(GENERIC)
    for key in spec.options:
        if key not in valid:
            raise ConfigError(f"unknown config key '{path}.{key}' for arch '{spec.arch}'"
                              f"{did_you_mean(key, valid)}; valid options: {', '.join(valid)}")
    try:
        hints = {**typing.get_type_hints(fn), **typing.get_type_hints(generic_options)}
    except NameError:  # an annotation that cannot be resolved at run time: skip the type checks
        hints = {}
    for key, value in spec.options.items():
        if key in hints and not _fits(value, hints[key]):
            raise ConfigError(f"{path}.{key} must be {_describe(hints[key])}, got {value!r}")
    _check_values(role, spec, path)
    _check_generic(resolved_options(role, spec), path)


def _check_values(role: str, spec: Any, path: str) -> None:
    """Ranges (:data:`RANGES`) and allowed strings (``register(choices=...)``) of the builder's options."""
    allowed = _CHOICES.get((role, spec.arch), {})
    for key, value in spec.options.items():
        if key in RANGES:
            ok, wanted = RANGES[key]
            try:
                fits = ok(value)
            except TypeError:  # a wrong type, where the annotation could not be read to say so
                fits = False
            if not fits:
                raise ConfigError(f"{path}.{key} must be {wanted}, got {value!r}")
        if key in allowed and value not in allowed[key]:
            raise ConfigError(f"{path}.{key} must be one of {', '.join(allowed[key])}, got {value!r}"
                              f"{did_you_mean(str(value), allowed[key])}")


def _check_generic(opts: dict[str, Any], path: str) -> None:
    """Ranges of the generic options, resolved (their types are checked with everyone else's)."""
    it = opts["spectral_norm_iterations"]
    if it < 1:
        raise ConfigError(f"{path}.spectral_norm_iterations must be an integer >= 1, got {it!r}")
    pack = opts["pack"]
    if pack < 1:
        raise ConfigError(f"{path}.pack must be an integer >= 1 (1 = no packing), got {pack!r}")
    if pack > 1 and path == "model.g":
        raise ConfigError("model.g.pack: packing is a discriminator option; set model.d.pack instead")


def _build(role: str, spec: Any, ctx: NetContext, path: str) -> nn.Module:
    check_spec(role, spec, path)
    fn = _builder(role, spec.arch, path)
    own = {k: v for k, v in spec.options.items() if k not in GENERIC}
    generic = {**GENERIC, **{k: v for k, v in spec.options.items() if k in GENERIC}}
    pack = generic["pack"]
    if pack > 1:
        if spec.conditional or own.get("aux_classifier"):
            raise ConfigError(f"{path}.pack cannot be combined with a class-conditional D (a packed group has no "
                              f"single label); set {path}.pack=1")
        shape = ctx.data_shape
        ctx = dataclasses.replace(ctx, data_shape=(shape[0] * pack, *shape[1:]), data_mean=None)
    try:
        net = fn(ctx, **own)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{path} ({spec.arch}) cannot be built with options {spec.options}: {e}") from None
    if generic["spectral_norm"] and spectral_norm_(net, generic["spectral_norm_iterations"]) == 0:
        raise ConfigError(f"{path}.spectral_norm: {spec.arch} has no Linear, Conv or Embedding layer to normalise "
                          f"(its layers scale their own weights: equalised learning rate); set {path}.spectral_norm=false")
    return PackedDiscriminator(net, pack) if pack > 1 else net


class PackedDiscriminator(nn.Module):
    """A discriminator built for ``pack`` concatenated samples: one logit per group of ``pack``
    consecutive samples of the batch (see :func:`generic_options`)."""

    def __init__(self, inner: nn.Module, pack: int):
        super().__init__()
        self.inner, self.pack = inner, pack

    def features(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if n % self.pack:
            raise ConfigError(f"model.d.pack={self.pack} needs batches divisible by {self.pack}, got {n}; "
                              f"set train.batch_size to a multiple of {self.pack} (per process under torchrun)")
        return self.inner.features(x.reshape(n // self.pack, self.pack * x.shape[1], *x.shape[2:]))

    def head(self, f: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.inner.head(f, None)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x), y)


def build_generator(spec: Any, ctx: NetContext) -> nn.Module:
    return _build("generator", spec, ctx, "model.g")


def build_discriminator(spec: Any, ctx: NetContext) -> nn.Module:
    return _build("discriminator", spec, ctx, "model.d")
