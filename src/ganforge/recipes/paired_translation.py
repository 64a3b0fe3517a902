"""pix2pix (Isola et al. 2017): paired image-to-image translation, G(a) against a conditional D.

Networks ``G`` (A -> B; a U-Net in the presets) and ``D`` (a PatchGAN on (a, image) pairs),
built in that order. One step: D on (a, b) against (a, G(a)), then G on the adversarial
term plus ``translation.l1`` times |G(a) - b|. ``translation.gan: 0`` is the paper's
"L1 alone" ablation (no D is built), ``translation.l1: 0`` its "cGAN alone".

A pair is drawn as one tensor (A and B stacked along the channels, then split), so the
engine's shuffled-batch stream keeps them aligned and checkpoints their position as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge import objectives
from ganforge.config import OptimConfig, RunConfig
from ganforge.config import reads as config_reads
from ganforge.nets import build_discriminator, build_generator
from ganforge.objectives.translation import (conditioned, d_patch_loss, g_patch_loss, l1, patch_logits, shown,
                                             translation_d_loss, translation_g_loss)
from ganforge.recipes.base import DdpModule, TrainingEnv, TrainingParts
from ganforge.recipes.translation_model import (RANGE, SHEET_ITEMS, PatchForward, TranslationModel, TranslationRecipe,
                                                d_patches, domains, image_context, save_sheet, scale,
                                                with_out_channels)
from ganforge.sampling import to_uint8
from ganforge.training import seeds
from ganforge.training.batches import real_batches
from ganforge.training.shuffled import ShuffledBatches
from ganforge.training.phases import Phase, StepContext
from ganforge.training.step_batch import StepBatch

Tensor = torch.Tensor


@dataclass
class PairedContext(StepContext):
    """pix2pix's step: one drawn (a, b) batch shared by D's and G's terms, and the weights of G's L1 and
    adversarial terms, always from translation.l1 / translation.gan (no default here: config holds it)."""

    pairs: ShuffledBatches | None = None
    drawn: StepBatch | None = None  # this step's (a and b stacked, y) from ``pairs``
    a_channels: int = 1
    conditional: bool = True
    d_loss: objectives.DLoss | None = None
    g_loss: Any = None
    l1_weight: float = field(kw_only=True)
    gan_weight: float = field(kw_only=True)

    @property
    def epoch(self) -> int:
        return self.pairs.epoch

    def pair(self) -> tuple[Tensor, Tensor]:
        """This step's (a, b) batch: drawn once per step, shared by the D and G phases."""
        ab, _ = self.drawn.at(self.draw_key)
        return ab[:, :self.a_channels], ab[:, self.a_channels:]


def d_term(ctx: PairedContext) -> tuple[Tensor, dict[str, Tensor]]:
    a, b = ctx.pair()
    with torch.no_grad():
        fake = ctx.nets["G"](a)
    real_logits = d_patches(ctx, "D", conditioned(a, b, ctx.conditional))
    fake_logits = d_patches(ctx, "D", conditioned(a, fake, ctx.conditional))
    loss = d_patch_loss(ctx.d_loss, real_logits, fake_logits)
    return loss, {"D_real": shown(ctx.d_loss, real_logits), "D_fake": shown(ctx.d_loss, fake_logits)}


def g_term(ctx: PairedContext) -> tuple[Tensor, dict[str, Tensor]]:
    a, b = ctx.pair()
    fake = ctx.forward_net("G")(a)
    distance = l1(fake, b)
    loss = ctx.l1_weight * distance
    stats = {"l1": distance.detach()}
    if ctx.gan_weight > 0:
        adversarial = g_patch_loss(ctx.g_loss, patch_logits(ctx.nets["D"], conditioned(a, fake, ctx.conditional)))
        loss = loss + ctx.gan_weight * adversarial
        stats["g_adv"] = adversarial.detach()
    return loss, stats


class PairedTranslation(TranslationRecipe):
    """pix2pix: a translator G from domain A to domain B, trained on aligned (a, b) pairs against a conditional D.

    Its own recipe because its data and step are not noise to image: G takes an image, not z, its loss adds
    ``translation.l1`` times the distance to the paired target, and D judges (a, image) pairs patch by patch;
    the unpaired case, with two translators and a cycle, is :class:`CycleTranslation`.
    """

    name = "paired-translation"
    description = "pix2pix: paired image-to-image translation, U-Net G, conditional PatchGAN D, L1 + GAN"
    reads = config_reads.union({"model": {"g", "d"}, "loss": config_reads.every("loss"), "train": {"d_steps"},
                                "optim": {"g", "d"}, "translation": {"l1", "gan", "conditional_d", "test_mode"}},
                               config_reads.D_COLLAPSE)
    paired = True

    def rebuild(self, cfg: RunConfig, record: dict[str, Any]) -> dict[str, nn.Module]:
        a_shape, b_shape = record["data_shape"], record["b_shape"]
        nets = {"G": build_generator(with_out_channels(cfg.model.g, b_shape[0]), image_context(a_shape))}
        if cfg.translation.gan > 0:
            d_channels = b_shape[0] + (a_shape[0] if cfg.translation.conditional_d else 0)
            nets["D"] = build_discriminator(cfg.model.d, image_context([d_channels, *b_shape[1:]]))
        return nets

    def optimized(self, cfg: RunConfig) -> dict[str, OptimConfig]:
        return {"G": cfg.optim.g, **({"D": cfg.optim.d} if cfg.translation.gan > 0 else {})}

    def averaged(self) -> dict[str, str]:
        return {"G": "G_ema"}

    def model(self, cfg: RunConfig, record: dict[str, Any], nets: dict[str, nn.Module]) -> TranslationModel:
        return TranslationModel(cfg, record, nets, {"AB": "G"})

    def training(self, env: TrainingEnv) -> TrainingParts:
        cfg, data, world = env.cfg, env.data, env.world
        a, b = domains(data, self.name, need_pairs=True)
        stacked = torch.cat([a.x, b.x], 1)  # one stream keeps every pair together
        pairs = real_batches(stacked, None, cfg.train.batch_size, seed=seeds.stream(cfg.seed, seeds.REAL_BATCHES),
                            device=env.device, output_range=RANGE, rank=world.rank, world_size=world.size,
                            channels_last=env.channels_last)
        tr = cfg.translation
        ctx = PairedContext(nets=env.nets, optimizers=env.optimizers, schedules=env.schedules, pairs=pairs,
                            drawn=StepBatch(pairs.next), a_channels=a.shape[0], conditional=tr.conditional_d,
                            d_loss=translation_d_loss(cfg.loss.d, cfg.loss.real_label),
                            g_loss=translation_g_loss(cfg.loss.g, self.name),
                            l1_weight=tr.l1, gan_weight=tr.gan)
        phases = ([Phase("D", "D", [d_term], repeat=cfg.train.d_steps)] if tr.gan > 0 else []) + \
            [Phase("G", "G", [g_term])]
        k = min(SHEET_ITEMS, len(a))
        fixed_a, fixed_b = a.x[:k], b.x[:k]

        @torch.no_grad()
        def save_preview(nets: dict[str, nn.Module], path: Path, step: int) -> Path:
            out = to_uint8(nets["G"](scale(fixed_a.to(env.device))), RANGE).cpu().numpy()
            return save_sheet(fixed_a.numpy(), out, fixed_b.numpy(), path, title=f"step {step}")

        def ddp() -> dict[str, DdpModule]:
            return {"G": DdpModule(env.nets["G"]), **({"D": DdpModule(PatchForward(env.nets["D"]))}
                                                      if "D" in env.nets else {})}

        return TrainingParts(context=ctx, phases=phases, streams={"real": pairs}, epochs_done=lambda: pairs.epochs_done,
                             save_preview=save_preview, ddp=ddp, compile_targets=[("G", "forward")])
