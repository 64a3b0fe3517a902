"""D's features as a representation (Radford et al. 2015, section 5.1): every layer's output
max-pooled to a small grid, flattened and concatenated, then a linear classifier on top.

The layers are found by module, not by architecture: by default the output of every activation
module D has (each conv block's LeakyReLU in DCGAN's D); a D whose nonlinearities are functional
(``ssgan-mlp``) gives its ``features(x)`` instead. ``layers`` names modules explicitly (names from
``D.named_modules()``). Conv maps (N, C, H, W) are max-pooled to ``pool x pool`` with
``adaptive_max_pool2d`` (the DCGAN paper's 4x4 grid); vectors pass through.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ganforge.errors import GanforgeError, did_you_mean
from ganforge.nets.layers import whole_group_batches
from ganforge.sampling import from_uint8

Tensor = torch.Tensor
POOL = 4  # the side of the max-pooling grid conv maps are reduced to: the DCGAN paper's 4x4
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Softplus, nn.Tanh)


def feature_layers(D: nn.Module, layers: Sequence[str] | None = None) -> list[str]:
    """The module names whose outputs are read: ``layers`` checked, else every activation module
    (an empty list means D's ``features`` output alone)."""
    named = dict(D.named_modules())
    if layers is not None:
        if not layers:
            raise GanforgeError("--layers names no layer; name some (see --list-layers), or leave it out for the "
                                "default layers")
        twice = sorted({n for n in layers if list(layers).count(n) > 1})
        if twice:
            raise GanforgeError(f"--layers names {', '.join(twice)} more than once, which would repeat its "
                                f"features; name each layer once")
        for name in layers:
            if name not in named or name == "":
                choices = [n for n in named if n]
                raise GanforgeError(f"D has no layer '{name}'{did_you_mean(name, choices)}; its layers: "
                                    f"{', '.join(choices)}")
        return list(layers)
    return [name for name, m in named.items() if isinstance(m, ACTIVATIONS)]


def pool_flat(t: Tensor, pool: int) -> Tensor:
    """A conv map max-pooled to ``pool x pool`` and flattened; anything else flattened."""
    if t.dim() == 4:
        t = F.adaptive_max_pool2d(t, pool)
    return t.flatten(1)


def to_d_input(x: np.ndarray, data_shape: Sequence[int], value_range: tuple[float, float] | None,
               flag: str = "--input") -> Tensor:
    """User images -> D's input: uint8 (0..255) scaled to the range D was trained on; floats must
    already be in that range; (N, H, W) grey images get their channel axis. A point run (``value_range``
    None: G's output has no range) takes finite floats as they are. One-line errors."""
    shape = tuple(data_shape)
    if x.ndim == len(shape) and shape[0] == 1:
        x = x[:, None]
    if tuple(x.shape[1:]) != shape:
        raise GanforgeError(f"{flag} holds samples of shape {tuple(x.shape[1:])}, and this run's D takes {shape}; "
                            f"pass images shaped (N, {', '.join(map(str, shape))}) as `ganforge sample` writes them")
    if value_range is None:  # points in data coordinates (ring8, grid25): no range to check against
        if not np.issubdtype(x.dtype, np.floating) or not np.isfinite(x).all():
            raise GanforgeError(f"{flag} must hold finite float points (as `ganforge sample` writes them for this "
                                f"run), got dtype {x.dtype}{'' if x.dtype.kind != 'f' else ' with NaN or inf'}")
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    lo, hi = value_range
    if x.dtype == np.uint8:
        return from_uint8(torch.from_numpy(x), value_range)
    if not np.issubdtype(x.dtype, np.floating):
        raise GanforgeError(f"{flag} has dtype {x.dtype}; pass uint8 images (0..255) or floats in [{lo:g}, {hi:g}]")
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    bad = int((~torch.isfinite(t)).sum())
    if bad:  # not "outside the range": a NaN is no value at all, and rescaling would not help
        raise GanforgeError(f"{flag} holds NaN or infinite values ({bad} of {t.numel()}); pass finite images: uint8 "
                            f"(0..255) or floats in [{lo:g}, {hi:g}]")
    if t.min() < lo - 1e-3 or t.max() > hi + 1e-3:
        raise GanforgeError(f"{flag} holds floats outside [{lo:g}, {hi:g}], the range this run's D was trained on; "
                            f"pass uint8 images (0..255) or rescale them")
    return t


def _check_pool(pool: int, maps: Sequence[Tensor], given: bool) -> None:
    """One line for a grid larger than every conv map: adaptive pooling would then copy each value into
    many cells (features that are not a pool, and can run out of memory), not pool anything; and for a
    ``--pool`` ``given`` where every layer read is a vector, which it would not change."""
    sides = [max(t.shape[-2:]) for t in maps if t.dim() == 4]
    if given and not sides:
        raise GanforgeError(f"--pool {pool} pools conv maps, and every layer read here is a vector (nothing to "
                            f"pool); drop --pool")
    if sides and pool > max(sides):
        raise GanforgeError(f"--pool {pool} is larger than D's largest feature map ({max(sides)} a side), so it "
                            f"would copy values, not pool them; use --pool {min(4, max(sides))} (at most {max(sides)})")


@torch.no_grad()
def d_features(D: nn.Module, x: Tensor, *, layers: Sequence[str] | None = None, pool: int | None = None,
               batch_size: int = 500) -> np.ndarray:
    """(N, F) float32: the named layers' outputs (default :func:`feature_layers`), pooled to ``pool``
    (default :data:`POOL`) and concatenated, D in eval mode (no dropout or noise, batch norm's running
    statistics)."""
    given, pool = pool is not None, POOL if pool is None else pool
    if pool < 1:
        raise GanforgeError(f"--pool must be an integer >= 1 (the side of the max-pooling grid), got {pool}")
    names = feature_layers(D, layers)
    modules = dict(D.named_modules())
    was_training = D.training
    D.eval()
    device = next(D.parameters()).device
    captured: dict[str, Tensor] = {}
    hooks = [modules[n].register_forward_hook(lambda m, i, o, n=n: captured.__setitem__(n, o)) for n in names]
    out = []
    try:
        for own, index in whole_group_batches(D, len(x), batch_size):  # whole groups under minibatch std
            captured.clear()
            f = D.features(x[index].to(device))
            if not out:
                _check_pool(pool, [captured[n] for n in names if n in captured], given)  # none: D.features, unpooled
            parts = [pool_flat(captured[n], pool) for n in names if n in captured] if names else [f.flatten(1)]
            if names and len(parts) != len(names):
                missing = [n for n in names if n not in captured]
                raise GanforgeError(f"D's features() never runs layer(s) {', '.join(missing)} (they belong to its "
                                    f"head); name layers inside features")
            out.append(torch.cat(parts, 1)[:own].float().cpu())
    finally:
        for h in hooks:
            h.remove()
        D.train(was_training)
    return torch.cat(out).numpy()
