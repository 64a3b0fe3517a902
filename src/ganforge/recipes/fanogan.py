"""f-AnoGAN (Schlegl et al. 2019): a GAN on normal data, then an encoder into its latent space.

Stage 1 is the noise-to-image recipe unchanged (the preset makes it a WGAN-GP); stage 2, the
last ``anomaly.encoder_steps`` steps, trains an encoder E with G and D frozen, on the paper's
"izi_f" loss: MSE(x, G(E(x))) + kappa * MSE(f(x), f(G(E(x)))), f being D's penultimate
features. Scoring is then one forward pass (:mod:`ganforge.anomaly`) instead of AnoGAN's
500-step search for z.

The stages are :class:`ganforge.training.stages.Window` phases, so the loop has no branch for
them. G and D are run in eval mode in stage 2 (G's batch-norm statistics would otherwise
drift with every forward pass): both stay bitwise as stage 1 left them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.config import OptimConfig, RunConfig
from ganforge.config import reads as config_reads
from ganforge.data import Dataset
from ganforge.errors import ConfigError
from ganforge import capabilities as cap
from ganforge.recipes.base import DdpModule, TrainingEnv, TrainingParts, eval_mode
from ganforge.recipes.encoders import build_encoder
from ganforge.recipes.noise_to_image import AdversarialContext, NoiseToImage, NoiseToImageModel
from ganforge.training.phases import Phase
from ganforge.training.stages import staged


def izi_f_term(kappa: float, ctx: AdversarialContext) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """MSE(x, G(E(x))) + kappa * MSE(f(x), f(G(E(x)))), with G and D frozen and in eval mode."""
    x, _ = ctx.real.next()
    G, D = ctx.nets["G"], ctx.nets["D"]
    with eval_mode({"G": G, "D": D}):
        x_rec = G(ctx.forward_net("E")(x))
        image = F.mse_loss(x_rec, x)
        feature = F.mse_loss(D.features(x_rec), D.features(x).detach())
    return image + kappa * feature, {"izi_residual": image.detach(), "izi_feature": feature.detach()}


@dataclass
class FAnoGANModel(NoiseToImageModel):
    """The trained G (samples as any noise-to-image run) plus the encoder ``nets["E"]``."""

    scoring_methods = ("fanogan", "anogan")  # its encoder first; AnoGAN's search works on its G too

    @property
    def capabilities(self) -> frozenset[str]:
        return super().capabilities | {cap.ENCODE}

    @property
    def encoder(self) -> nn.Module:
        return self.nets["E"]


class FAnoGAN(NoiseToImage):
    """f-AnoGAN: a noise-to-image GAN on normal images, then an encoder E into its latent space.

    Its own recipe (a subclass of noise-to-image, whose G and D it trains unchanged) because it adds a
    third network and a second stage: E is trained in the last ``anomaly.encoder_steps`` steps with G and
    D frozen, and the trained model scores images (``ganforge anomaly``) by reconstructing them through E.
    """

    name = "fanogan"
    next_command = "ganforge anomaly eval {run}"
    # Its G samples from noise, but the run is trained on a protocol's normal class and its data's test split
    # is mostly anomalies (mnist-one-normal: 90%): ganforge eval would score G against that mixture and
    # report a number that measures nothing. The protocol's own table (AUROC, per class) measures it.
    eval_command = "ganforge anomaly eval {run}"
    description = "f-AnoGAN: a (WGAN-GP) noise-to-image GAN, then an encoder into its latent space (izi_f)"
    reads = config_reads.union(NoiseToImage.reads, {"anomaly": {"encoder_steps", "kappa"}})

    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        if cfg.anomaly.encoder_steps < 1:
            raise ConfigError("recipe fanogan trains its encoder in the last anomaly.encoder_steps steps, and that is "
                              "0; set anomaly.encoder_steps (e.g. 1000) below train.steps")
        nets, record = super().networks(cfg, data)  # G, then D: the same weights as the plain GAN with this seed
        nets["E"] = build_encoder(cfg, record)
        return nets, record

    def rebuild(self, cfg: RunConfig, record: dict[str, Any]) -> dict[str, nn.Module]:
        return {**super().rebuild(cfg, record), "E": build_encoder(cfg, record)}

    def averaged(self) -> dict[str, str]:
        # No moving average of G: E is fitted to the raw G (izi_f_term), and a score is only meaningful with
        # the G that E inverts; G_ema(E(x)) reconstructs with a network E never saw (AUROC 0.61 -> 0.44 in a
        # probe). So ema.* is not read (a preset or --set stating it is refused), and a run made before this
        # rule, whose checkpoints hold a G_ema, is scored and sampled with its raw G.
        return {}

    def optimized(self, cfg: RunConfig) -> dict[str, OptimConfig]:
        return {**super().optimized(cfg), "E": cfg.optim.g}  # E learns with G's optimiser settings

    def model(self, cfg: RunConfig, record: dict[str, Any], nets: dict[str, nn.Module]) -> FAnoGANModel:
        return FAnoGANModel(cfg, nets, record.get("num_classes"))

    def training(self, env: TrainingEnv) -> TrainingParts:
        parts = super().training(env)
        cfg = env.cfg
        gan_steps = cfg.train.steps - cfg.anomaly.encoder_steps
        encoder = Phase("E", "E", [partial(izi_f_term, cfg.anomaly.kappa)])
        parts.phases = staged([(parts.phases, gan_steps), ([encoder], cfg.anomaly.encoder_steps)])
        gan_ddp = parts.ddp
        parts.ddp = lambda: {**gan_ddp(), "E": DdpModule(env.nets["E"])}
        return parts
