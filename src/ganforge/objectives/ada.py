"""Adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training GANs with limited data"). Our own code.

With few images D memorises the training set and its feedback to G collapses. ADA shows D every
image (real and fake, in D's phase and in G's) through differentiable augmentations, each applied
with one probability ``p``, and tunes ``p`` so that D stays just short of overfitting:

- the overfitting signal is ``r_t = E[sign(D(real))]`` over the last ``augment.ada_interval`` D
  updates: 0 when D cannot tell, 1 when every real image gets a positive logit;
- every ``ada_interval`` D updates ``p += sign(r_t - target) * (batch * interval) / (ada_kimg * 1000)``,
  clipped to [0, 1]: p can go from 0 to 1 in ``ada_kimg`` thousand images (the paper's 500k);
- because every operation is applied to fakes too, with p < ~0.8 it does not leak into G's samples.

Operations (each independently with probability p, fresh parameters per image, drawn as the paper's
appendix B): x-flip (i ~ U{0, 1}: a chosen image is flipped half the time), 90-degree rotation
(k ~ U{0, 3} quarter turns: a chosen image keeps its orientation a quarter of the time), integer
translation (U(-1/8, 1/8) of the size, rounded, reflected), isotropic scale (log-normal, sigma 0.2 ln 2,
reflected), brightness (+N(0, 0.2)), contrast (x lognormal(0, 0.5 ln 2), about mid grey 0) and
saturation (x lognormal(0, ln 2), RGB only). All are differentiable in the image, so G's gradients
flow through them. They use the global RNG (checkpointed by the engine), so resume is exact.

Config: ``augment.ada_target`` (0.6 in the paper; null = off), ``augment.ada_interval``, ``augment.ada_kimg``.
p and the running sums are checkpointed (``ada``) and logged (``ada_p``, ``ada_rt`` in stats.jsonl).
It works for any recipe whose D term leaves ``f_real`` in ``ctx.shared`` and reads D through
``ctx.d_input`` (noise-to-image and the recipes built on it), beside the DiffAugment policies.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
import torch.nn.functional as F

from ganforge.objectives.registry import TermPlan, register

if TYPE_CHECKING:  # annotations only: the config imports objectives to validate itself
    from ganforge.config import RunConfig

Tensor = torch.Tensor


def _chosen(x: Tensor, p: Tensor) -> Tensor:
    """A (N, 1, 1, 1) boolean mask: which images get an operation (each with probability p). Images left
    out keep their exact values (``torch.where``), so p = 0 is the identity, bit for bit."""
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device) < p


def _reflect(i: Tensor, n: int) -> Tensor:
    """Indices reflected into 0..n-1 (no edge repeat), for shifts of less than n."""
    i = i.abs()
    return torch.where(i > n - 1, 2 * (n - 1) - i, i)


def xflip(x: Tensor, p: Tensor) -> Tensor:
    """The paper's x-flip (appendix B): chosen with probability p, it then draws i ~ U{0, 1} and flips
    when i = 1, so at p = 1 half the images are flipped (a flip of all of them would be no augmentation)."""
    i = torch.randint(0, 2, (x.shape[0], 1, 1, 1), device=x.device)
    return torch.where(_chosen(x, p) & (i == 1), x.flip(3), x)


def rotate90(x: Tensor, p: Tensor) -> Tensor:
    """The paper's 90-degree rotation (appendix B): chosen with probability p, it then draws k ~ U{0, 3}
    and turns by k * 90 degrees, so at p = 1 a quarter of the images keep their orientation."""
    m = _chosen(x, p)
    k = torch.randint(0, 4, (x.shape[0], 1, 1, 1), device=x.device)
    turned = torch.where(k == 1, x.rot90(1, dims=(2, 3)), torch.where(k == 2, x.rot90(2, dims=(2, 3)),
                                                                       x.rot90(3, dims=(2, 3))))
    return torch.where(m & (k != 0), turned, x)


def translate(x: Tensor, p: Tensor, ratio: float = 0.125) -> Tensor:
    """The paper's integer translation: t ~ U(-1/8, 1/8) of the size per axis, rounded to whole pixels (so
    the largest shifts are half as likely as the others, as in the reference pipeline), reflected."""
    n, c, h, w = x.shape
    m = _chosen(x, p).view(n, 1, 1)
    t = (torch.rand(2, n, 1, 1, device=x.device) * 2 - 1) * ratio
    dy = torch.round(t[0] * h).long() * m
    dx = torch.round(t[1] * w).long() * m
    ys = _reflect(torch.arange(h, device=x.device).view(1, h, 1) - dy, h)
    xs = _reflect(torch.arange(w, device=x.device).view(1, 1, w) - dx, w)
    idx = (ys * w + xs).view(n, 1, h * w).expand(-1, c, -1)
    return x.flatten(2).gather(2, idx).view_as(x)


def scale(x: Tensor, p: Tensor, sigma: float = 0.2 * math.log(2)) -> Tensor:
    n = x.shape[0]
    m = _chosen(x, p)
    s = torch.exp(torch.randn(n, device=x.device) * sigma)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / s  # output pixel -> input pixel: zoom in by s
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.where(m, F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False), x)


def colour(x: Tensor, p: Tensor) -> Tensor:
    """Brightness, contrast and (RGB) saturation as the paper's colour matrix: on pixels in [-1, 1], contrast
    scales about 0 (mid grey), not about each image's mean (DiffAugment's contrast does that; ADA's does not)."""
    n = x.shape[0]
    x = torch.where(_chosen(x, p), x + torch.randn(n, 1, 1, 1, device=x.device) * 0.2, x)
    c = torch.exp(torch.randn(n, 1, 1, 1, device=x.device) * 0.5 * math.log(2))
    x = torch.where(_chosen(x, p), x * c, x)
    if x.shape[1] == 3:
        luma = x.mean(dim=1, keepdim=True)
        s = torch.exp(torch.randn(n, 1, 1, 1, device=x.device) * math.log(2))
        x = torch.where(_chosen(x, p), luma + (x - luma) * s, x)
    return x


def augment(x: Tensor, p: Tensor) -> Tensor:
    """The operations above (a subset of the paper's: no arbitrary rotation, anisotropic scale, fractional
    translation, luma flip or hue) in the paper's order, geometric then colour, each with probability ``p``."""
    if x.dim() != 4:
        return x
    x = xflip(x, p)
    if x.shape[2] == x.shape[3]:
        x = rotate90(x, p)
    return colour(scale(translate(x, p), p), p)


class Ada:
    """p and the r_t sums, checkpointed (``ada``); ``observe`` is the D-phase term that tunes p."""

    enabled_by = "augment.ada_target"  # the config key that adds it (named when a resume would add it: engine/state.py)

    def __init__(self, target: float, interval: int, kimg: float, batch: int, device: torch.device):
        self.target, self.interval = target, interval
        self.speed = batch * interval / (kimg * 1000)  # p's change per adjustment
        self.p = torch.zeros((), device=device)
        self.sums = torch.zeros(2, device=device)  # sum of sign(D(real)), count
        self.rt = torch.zeros((), device=device)
        self.updates = 0

    def wrap(self, d_input):
        """D's input: the recipe's own transform (DiffAugment, instance noise), then ADA at the current p."""
        def transform(x: Tensor, step: int) -> Tensor:
            return augment(d_input(x, step), self.p)

        transform.ada = self
        transform.graph_unsafe = "ADA adjusts p on the host every augment.ada_interval steps"
        return transform

    def observe(self, real_logits: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            self.sums += torch.stack([real_logits.sign().sum(), torch.tensor(float(real_logits.numel()),
                                                                              device=real_logits.device)])
            self.updates += 1
            if self.updates % self.interval == 0:
                sums = self.sums.clone()
                if dist.is_available() and dist.is_initialized():  # one p for every rank
                    dist.all_reduce(sums)
                self.rt = sums[0] / sums[1]
                self.p.add_(torch.sign(self.rt - self.target) * self.speed).clamp_(0, 1)
                self.sums.zero_()
        return {"ada_p": self.p.clone(), "ada_rt": self.rt.clone()}

    def state_tensors(self) -> dict[str, Tensor]:
        return {"p": self.p, "sums": self.sums, "rt": self.rt,
                "updates": torch.tensor(self.updates, dtype=torch.int64)}

    def load_state_tensors(self, tensors: dict[str, Tensor]) -> None:
        self.p.copy_(tensors["p"])
        self.sums.copy_(tensors["sums"])
        self.rt.copy_(tensors["rt"])
        self.updates = int(tensors["updates"])


def _install(ada: Ada, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """The first term of D's update: puts ADA in front of D's input, once, before D sees any image."""
    if getattr(ctx.d_input, "ada", None) is not ada:
        ctx.d_input = ada.wrap(ctx.d_input)
    return torch.zeros((), device=ada.p.device), {}


def _observe(ada: Ada, d: str, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    """After D's adversarial term: r_t from D's logits on this update's (augmented) real batch."""
    f_real = ctx.shared.f_real.detach()
    y = ctx.shared.y_real if getattr(ctx, "labels_to_d", False) else None
    with torch.no_grad():
        logits = ctx.nets[d].head(f_real, y).float()
    return torch.zeros((), device=ada.p.device), ada.observe(logits)


@register("ada", reads={"augment": {"ada_target", "ada_interval", "ada_kimg"}})
def attach(cfg: RunConfig, plan: TermPlan) -> None:
    a = cfg.augment
    if a.ada_target is None:
        return
    device = next(plan.nets[plan.d].parameters()).device
    ada = Ada(a.ada_target, a.ada_interval, a.ada_kimg, cfg.train.batch_size, device)
    plan.stateful["ada"] = ada
    plan.terms.setdefault(plan.d, []).insert(0, lambda ctx: _install(ada, ctx))
    plan.add_term(plan.d, lambda ctx: _observe(ada, plan.d, ctx))
