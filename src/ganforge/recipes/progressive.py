"""Noise to image with networks that grow (Progressive GAN): the noise-to-image recipe plus a growth schedule.

Everything about G(z) against D(x) is :mod:`.noise_to_image`'s; this recipe adds the generic
:class:`ganforge.training.growth.Growth` as the first phase of every step and as a checkpointed
stream (``growth``), with ``growth.fade_images`` / ``growth.stable_images`` from the config.
While the networks are smaller than their full size some of their layers get no gradient, so
DDP is told to expect unused parameters.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torch import nn

from ganforge.config import RunConfig
from ganforge.config import reads as config_reads
from ganforge.data import Dataset
from ganforge.recipes.base import DdpModule, TrainingEnv, TrainingParts
from ganforge.recipes.noise_to_image import NoiseToImage
from ganforge.training.growth import Growth


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

        return replace(parts, phases=[growth, *parts.phases], streams={**parts.streams, "growth": growth}, ddp=ddp)
