"""The first recipe: G(z) against D(x), the 2014 GAN and every successor that samples from noise.

Unconditional and class-conditional alike (G and/or D take labels when their config asks;
an ACGAN D has a classifier head). The networks are ``G`` and ``D``; with ``ema.beta`` set,
``G_ema`` is G's moving average and samples come from it. One step is Algorithm 1 of the
2014 paper: D ``train.d_steps`` times, then G once, plus whatever the registered
objectives add (:mod:`ganforge.objectives`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge import objectives, sampling
from ganforge.config import OptimConfig, RunConfig
from ganforge.config import reads as config_reads
from ganforge.data import Dataset
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets import registry as net_registry
from ganforge.objectives.adversarial import AdversarialShared, d_adversarial, g_adversarial
from ganforge import capabilities as cap
from ganforge.recipes.base import DdpModule, Recipe, TrainingEnv, TrainingParts
from ganforge.training import seeds
from ganforge.training.batches import Noise, real_batches
from ganforge.training.shuffled import ShuffledBatches
from ganforge.training.monitor import DiversityMonitor, fixed_real, no_monitor
from ganforge.training.phases import Phase, StepContext
from ganforge.figures.drawing import save_image_grid, save_points_plot

Tensor = torch.Tensor


@dataclass
class AdversarialContext(StepContext):
    """A noise-to-image step: real batches, noise, the adversarial losses and what D sees."""

    real: ShuffledBatches | None = None
    noise: Noise | None = None
    batch_size: int = 0
    d_loss: objectives.DLoss | None = None
    g_loss: Callable[[Tensor], Tensor] | None = None
    d_input: Callable[[Tensor, int], Tensor] = lambda x, step: x  # augmentation / instance noise
    num_classes: int | None = None
    labels_to_g: bool = False  # G is class-conditional
    labels_to_d: bool = False  # D's realness logit is class-conditional
    shared: AdversarialShared = field(default_factory=AdversarialShared)  # what this update's terms hand on

    @property
    def epoch(self) -> int:
        return self.real.epoch

    def fake_labels(self, n: int) -> Tensor | None:
        if self.num_classes is None or not (self.labels_to_g or self.labels_to_d):
            return None
        return self.noise.labels(n, self.num_classes)

    def generate(self, n: int) -> tuple[Tensor, Tensor | None]:
        y = self.fake_labels(n)
        return self.forward_net("G")(self.noise(n), y if self.labels_to_g else None), y

    def _features_and_logits(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        if self.training == "D" and "D" in self.ddp:
            f, logits = self.ddp["D"](x, y)
        else:
            D = self.nets["D"]
            f = D.features(x)
            logits = D.head(f, y)
        return f, logits.float()

    def d_logits(self, x: Tensor, y: Tensor | None) -> Tensor:
        """D's logits for (augmented) ``x``, as the input-gradient penalties need (``y`` as given)."""
        return self._features_and_logits(self.d_input(x, self.step), y)[1]

    def discriminate(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        """D's penultimate features and realness logits (fp32) for (augmented) ``x``."""
        return self._features_and_logits(self.d_input(x, self.step), y if self.labels_to_d else None)


class DiscriminatorForward(nn.Module):
    """D's features and realness logits as one ``forward``, so DDP sees D's forward pass.

    DDP averages gradients only for forwards that go through its wrapper; D is used as
    ``features`` then ``head`` (the penalties and the ACGAN classifier reuse the features),
    so this module is what gets wrapped.
    """

    def __init__(self, D: nn.Module):
        super().__init__()
        self.D = D

    def forward(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        f = self.D.features(x)
        return f, self.D.head(f, y)


@dataclass
class NoiseToImageModel:
    """A trained G: ``sample_chunks`` draws images (uint8) or points (float32) from noise."""

    cfg: RunConfig
    nets: dict[str, nn.Module]
    num_classes: int | None = None

    @property
    def generator(self) -> nn.Module:
        return self.nets["G"]

    @property
    def conditional(self) -> bool:
        return self.cfg.model.g.conditional

    min_truncation = sampling.MIN_Z_TRUNCATION  # truncation is a |z| threshold: redrawing needs room above 0
    scoring_methods = ("anogan",)  # anomaly scores by AnoGAN's latent search (any unconditional image G)

    @property
    def capabilities(self) -> frozenset[str]:
        """generate and truncate; classes when G is conditional; 2D points (toy2d) or, unconditional, scores."""
        points = self.generator.output_range is None
        return frozenset({cap.GENERATE, cap.TRUNCATION} | ({cap.CLASSES} if self.conditional else set())
                         | ({cap.TOY2D} if points else set())
                         | ({cap.SCORE} if not points and not self.conditional else set()))

    def latents(self, n: int, seed: int, *, classes: int | Sequence[int] | None = None,
                truncation: float | None = None, device: str | torch.device = "cpu") -> dict[str, Tensor]:
        """z (and y) of ``n`` samples from ``seed``, drawn as the first chunk of ``sample_chunks`` draws them."""
        m = self.cfg.model
        stream = sampling.latent_stream(seed, m.z_dim, m.z_dist, device, conditional=self.conditional,
                                        num_classes=self.num_classes, classes=classes, truncation=truncation)
        y = stream.y(0, n)
        return {"z": stream.z(n), **({"y": y} if y is not None else {})}

    @torch.no_grad()
    def render(self, latents: dict[str, Tensor]) -> np.ndarray:
        """Images (uint8) or points (float32) of a batch of latents, in one forward pass."""
        return sampling.to_output(self.generator(latents["z"], latents.get("y")), self.generator.output_range)

    def sample_chunks(self, n: int, *, seed: int = 0, device: str | torch.device = "cpu",
                      classes: int | Sequence[int] | None = None, truncation: float | None = None,
                      batch_size: int = 1000) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        m = self.cfg.model
        return sampling.generate_chunks(self.generator, n, z_dim=m.z_dim, z_dist=m.z_dist, seed=seed,
                                        batch_size=batch_size, device=device, conditional=self.conditional,
                                        num_classes=self.num_classes, classes=classes, truncation=truncation)


def _net_context(cfg: RunConfig, record: dict[str, Any], data_mean: Tensor | None = None) -> NetContext:
    return NetContext(data_shape=tuple(record["data_shape"]), z_dim=cfg.model.z_dim, kind=record["kind"],
                      num_classes=record["num_classes"], data_mean=data_mean)


def _labels(cfg: RunConfig, data: Dataset) -> tuple[bool, bool]:
    """Whether G and D take class labels (by their configured options); needs a labelled dataset."""
    to_g, to_d = cfg.model.g.conditional, cfg.model.d.conditional
    wants = to_g or to_d or bool(net_registry.resolved_options("discriminator", cfg.model.d).get("aux_classifier"))
    if wants and data.num_classes is None:
        raise ConfigError(f"a class-conditional model needs a labelled dataset, and '{cfg.data.name}' has no "
                          f"labels; use a dataset with classes (e.g. mnist, or folder:PATH with class subfolders)")
    return to_g, to_d


class NoiseToImage(Recipe):
    name = "noise-to-image"
    description = "G(z) against D(x): the 2014 GAN, DCGAN, WGAN(-GP), LSGAN, SNGAN, conditional GANs"
    # G(z) and D(x) with every loss, regulariser and augmentation the objectives declare; ganforge anomaly's
    # AnoGAN search (and threshold rule) on an unconditional G; the collapse monitor and D_fake.
    reads = config_reads.union(
        {"model": config_reads.every("model"), "loss": config_reads.every("loss"), "train": {"d_steps"},
         "optim": {"g", "d"}, "anomaly": {"anogan_steps", "anogan_lambda", "anogan_lr", "threshold_quantile"}},
        objectives.READS, config_reads.MONITOR, config_reads.D_COLLAPSE)

    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        record = {"data_shape": list(data.shape), "kind": data.kind, "num_classes": data.num_classes}
        ctx = _net_context(cfg, record, self.data_mean(data))
        G = build_generator(cfg.model.g, ctx)  # G first, then D: the order fixes their initial weights
        D = build_discriminator(cfg.model.d, ctx)
        return {"G": G, "D": D}, record

    def data_mean(self, data: Dataset) -> Tensor | None:
        """The mean image G's output layer may start from (the 2014 code set its sigmoid bias to the logit of
        each pixel's mean: ``bias_from_data``); None for points."""
        return data.mean_image() if data.kind == "image" else None

    def rebuild(self, cfg: RunConfig, record: dict[str, Any]) -> dict[str, nn.Module]:
        ctx = _net_context(cfg, record)
        return {"G": build_generator(cfg.model.g, ctx), "D": build_discriminator(cfg.model.d, ctx)}

    def optimized(self, cfg: RunConfig) -> dict[str, OptimConfig]:
        # Lazy regularisers (R1 every 16 D steps, path length every 4 G steps) add optimiser steps.
        return {"G": objectives.lazy_corrected(cfg, "g", cfg.optim.g),
                "D": objectives.lazy_corrected(cfg, "d", cfg.optim.d)}

    def averaged(self) -> dict[str, str]:
        return {"G": "G_ema"}

    # D's adversarial term, which draws its real batch from real_stream's stream: a recipe that draws D's real
    # batches otherwise (dp-noise-to-image: a Poisson sample) replaces the two together.
    d_term = staticmethod(d_adversarial)

    def real_stream(self, env: TrainingEnv, output_range: tuple[float, float] | None) -> ShuffledBatches:
        """D's real minibatches: shuffled fixed-size batches of the data, epoch after epoch."""
        cfg, world = env.cfg, env.world
        return real_batches(env.data.x, env.data.y, cfg.train.batch_size,
                            seed=seeds.stream(cfg.seed, seeds.REAL_BATCHES), device=env.device,
                            output_range=output_range, rank=world.rank, world_size=world.size,
                            channels_last=env.channels_last)

    def model(self, cfg: RunConfig, record: dict[str, Any], nets: dict[str, nn.Module]) -> NoiseToImageModel:
        return NoiseToImageModel(cfg, nets, record.get("num_classes"))

    def training(self, env: TrainingEnv) -> TrainingParts:
        cfg, data, world, device = env.cfg, env.data, env.world, env.device
        G = env.nets["G"]
        real = self.real_stream(env, G.output_range)
        noise = Noise(cfg.model.z_dim, cfg.model.z_dist, device, seed=seeds.stream(cfg.seed, seeds.NOISE),
                      rank=world.rank, world_size=world.size)
        to_g, to_d = _labels(cfg, data)
        ctx = AdversarialContext(nets=env.nets, optimizers=env.optimizers, schedules=env.schedules, real=real,
                                 noise=noise, batch_size=env.local_batch,
                                 d_loss=objectives.d_loss_for(cfg.loss.d, cfg.loss.real_label),
                                 g_loss=objectives.G_LOSSES[cfg.loss.g], d_input=objectives.input_transform(cfg),
                                 num_classes=data.num_classes, labels_to_g=to_g, labels_to_d=to_d)
        plan = objectives.attach_all(cfg, objectives.TermPlan(env.nets, d="D", g="G",
                                                              terms={"D": [self.d_term], "G": [g_adversarial]}))
        phases = _phases(cfg, plan)
        preview = _Preview(cfg, data, device, to_g)
        watch = _monitor(cfg, real, data.num_classes if to_g else None, device)
        has_classifier = hasattr(env.nets["D"], "classify")

        def ddp() -> dict[str, DdpModule]:
            # An ACGAN classifier has no gradient in the lazy R1 phase; DDP must be told to expect that.
            lazy_r1 = cfg.reg.r1 > 0 and cfg.reg.r1_every > 1
            return {"G": DdpModule(G), "D": DdpModule(DiscriminatorForward(env.nets["D"]),
                                                      find_unused=has_classifier and lazy_r1)}

        return TrainingParts(context=ctx, phases=phases, streams={"real": real, "noise": noise},
                             epochs_done=lambda: real.epochs_done, save_preview=preview.save, stateful=plan.stateful,
                             ddp=ddp, compile_targets=[("G", "forward"), ("D", "features"), ("D", "head")],
                             reseed=lambda base: noise.reseed(seeds.stream(base, seeds.NOISE)), monitor=watch)


def _monitor(cfg: RunConfig, real: ShuffledBatches, num_classes: int | None, device: torch.device):
    """The collapse monitor over G(z) from a fixed z (classes in turn for a conditional G) against a fixed
    real batch, both from the run seed, so every reading and a resumed run's look at the same samples."""
    n = cfg.log.diversity_n
    if n == 0:
        return no_monitor
    z = Noise(cfg.model.z_dim, cfg.model.z_dist, device, seed=seeds.stream(cfg.seed, seeds.MONITOR))(n)
    y = torch.arange(n, device=device) % num_classes if num_classes is not None else None
    return DiversityMonitor(lambda nets: nets["G"](z, y),
                            fixed_real(real.x, _real_count(cfg, n, len(real.x)), seeds.stream(cfg.seed, seeds.MONITOR),
                                       real.scale),
                            output_range=real.output_range)


def _real_count(cfg: RunConfig, n: int, available: int) -> int:
    """How many real samples the monitor holds: ``n``, or all the data when it is smaller, rounded down to
    whole groups of D's minibatch std (``model.d.mbstd_group``), which D refuses a batch it cannot split
    into. A store of 30 images stopped every StyleGAN2 run at its first log step (30 does not split into
    groups of 4); ``n`` itself is checked against the group with the config."""
    m = min(n, available)
    group = net_registry.resolved_options("discriminator", cfg.model.d).get("mbstd_group")
    if isinstance(group, int) and 1 <= group < m:
        m -= m % group
    return m


def _phases(cfg: RunConfig, plan: objectives.TermPlan) -> list[Phase]:
    """D (k times), any extra phases the objectives asked for after it, then G."""
    phases = []
    for name, repeat in ((plan.d, cfg.train.d_steps), (plan.g, 1)):
        phases.append(Phase(name, name, plan.terms[name], repeat=repeat, after_update=plan.hooks.get(name, [])))
        for extra in plan.extra_phases:
            if extra.after == name:
                phases.append(Phase(extra.name, extra.net, extra.terms, every=extra.every, log_loss=extra.log_loss))
    return phases


class _Preview:
    """Sample grids from one fixed z (and, for a conditional G, the classes in order), so pictures at
    different steps are comparable."""

    def __init__(self, cfg: RunConfig, data: Dataset, device: torch.device, conditional: bool):
        count = cfg.log.sample_count
        self.z = Noise(cfg.model.z_dim, cfg.model.z_dist, device, seed=seeds.stream(cfg.seed, seeds.PREVIEW))(count)
        self.y = torch.arange(count, device=device) % data.num_classes if conditional else None
        self.kind, self.centers, self.dataset = data.kind, data.meta.get("centers"), cfg.data.name

    @torch.no_grad()
    def save(self, nets: dict[str, nn.Module], path: Path, step: int) -> Path:
        G = nets["G"]
        out = sampling.to_output(G(self.z, self.y), G.output_range)
        if self.kind == "image":
            return save_image_grid(out, path)
        return save_points_plot(out, path, centers=self.centers, title=f"{self.dataset}, step {step}")
