"""CycleGAN (Zhu et al. 2017): unpaired translation with two generators and a cycle.

Networks ``G_AB``, ``G_BA``, ``D_A``, ``D_B``, built in that order. One step: G_AB, then
G_BA, each on its adversarial term (through the other domain's D), both cycle terms
(A -> B -> A and B -> A -> B) and its identity term; then D_A and D_B, each on real images
of its domain against fakes drawn through its image pool (:mod:`ganforge.training.image_pool`,
checkpointed by name). The reference code steps both generators with one optimiser on the
summed loss; here each has its own (the engine's one-network phases), and G_BA's phase sees
G_AB already updated, an alternation that changes no objective.

The step's batches, and the fakes the G phases made, are shared by the phases of that step,
so the D phases judge the same translations the reference code's would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge import objectives
from ganforge.config import OptimConfig, RunConfig
from ganforge.config import reads as config_reads
from ganforge.data import Dataset
from ganforge.errors import ConfigError
from ganforge.nets import build_discriminator, build_generator
from ganforge.objectives.translation import (d_patch_loss, g_patch_loss, l1, patch_logits, shown, translation_d_loss,
                                             translation_g_loss)
from ganforge.recipes.base import DdpModule, TrainingEnv, TrainingParts
from ganforge.recipes.translation_model import (RANGE, SHEET_ITEMS, PatchForward, TranslationModel, TranslationRecipe,
                                                d_patches, domains, image_context, save_sheet, scale,
                                                with_out_channels)
from ganforge.sampling import to_uint8
from ganforge.training import seeds
from ganforge.training.batches import real_batches
from ganforge.training.shuffled import ShuffledBatches
from ganforge.training.image_pool import ImagePool
from ganforge.training.phases import Phase, StepContext
from ganforge.training.step_batch import StepBatch

Tensor = torch.Tensor
OTHER = {"A": "B", "B": "A"}


@dataclass
class CycleContext(StepContext):
    """CycleGAN's step: both domains' batches drawn once and shared by the four phases, each D's pool of
    generated images, and the cycle and identity weights from translation.cycle / translation.identity
    (no default here: config holds it)."""

    real: dict[str, ShuffledBatches] = field(default_factory=dict)  # by domain
    pools: dict[str, ImagePool] = field(default_factory=dict)  # fakes of each domain, for its D
    d_loss: objectives.DLoss | None = None
    g_loss: Any = None
    cycle: float = field(kw_only=True)
    identity: float = field(kw_only=True)
    drawn: StepBatch | None = None  # this step's images by domain, one draw of each stream of ``real``
    step_fakes: StepBatch = field(default_factory=lambda: StepBatch(dict))  # a fresh dict each step

    @property
    def epoch(self) -> int:
        return self.real["A"].epoch

    def batch(self, domain: str) -> Tensor:
        return self.drawn.at(self.draw_key)[domain]

    @property
    def fakes(self) -> dict[str, Tensor]:
        """This step's G outputs by domain, detached (empty until a G phase of the step has run)."""
        return self.step_fakes.at(self.draw_key)


def g_term(source: str, ctx: CycleContext) -> tuple[Tensor, dict[str, Tensor]]:
    """G from ``source`` to the other domain: adversarial + both cycles + identity (its share)."""
    target = OTHER[source]
    g, inverse, d = f"G_{source}{target}", f"G_{target}{source}", f"D_{target}"
    x, y = ctx.batch(source), ctx.batch(target)
    G = ctx.forward_net(g)
    fake = G(x)
    ctx.fakes[target] = fake.detach()
    adversarial = g_patch_loss(ctx.g_loss, patch_logits(ctx.nets[d], fake))
    forward_cycle = l1(ctx.nets[inverse](fake), x)  # source -> target -> source
    backward_cycle = l1(G(ctx.nets[inverse](y)), y)  # target -> source -> target, G second
    loss = adversarial + ctx.cycle * (forward_cycle + backward_cycle)
    stats = {f"g_adv_{g}": adversarial.detach(), f"cycle_{source}": forward_cycle.detach(),
             f"backward_cycle_{g}": backward_cycle.detach()}
    if ctx.identity > 0:
        same = l1(G(y), y)
        loss = loss + ctx.cycle * ctx.identity * same
        stats[f"identity_{g}"] = same.detach()
    return loss, stats


def d_term(domain: str, ctx: CycleContext) -> tuple[Tensor, dict[str, Tensor]]:
    """D of ``domain``: its real images against pooled translations into it."""
    d, source = f"D_{domain}", OTHER[domain]
    real = ctx.batch(domain)
    fake = ctx.fakes.get(domain)
    if fake is None:  # the G phase did not run this step (a schedule of phases without it)
        with torch.no_grad():
            fake = ctx.nets[f"G_{source}{domain}"](ctx.batch(source))
    fake = ctx.pools[domain].query(fake)
    real_logits, fake_logits = d_patches(ctx, d, real), d_patches(ctx, d, fake)
    loss = d_patch_loss(ctx.d_loss, real_logits, fake_logits)
    return loss, {f"D_real_{domain}": shown(ctx.d_loss, real_logits),
                  f"D_fake_{domain}": shown(ctx.d_loss, fake_logits)}


class CycleTranslation(TranslationRecipe):
    """CycleGAN: two translators (A -> B, B -> A) and a D per domain, trained on unpaired images.

    Its own recipe because, with no target to compare an output with, it needs what pix2pix has no use for:
    a second G, cycle and identity terms, a D per domain fed through an image pool, and two real streams
    (one per domain, each checkpointed).
    """

    name = "cycle-translation"
    description = "CycleGAN: unpaired translation, two ResNet Gs, two PatchGAN Ds, cycle + identity, image pools"
    reads = {"model": {"g", "d"}, "loss": config_reads.every("loss"), "train": {"d_steps"}, "optim": {"g", "d"},
             "translation": {"cycle", "identity", "pool_size", "pool_swap", "test_mode"}}
    paired = False
    shown_d, d_label = "D_B", "D_A and D_B"  # built alike: one message for both

    def check_domains(self, cfg: RunConfig, data: Dataset, a: Dataset, b: Dataset) -> None:
        if cfg.translation.identity > 0 and a.shape[0] != b.shape[0]:
            raise ConfigError(f"translation.identity needs both domains to have the same channels, and '{data.name}' "
                              f"has {a.shape[0]} and {b.shape[0]}; set translation.identity=0")

    def rebuild(self, cfg: RunConfig, record: dict[str, Any]) -> dict[str, nn.Module]:
        a, b = record["data_shape"], record["b_shape"]
        return {"G_AB": build_generator(with_out_channels(cfg.model.g, b[0]), image_context(a)),
                "G_BA": build_generator(with_out_channels(cfg.model.g, a[0]), image_context(b)),
                "D_A": build_discriminator(cfg.model.d, image_context(a)),
                "D_B": build_discriminator(cfg.model.d, image_context(b))}

    def optimized(self, cfg: RunConfig) -> dict[str, OptimConfig]:
        return {"G_AB": cfg.optim.g, "G_BA": cfg.optim.g, "D_A": cfg.optim.d, "D_B": cfg.optim.d}

    def model(self, cfg: RunConfig, record: dict[str, Any], nets: dict[str, nn.Module]) -> TranslationModel:
        return TranslationModel(cfg, record, nets, {"AB": "G_AB", "BA": "G_BA"})

    def training(self, env: TrainingEnv) -> TrainingParts:
        cfg, data, world = env.cfg, env.data, env.world
        a, b = domains(data, self.name, need_pairs=False)
        stream = partial(real_batches, batch_size=cfg.train.batch_size, device=env.device, output_range=RANGE,
                         rank=world.rank, world_size=world.size, channels_last=env.channels_last)
        real = {"A": stream(a.x, None, seed=seeds.stream(cfg.seed, seeds.REAL_BATCHES)),
                "B": stream(b.x, None, seed=seeds.stream(cfg.seed, seeds.REAL_B))}
        tr = cfg.translation
        pools = {d: ImagePool(tr.pool_size, tr.pool_swap, seeds.stream(cfg.seed, seeds.IMAGE_POOL + i), env.device)
                 for i, d in enumerate("AB")}
        ctx = CycleContext(nets=env.nets, optimizers=env.optimizers, schedules=env.schedules, real=real, pools=pools,
                           drawn=StepBatch(lambda: {d: s.next()[0] for d, s in real.items()}),
                           d_loss=translation_d_loss(cfg.loss.d, cfg.loss.real_label),
                           g_loss=translation_g_loss(cfg.loss.g, self.name),
                           cycle=tr.cycle, identity=tr.identity)
        phases = [Phase("G_AB", "G_AB", [partial(g_term, "A")]), Phase("G_BA", "G_BA", [partial(g_term, "B")]),
                  Phase("D_A", "D_A", [partial(d_term, "A")], repeat=cfg.train.d_steps),
                  Phase("D_B", "D_B", [partial(d_term, "B")], repeat=cfg.train.d_steps)]
        k = min(SHEET_ITEMS, len(a))
        fixed = a.x[:k]

        @torch.no_grad()
        def save_preview(nets: dict[str, nn.Module], path: Path, step: int) -> Path:
            x = scale(fixed.to(env.device))
            out = to_uint8(nets["G_AB"](x), RANGE).cpu().numpy()
            back = to_uint8(nets["G_BA"](nets["G_AB"](x)), RANGE).cpu().numpy()
            return save_sheet(fixed.numpy(), out, back, path, title=f"step {step}", heading="A | A->B | A->B->A")

        return TrainingParts(context=ctx, phases=phases, streams={"real_a": real["A"], "real_b": real["B"]},
                             epochs_done=lambda: real["A"].epochs_done, save_preview=save_preview,
                             stateful={"pool_A": pools["A"], "pool_B": pools["B"]},
                             ddp=lambda: {n: DdpModule(PatchForward(m) if n.startswith("D") else m)
                                          for n, m in env.nets.items()},
                             compile_targets=[("G_AB", "forward"), ("G_BA", "forward")])
