"""Noise to image with networks that grow (Progressive GAN): the noise-to-image recipe plus a growth schedule.

Everything about G(z) against D(x) is :mod:`.noise_to_image`'s; this recipe adds the generic
:class:`ganforge.training.growth.Growth` as the first phase of every step and as a checkpointed
stream (``growth``), with ``growth.fade_images`` / ``growth.stable_images`` from the config.
Real images reach D (and every term that draws them: R1, feature matching) faded between two
resolutions while a stage fades in, as the paper feeds them (:class:`FadedReals`). While the networks
are smaller than their full size some of their layers get no gradient, so DDP is told to expect unused
parameters.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.config import RunConfig
from ganforge.config import reads as config_reads
from ganforge.data import Dataset
from ganforge.nets.progan import stage_and_alpha
from ganforge.recipes.base import DdpModule, TrainingEnv, TrainingParts
from ganforge.recipes.noise_to_image import NoiseToImage
from ganforge.training.growth import Growth
from ganforge.training.shuffled import ShuffledBatches


def fade_reals(x: torch.Tensor, level: float, levels: int) -> torch.Tensor:
    """Real images as ProGAN feeds them to D (Karras et al. 2018, figure 2: "during a resolution transition,
    we interpolate between two resolutions of the real images, similarly to how the generator output
    combines two resolutions"). At stage k's fade-in alpha, the image at stage k's size is
    ``lerp(upsample(pool(x)), x, alpha)``, the blend G's image is made of; otherwise it is unchanged. Without
    it D tells real from fake by sharpness alone while a stage fades in.

    Images stay full size, as the growing nets hand them (:mod:`ganforge.nets.progan`): the stage's image is
    nearest-upsampled, which D's average pooling to the stage's size undoes exactly."""
    stage, alpha = stage_and_alpha(level, levels - 1)
    if stage == 0 or alpha >= 1:
        return x
    factor = 2 ** (levels - 1 - stage)
    at_stage = F.avg_pool2d(x, factor) if factor > 1 else x
    below = F.interpolate(F.avg_pool2d(at_stage, 2), scale_factor=2, mode="nearest")
    faded = below.lerp(at_stage, alpha)
    return F.interpolate(faded, scale_factor=factor, mode="nearest") if factor > 1 else faded


class FadedReals:
    """The real stream as the growth in effect shows it: each batch through :func:`fade_reals`. The
    stream itself (its order, epochs, checkpointed state) stays the inner one's, which the recipe still
    checkpoints as ``real``, so runs resume as before."""

    graph_unsafe = "the real images' fade follows the growth level, set on the host every step"  # engine/graphs.py

    def __init__(self, inner: ShuffledBatches, growth: Growth):
        self.inner, self.growth = inner, growth

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, y = self.inner.next()
        return fade_reals(x, self.growth.in_effect, self.growth.schedule.levels), y

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Progressive(NoiseToImage):
    name = "progressive"
    description = "G(z) against D(x) with networks that grow stage by stage, each faded in linearly (ProGAN)"
    reads = config_reads.union(NoiseToImage.reads, {"growth": config_reads.every("growth")})

    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        nets, record = super().networks(cfg, data)
        Growth(nets, cfg.growth.fade_images, cfg.growth.stable_images, cfg.train.batch_size)  # refuses fixed nets
        return nets, record

    def training(self, env: TrainingEnv) -> TrainingParts:
        parts = super().training(env)
        growth = Growth(env.nets, env.cfg.growth.fade_images, env.cfg.growth.stable_images, env.cfg.train.batch_size)
        inner_ddp = parts.ddp

        def ddp() -> dict[str, DdpModule]:
            return {name: replace(m, find_unused=True) for name, m in inner_ddp().items()}

        parts.context.real = FadedReals(parts.context.real, growth)
        return replace(parts, phases=[growth, *parts.phases], streams={**parts.streams, "growth": growth}, ddp=ddp)
