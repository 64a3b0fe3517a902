"""What D sees: DiffAugment (Zhao et al. 2020) and annealed instance noise, on real and fake alike.

Augmenting only real images teaches G to produce augmented images; augmenting
both with the *same kind* of differentiable operation (fresh random parameters
per sample) lets D see more varied data while G's gradients flow through the
augmentation. Our own implementation of the paper's three policies:

- ``color``: random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5),
- ``translation``: shift by up to 1/8 of the image size, zero padding,
- ``cutout``: zero a random square of half the image size.

Images are expected in [-1, 1] or [0, 1]; the operations do not clamp.

Instance noise (Sonderby et al. 2017; config ``reg.instance_noise``, annealed to zero over
``reg.instance_noise_steps``) blurs the two distributions together early in training so
their supports overlap and D's gradients stay informative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from ganforge.errors import ConfigError, did_you_mean

if TYPE_CHECKING:  # annotations only: the config imports objectives to validate itself
    from ganforge.config import RunConfig

Tensor = torch.Tensor


def _brightness(x: Tensor, g: torch.Generator | None) -> Tensor:
    return x + (torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=g) - 0.5)


def _saturation(x: Tensor, g: torch.Generator | None) -> Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=g) * 2) + mean


def _contrast(x: Tensor, g: torch.Generator | None) -> Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=g) + 0.5) + mean


def translation(x: Tensor, g: torch.Generator | None = None, ratio: float = 0.125) -> Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device, generator=g)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device, generator=g)
    ys = torch.arange(h, device=x.device).view(1, h, 1) + dy  # source row for each output row
    xs = torch.arange(w, device=x.device).view(1, 1, w) + dx
    valid = ((ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)).unsqueeze(1)
    idx = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    out = x.flatten(2).gather(2, idx).view_as(x)
    return out * valid


def cutout(x: Tensor, g: torch.Generator | None = None, ratio: float = 0.5) -> Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device, generator=g)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device, generator=g)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((ys - cy + ch // 2) >= 0) & ((ys - cy + ch // 2) < ch) & ((xs - cx + cw // 2) >= 0) & ((xs - cx + cw // 2) < cw)
    return x * (~inside).unsqueeze(1)


def color(x: Tensor, g: torch.Generator | None = None) -> Tensor:
    return _contrast(_saturation(_brightness(x, g), g), g)


POLICIES: dict[str, Callable[..., Tensor]] = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> list[str]:
    names = [p.strip() for p in policy.split(",") if p.strip()]
    for name in names:
        if name not in POLICIES:
            raise ConfigError(f"augment.policy: unknown augmentation '{name}'{did_you_mean(name, POLICIES)}; "
                              f"use a comma-separated list of {', '.join(POLICIES)}")
    return names


class DiffAugment:
    """Applies the policy's operations in order, with fresh random parameters per sample."""

    def __init__(self, policy: str, generator: torch.Generator | None = None):
        self.ops = [POLICIES[name] for name in parse_policy(policy)]
        self.generator = generator

    def __call__(self, x: Tensor) -> Tensor:
        for op in self.ops:
            x = op(x, self.generator)
        return x


# The config keys input_transform reads (config/reads.py): a recipe that calls it reads them.
READS = {"augment": frozenset({"policy"}), "reg": frozenset({"instance_noise", "instance_noise_steps"})}


def input_transform(cfg: RunConfig, generator: torch.Generator | None = None) -> Callable[[Tensor, int], Tensor]:
    """``fn(x, step)``: the config's augmentation and instance noise, for real and fake alike."""
    augment = DiffAugment(cfg.augment.policy, generator) if cfg.augment.policy else None
    sigma0, span = cfg.reg.instance_noise, cfg.reg.instance_noise_steps

    def transform(x: Tensor, step: int) -> Tensor:
        if augment is not None and x.dim() == 4:
            x = augment(x)
        if sigma0 > 0:
            sigma = sigma0 * max(0.0, 1.0 - step / span)
            x = x + sigma * torch.randn(x.shape, device=x.device, generator=generator)
        return x

    if sigma0 > 0:  # sigma is a host number that changes with the step (engine/graphs.py)
        transform.graph_unsafe = "instance noise's sigma decays with the step"
    return transform
