"""GANomaly (Akcay et al. 2018): an encoder-decoder-encoder G against a D, on normal data only.

G codes an image (z = E1(x)), decodes it (x^ = Dec(z)) and codes the reconstruction again
(z^ = E2(x^)). Its loss is w_adv * ||f(x) - f(x^)||^2 (D's features: the paper's adversarial
loss is feature matching) + w_con * |x - x^|_1 + w_enc * ||z - z^||^2, with weights 1, 50, 1;
D learns real x against x^ with the cross-entropy. An image is scored by ||z - z^||^2
(:mod:`ganforge.anomaly`): G learns to keep codes of normal images stable, not of others.

One step draws one batch and runs G's update, then D's, as the reference does. (The
reference also re-initialises D when its loss falls below 1e-5; that is left out here, and
the log shows ``loss_D`` should it happen.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge import sampling
from ganforge.config import OptimConfig, RunConfig
from ganforge.config import reads as config_reads
from ganforge.data import Dataset
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets.encoder import EncoderDecoderEncoder
from ganforge.objectives.losses import D_LOSSES
from ganforge import capabilities as cap
from ganforge.recipes.base import DdpModule, Recipe, TrainingEnv, TrainingParts
from ganforge.recipes.encoders import build_encoder
from ganforge.training import seeds
from ganforge.training.batches import real_batches
from ganforge.training.shuffled import ShuffledBatches
from ganforge.training.phases import Phase, StepContext
from ganforge.training.step_batch import StepBatch
from ganforge.figures.drawing import save_image_grid

Tensor = torch.Tensor
PREVIEW_IMAGES = 32  # training images shown with their reconstructions in each preview grid


@dataclass
class GanomalyContext(StepContext):
    """One batch per step, shared by G's and D's updates (drawn at the step's first use)."""

    real: ShuffledBatches | None = None
    drawn: StepBatch | None = None  # this step's (x, y) from ``real``

    @property
    def epoch(self) -> int:
        return self.real.epoch

    def batch(self) -> Tensor:
        return self.drawn.at(self.draw_key)[0]


def g_term(w_adv: float, w_con: float, w_enc: float, ctx: GanomalyContext) -> tuple[Tensor, dict[str, Tensor]]:
    x = ctx.batch()
    x_hat, z, z_hat = ctx.forward_net("G")(x)
    D = ctx.nets["D"]
    adv = F.mse_loss(D.features(x_hat), D.features(x).detach())
    con = (x - x_hat).abs().mean()
    enc = F.mse_loss(z_hat, z)
    return w_adv * adv + w_con * con + w_enc * enc, {"adv": adv.detach(), "con": con.detach(), "enc": enc.detach()}


def d_term(ctx: GanomalyContext) -> tuple[Tensor, dict[str, Tensor]]:
    x = ctx.batch()
    with torch.no_grad():
        x_hat = ctx.nets["G"](x)[0]
    D = ctx.forward_net("D")
    real, fake = D(x).float(), D(x_hat).float()
    # the registry's minimax loss, cross-entropy with real = 1 and reconstruction = 0 (GANomaly's D; its real
    # target is always 1: loss.* are not read here); its `shown` is the sigmoid, D's output as a probability
    d_loss = D_LOSSES["minimax"]
    loss = d_loss(real, fake)
    return loss, {"D_real": d_loss.shown(real).mean().detach(), "D_fake": d_loss.shown(fake).mean().detach()}


@dataclass
class GanomalyModel:
    """The trained G; "sampling" decodes random codes, which shows what the decoder has learnt."""

    cfg: RunConfig
    nets: dict[str, nn.Module]
    capabilities = frozenset({cap.GENERATE, cap.SCORE, cap.ENCODE})
    scoring_methods = ("ganomaly",)

    @property
    def generator(self) -> nn.Module:
        return self.nets["G"]

    def sample_chunks(self, n: int, *, seed: int = 0, device: str | torch.device = "cpu",
                      batch_size: int = 1000) -> Iterator[tuple[np.ndarray, None]]:
        G = self.generator
        gen = sampling.sample_generator(seed, device)
        for start in range(0, n, batch_size):
            z = sampling.sample_noise(min(batch_size, n - start), self.cfg.model.z_dim, "normal", device, gen)
            with torch.no_grad():
                yield sampling.to_output(G.decoder(z), G.output_range), None


def _context(cfg: RunConfig, record: dict[str, Any]) -> NetContext:
    return NetContext(data_shape=tuple(record["data_shape"]), z_dim=cfg.model.z_dim, kind=record["kind"])


class Ganomaly(Recipe):
    """GANomaly: an anomaly detector whose G is an encoder-decoder-encoder trained against a D on normal images.

    Its own recipe because nothing about it is noise to image: G maps an image to an image and two codes,
    its loss is feature matching plus reconstruction plus code distance, and the trained model scores
    images (``ganforge anomaly``) instead of sampling from noise.
    """

    name = "ganomaly"
    next_command = "ganforge anomaly eval {run}"
    eval_command = "ganforge anomaly eval {run}"  # its G encodes and decodes images: nothing to sample from noise
    description = "GANomaly: encoder-decoder-encoder G against D; scored by ||z - z^||^2"
    reads = config_reads.union({"model": {"z_dim", "g", "d"}, "optim": {"g", "d"},
                                "anomaly": {"w_adv", "w_con", "w_enc", "threshold_quantile"}}, config_reads.D_COLLAPSE)

    def rebuild(self, cfg: RunConfig, record: dict[str, Any]) -> dict[str, nn.Module]:
        if record["kind"] != "image":
            raise ConfigError(f"recipe ganomaly needs images, and '{cfg.data.name}' holds points; use an image "
                              f"dataset (e.g. mnist-one-normal)")
        ctx = _context(cfg, record)
        decoder = build_generator(cfg.model.g, ctx)  # decoder, E1, E2, then D: the order fixes the initial weights
        G = EncoderDecoderEncoder(build_encoder(cfg, record), decoder, build_encoder(cfg, record))
        return {"G": G, "D": build_discriminator(cfg.model.d, ctx)}

    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        record = {"data_shape": list(data.shape), "kind": data.kind, "num_classes": None}
        return self.rebuild(cfg, record), record

    def optimized(self, cfg: RunConfig) -> dict[str, OptimConfig]:
        return {"G": cfg.optim.g, "D": cfg.optim.d}

    def model(self, cfg: RunConfig, record: dict[str, Any], nets: dict[str, nn.Module]) -> GanomalyModel:
        return GanomalyModel(cfg, nets)

    def training(self, env: TrainingEnv) -> TrainingParts:
        cfg, data, world, a = env.cfg, env.data, env.world, env.cfg.anomaly
        G = env.nets["G"]
        real = real_batches(data.x, None, cfg.train.batch_size, seed=seeds.stream(cfg.seed, seeds.REAL_BATCHES),
                           device=env.device, output_range=G.output_range, rank=world.rank, world_size=world.size,
                           channels_last=env.channels_last)
        ctx = GanomalyContext(nets=env.nets, optimizers=env.optimizers, schedules=env.schedules, real=real,
                              drawn=StepBatch(real.next))
        phases = [Phase("G", "G", [partial(g_term, a.w_adv, a.w_con, a.w_enc)]), Phase("D", "D", [d_term])]
        fixed = real.scale(data.x[:PREVIEW_IMAGES].to(env.device))

        def save_preview(nets: dict[str, nn.Module], path: Path, step: int) -> Path:
            with torch.no_grad():
                x_hat = nets["G"](fixed)[0]
            return save_image_grid(sampling.to_output(torch.cat([fixed, x_hat]), G.output_range), path)

        return TrainingParts(context=ctx, phases=phases, streams={"real": real},
                             epochs_done=lambda: real.epochs_done, save_preview=save_preview,
                             ddp=lambda: {"G": DdpModule(G), "D": DdpModule(env.nets["D"])})
