"""Noise-to-image with a differentially private D: DP-SGD through Opacus (Abadi et al. 2016).

Only D touches real data, so only D's updates are made private: each D update clips every
sample's gradient (a real image together with the generated image beside it in the batch,
as in Opacus's DCGAN example) to ``dp.max_grad_norm`` and adds Gaussian noise of std
``dp.noise_multiplier * dp.max_grad_norm`` to the sum. G learns only through D, so G and its
samples are private by post-processing. Opacus does all of it (per-sample gradients through
``GradSampleModule``'s hooks, clipping and noise in ``DPOptimizer``, the RDP accountant); this
recipe only fits it in, through :mod:`ganforge.recipes.private` (the machinery it shares with
dp-tabular): the D optimiser is wrapped, a D term reports ``dp_epsilon`` and ``dp_delta`` at
every log step (stats.jsonl), and the accountant's history and the noise generator are
checkpointed by name (``dp_D``), so a resumed run continues bitwise and keeps counting.

D's real batches are the sampling the accountant counts: every D update takes each training image
independently with probability q = train.batch_size / N (:class:`ganforge.training.poisson.PoissonBatches`),
so the batch size varies, and real image i is paired with generated image i (:func:`private_d_adversarial`).
Opacus's optimiser averages the noised sum over the expected batch, train.batch_size, whatever the
drawn size, as its Poisson data loader does. (dp-tabular, which shares
:func:`~ganforge.recipes.private.make_private`, draws D's rows by Poisson sampling too:
``PoissonTableBatches`` in tabular/batches.py.)

One limit, stated rather than hidden:

- Per-sample gradients do not exist under batch norm (it mixes the samples of a batch), nor
  through a gradient penalty's double backward: D must use ``norm: layer`` or ``none``, and
  reg.gp / reg.r1 must be 0. Both are refused with one line before training.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.config import RunConfig
from ganforge.config import reads as config_reads
from ganforge.data import Dataset
from ganforge.objectives.adversarial import d_loss_of_draw, judge_both
from ganforge.recipes.base import TrainingEnv, TrainingParts
from ganforge.recipes.noise_to_image import NoiseToImage
from ganforge.recipes.private import (DP_STATE, check_batch_fits, check_eval_outside_training, check_private,
                                      make_private)
from ganforge.training import seeds
from ganforge.training.poisson import MIN_FAKE, PoissonBatches


def private_d_adversarial(ctx) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """D's objective on a Poisson draw of real images (``ctx.real``: :class:`PoissonBatches`), real image i paired
    with generated image i, one per-sample gradient each, as many generated images as real ones; an empty draw is a
    noise-only update (:func:`~ganforge.objectives.adversarial.d_loss_of_draw`)."""
    real, y_real = ctx.real.next()
    k = len(real)
    with torch.no_grad():
        fake, y_fake = ctx.generate(max(k, MIN_FAKE))
    fake, y_fake = fake[:k], (y_fake[:k] if y_fake is not None else None)
    return d_loss_of_draw(ctx, *judge_both(ctx, real, y_real, fake, y_fake))


private_d_adversarial.graph_unsafe = "a Poisson draw's batch size changes from one D update to the next"


class DpNoiseToImage(NoiseToImage):
    """Noise to image (a subclass: G, D, losses and sampling unchanged) with D trained by DP-SGD.

    Its own recipe because privacy changes what a step may read: D's real images are a Poisson sample at
    the accountant's rate, each paired with one generated image; D's optimiser is Opacus's; G's output bias
    never starts at the data's mean; and every setting that would let real data reach training outside D's
    private updates (or the log, through in-training eval or the collapse monitor) is refused or off.
    """

    name = "dp-noise-to-image"
    description = "noise-to-image with D trained by DP-SGD (Opacus); (epsilon, delta) in stats.jsonl"
    # noise-to-image's keys but the collapse monitor's (it would read training records outside the accountant)
    reads = config_reads.union(config_reads.minus(NoiseToImage.reads, config_reads.MONITOR), config_reads.D_COLLAPSE,
                               {"dp": config_reads.every("dp")})

    d_term = staticmethod(private_d_adversarial)

    def real_stream(self, env: TrainingEnv, output_range: tuple[float, float] | None) -> PoissonBatches:
        """D's real batches: a Poisson sample of the training images at the accountant's rate, each update."""
        return PoissonBatches(env.data.x, env.data.y, env.local_batch / len(env.data),
                              seeds.stream(env.cfg.seed, seeds.REAL_BATCHES), env.device, output_range,
                              channels_last=env.channels_last)

    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        check_batch_fits(cfg, data, self.name)
        check_eval_outside_training(cfg, data, self.name, self.default_metrics())
        nets, record = super().networks(cfg, data)
        check_private(nets["D"], cfg)
        return nets, record

    def data_mean(self, data: Dataset) -> None:
        """None: G's output bias set from the training images' mean (an MLP or maxout G's ``bias_from_data``)
        would carry that statistic into G's weights and every sample, with no clipping or noise; the bias
        starts where a G without it does."""
        return None

    def training(self, env: TrainingEnv) -> TrainingParts:
        parts = make_private(env, super().training(env), self.name)
        rate = parts.stateful[DP_STATE].sample_rate
        assert parts.context.real.sample_rate == rate, (parts.context.real.sample_rate, rate)
        return parts


__all__ = ["DpNoiseToImage", "private_d_adversarial"]
