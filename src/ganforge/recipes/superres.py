"""Super-resolution recipes: ``srresnet`` (G alone, a pixel loss) and ``srgan`` (G against a D).

A step draws one batch of (LR, HR) crops, shared by D's and G's phases (as in SRGAN, both see
the same minibatch): random HR crops (``superres.hr_crop``) of any image dataset, shrunk by the
generator's scale with :func:`ganforge.data.superres.downsample`, the one degradation the
metrics and ``upscale --bicubic`` use too. Datasets with a paired domain B (the ``pairs:LR,HR``
loader) give real LR/HR pairs instead: ``x`` is LR and ``b.x`` its HR target, cropped at the
same place.

SRGAN starts from a trained SRResNet, as published: ``superres.init_g`` names that run (or one
of its checkpoints) and its G is loaded, its checksum verified, before the first step; the
record keeps where it came from. The trained model *upscales*; it has no noise to sample from,
so ``ganforge sample`` on such a run says to use ``ganforge upscale``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from safetensors.torch import load_file
from torch import nn

from ganforge.config import NetSpec, OptimConfig, RunConfig, load_yaml
from ganforge.config import from_dict as config_from_dict
from ganforge.config import reads as config_reads
from ganforge.data import Dataset
from ganforge.data.superres import bicubic_up, downsample, to_uint8
from ganforge.download import sha256_file
from ganforge.errors import CheckpointError, ConfigError, GanforgeError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets.registry import options as registry_options
from ganforge import objectives
from ganforge.objectives import superres as sr_loss
from ganforge.objectives.adversarial import d_shown
from ganforge import capabilities as cap
from ganforge.recipes.base import DdpModule, Recipe, TrainingEnv, TrainingParts
from ganforge.run_layout import CHECKPOINTS
from ganforge.training import seeds
from ganforge.training.crops import CropBatches
from ganforge.training.phases import Phase, StepContext
from ganforge.training.step_batch import StepBatch
from ganforge.figures.drawing import save_image_grid

Tensor = torch.Tensor
PREVIEW_IMAGES = 8


# superres.adversarial -> (loss.d, loss.g) entries of the one adversarial-loss registry (objectives/losses.py):
# SRGAN's plain GAN losses, or ESRGAN's relativistic average pair.
ADVERSARIAL = {"plain": ("minimax", "non-saturating"), "relativistic": ("relativistic", "relativistic")}


@dataclass
class SRContext(StepContext):
    batches: CropBatches | None = None
    drawn: StepBatch | None = field(default=None, repr=False)  # this step's (LR, HR) from ``batches``
    cfg: RunConfig | None = None
    features: nn.Module | None = None  # VGG19 for feature_loss=vgg19
    d_loss: objectives.DLoss | None = None  # superres.adversarial's pair, from the one registry
    g_loss: objectives.GLoss | None = None

    @property
    def epoch(self) -> int:
        return self.batches.epoch

    def lr_hr(self) -> tuple[Tensor, Tensor]:
        """This step's (LR, HR) batch: drawn once per step, so D and G see the same images."""
        return self.drawn.at(self.draw_key)


def g_term(adversarial: bool, ctx: SRContext) -> tuple[Tensor, dict[str, Tensor]]:
    s = ctx.cfg.superres
    lr, hr = ctx.lr_hr()
    sr = ctx.forward_net("G")(lr)
    pixel = sr_loss.pixel_loss(s.pixel_loss, sr, hr)
    loss, stats = s.pixel_weight * pixel, {f"pixel_{s.pixel_loss}": pixel.detach()}
    if s.feature_loss != "none" and s.feature_weight > 0:
        if s.feature_loss == "vgg19":
            feat, name = sr_loss.feature_loss(ctx.features, sr, hr), "feat_vgg19"
        else:
            feat, name = sr_loss.feature_loss(ctx.nets["D"].feature_maps, sr, hr), "feat_dconv"
        loss = loss + s.feature_weight * feat
        stats[name] = feat.detach()
    if adversarial:
        D = ctx.nets["D"]
        fake, real = D(sr).float(), None
        if ctx.g_loss.needs_real:  # relativistic: judged against D's view of HR (no gradient into G from it)
            with torch.no_grad():
                real = D(hr).float()
        adv = ctx.g_loss(fake, real)
        loss = loss + s.adversarial_weight * adv
        stats["g_adversarial"] = adv.detach()
    return loss, stats


def d_term(ctx: SRContext) -> tuple[Tensor, dict[str, Tensor]]:
    """D's update on an HR crop against G's SR of its LR. It logs ``D_real``/``D_fake`` under the names every
    recipe uses (the progress line, curves.png's D panel), through the loss's ``shown``: a probability for
    minimax, the raw logit for relativistic (it logged the sigmoid of either, as ``D(x)``/``D(G(lr))``)."""
    lr, hr = ctx.lr_hr()
    with torch.no_grad():
        sr = ctx.nets["G"](lr)
    D = ctx.forward_net("D")
    real, fake = D(hr).float(), D(sr).float()
    loss = ctx.d_loss(real, fake)
    return loss, d_shown(ctx, real, fake)


@dataclass
class SuperresModel:
    """A trained SR generator: :meth:`upscale` maps LR floats in [0, 1] to SR floats in [0, 1]."""

    cfg: RunConfig
    nets: dict[str, nn.Module]
    record: dict[str, Any]
    capabilities = frozenset({cap.UPSCALE})

    @property
    def generator(self) -> nn.Module:
        return self.nets["G"]

    @property
    def scale(self) -> int:
        return int(self.generator.scale)

    @property
    def channels(self) -> int:
        return int(self.generator.image_channels)

    @property
    def receptive_radius(self) -> int:
        return int(self.generator.receptive_radius)

    @torch.no_grad()
    def upscale(self, lr: Tensor) -> Tensor:
        return self.generator(lr).clamp_(0, 1)

    def sample_chunks(self, n: int, *, seed: int = 0, device: str | torch.device = "cpu",
                      **options: Any) -> Iterator[tuple[np.ndarray, None]]:
        raise GanforgeError(f"a {self.cfg.recipe} run upscales images and has no noise to sample from; use "
                            f"ganforge upscale RUN --input IMAGE --out OUT")


def resolve_checkpoint(path: str) -> Path:
    """A run directory (its newest step checkpoint) or a checkpoint directory -> the checkpoint directory."""
    p = Path(path).expanduser()
    if (p / "manifest.json").is_file():
        return p
    steps = sorted(d for d in (p / CHECKPOINTS).glob("step-*") if (d / "manifest.json").is_file())
    if not steps:
        raise ConfigError(f"superres.init_g={path} is neither a run directory with a checkpoint nor a checkpoint "
                          f"directory; give the directory a srresnet run was trained into")
    return steps[-1]


def _check_same_g(ckpt: Path, spec: NetSpec) -> None:
    """One line when the run ``ckpt`` belongs to built its G with other ``model.g`` options than ``spec``:
    options without weights (``upsample_blur``) load silently into a G that computes something else."""
    try:
        source_cfg = config_from_dict(load_yaml((ckpt.parent.parent / "config.yaml").read_text()))
        source, source_recipe = source_cfg.model.g, source_cfg.recipe
    except (OSError, GanforgeError, yaml.YAMLError, AttributeError, TypeError):
        return  # a bare checkpoint directory, or no readable config: the weights' shapes are still checked
    if source.arch != spec.arch:
        if source_recipe not in {r.name for r in _SuperresRecipe.__subclasses__()}:
            # not a super-resolution G at all: model.g.arch=<it> could not build here, so name the input to change
            raise ConfigError(f"superres.init_g: {ckpt} is from a {source_recipe} run (model.g.arch={source.arch}), "
                              f"not a super-resolution one; give a srresnet (or srgan) run as superres.init_g")
        raise ConfigError(f"superres.init_g: {ckpt} holds a model.g.arch={source.arch} G, and this run builds "
                          f"{spec.arch}; set --set model.g.arch={source.arch}")
    defaults = registry_options("generator", spec.arch)
    theirs, ours = {**defaults, **source.options}, {**defaults, **spec.options}
    differ = [k for k in sorted(set(theirs) | set(ours)) if theirs.get(k) != ours.get(k)]
    if differ:
        k = differ[0]
        raise ConfigError(f"superres.init_g: {ckpt}'s G was trained with model.g.{k}={theirs.get(k)}, and this run "
                          f"builds model.g.{k}={ours.get(k)}" + (f" (and {len(differ) - 1} more)" if differ[1:] else "")
                          + f"; --set model.g.{k}={theirs.get(k)} so that the weights mean what they meant")


def load_pretrained_g(G: nn.Module, path: str, spec: NetSpec | None = None) -> dict[str, Any]:
    """Load G's weights from a trained run's checkpoint (checksum checked; with ``spec``, the run's ``model.g``
    checked against it first); what was loaded, for the record."""
    ckpt = resolve_checkpoint(path)
    if spec is not None:
        _check_same_g(ckpt, spec)
    weights = ckpt / "G.safetensors"
    try:
        expected = json.loads((ckpt / "manifest.json").read_text())["files"]["G.safetensors"]
    except (OSError, ValueError, KeyError):
        raise ConfigError(f"superres.init_g: {ckpt} has no G weights in its manifest; give a srresnet run") from None
    digest = sha256_file(weights)
    if digest != expected:
        raise CheckpointError(f"{weights} does not match its checksum in {ckpt / 'manifest.json'}; the file is "
                              f"damaged: give another checkpoint as superres.init_g")
    try:
        G.load_state_dict(load_file(str(weights)))
    except RuntimeError as e:
        raise ConfigError(f"superres.init_g: the G in {ckpt} does not fit model.g ({str(e).splitlines()[0][:100]}); "
                          f"give the same model.g options as the srresnet run") from None
    return {"path": str(ckpt.resolve()), "sha256": digest}


class _SuperresRecipe(Recipe):
    """What srresnet and srgan share: G maps an LR crop to its HR original, trained on (LR, HR) crops, and the
    trained model upscales rather than samples. Its own family because nothing is drawn from noise: the data
    are crop pairs (:class:`CropBatches`), the loss is a pixel (and feature) distance to the HR truth, and the
    run is measured by ``ganforge upscale --eval``."""

    adversarial = False
    next_command = "ganforge upscale {run} --input IMAGE --out OUT.png   (or --eval skimage-photos for an RGB run)"
    eval_command = "ganforge upscale {run} --eval skimage-photos"

    def _context(self, cfg: RunConfig, record: dict[str, Any]) -> NetContext:
        return NetContext(data_shape=tuple(record["data_shape"]), z_dim=cfg.model.z_dim, kind="image")

    def rebuild(self, cfg: RunConfig, record: dict[str, Any]) -> dict[str, nn.Module]:
        ctx = self._context(cfg, record)
        G = build_generator(cfg.model.g, ctx)
        if not hasattr(G, "scale"):
            raise ConfigError(f"recipe {self.name} needs a super-resolution generator: set model.g.arch=srresnet "
                              f"(got '{cfg.model.g.arch}')")
        nets = {"G": G}
        if self.adversarial:
            nets["D"] = build_discriminator(cfg.model.d, ctx)
            if not hasattr(nets["D"], "feature_maps"):
                raise ConfigError(f"recipe {self.name} needs an image-to-score D: set model.d.arch=sr-vgg "
                                  f"(got '{cfg.model.d.arch}')")
        elif cfg.superres.feature_loss == "d-features":
            raise ConfigError("superres.feature_loss=d-features needs the srgan recipe's D; use feature_loss=none "
                              "or vgg19 with srresnet")
        return nets

    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        vgg = cfg.superres.feature_loss == "vgg19" and cfg.superres.feature_weight > 0
        if vgg and not cfg.superres.vgg19_weights:
            raise ConfigError("superres.feature_loss=vgg19 needs VGG19 weights: set superres.vgg19_weights=PATH "
                              f"({sr_loss.VGG19_URL}), or use superres.feature_loss=d-features (no download)")
        vgg_sha = sr_loss.check_vgg19_file(cfg.superres.vgg19_weights, cfg.superres.vgg19_sha256) if vgg else None
        hr = _hr_images(data)
        crop = cfg.superres.hr_crop or min(hr.shape[-2:])
        record = {"data_shape": [hr.shape[1], crop, crop], "kind": "image", "num_classes": None}
        nets = self.rebuild(cfg, record)
        scale = nets["G"].scale
        _check_crop(cfg, data, hr, crop, scale)
        record["scale"] = scale
        if vgg_sha:
            record["vgg19_sha256"] = vgg_sha
        if cfg.superres.init_g:
            record["init_g"] = load_pretrained_g(nets["G"], cfg.superres.init_g, cfg.model.g)
        elif self.adversarial:
            print("ganforge: note: srgan starts from random weights; the published SRGAN starts from a trained "
                  "SRResNet: set superres.init_g=RUN_DIR of a srresnet run", file=sys.stderr)
        return nets, record

    def optimized(self, cfg: RunConfig) -> dict[str, OptimConfig]:
        return {"G": cfg.optim.g, **({"D": cfg.optim.d} if self.adversarial else {})}

    def averaged(self) -> dict[str, str]:
        return {"G": "G_ema"}

    def model(self, cfg: RunConfig, record: dict[str, Any], nets: dict[str, nn.Module]) -> SuperresModel:
        return SuperresModel(cfg, nets, record)

    def training(self, env: TrainingEnv) -> TrainingParts:
        cfg, data, world, device = env.cfg, env.data, env.world, env.device
        G = env.nets["G"]
        hr = _hr_images(data)
        crop = cfg.superres.hr_crop or min(hr.shape[-2:])
        paired_lr = data.x if _paired(data) else None
        batches = CropBatches(hr, paired_lr, cfg.train.batch_size, crop, G.scale,
                              seeds.stream(cfg.seed, seeds.REAL_BATCHES), device, rank=world.rank,
                              world_size=world.size, augment=cfg.superres.augment)
        features = None
        if cfg.superres.feature_loss == "vgg19" and cfg.superres.feature_weight > 0:
            features = sr_loss.load_vgg19(cfg.superres.vgg19_weights, cfg.superres.vgg19_sha256)[0].to(device)
        d_name, g_name = ADVERSARIAL[cfg.superres.adversarial]
        ctx = SRContext(nets=env.nets, optimizers=env.optimizers, schedules=env.schedules, batches=batches,
                        drawn=StepBatch(batches.next), cfg=cfg, features=features,
                        d_loss=objectives.D_LOSSES[d_name], g_loss=objectives.G_LOSSES[g_name])
        phases = [Phase("G", "G", [partial(g_term, self.adversarial)])]
        if self.adversarial:
            phases.insert(0, Phase("D", "D", [d_term], repeat=cfg.train.d_steps))
        preview = _preview_batch(hr, paired_lr, crop, G.scale, device)

        def save_preview(nets: dict[str, nn.Module], path: Path, step: int) -> Path:
            lr, truth = preview
            with torch.no_grad():
                out = nets["G"](lr).clamp(0, 1)
            rows = torch.cat([bicubic_up(lr, G.scale), out, truth])
            return save_image_grid(to_uint8(rows).cpu().numpy(), path, nrow=len(lr),
                                   title=f"bicubic / {self.name} / truth, step {step}")

        targets = [("G", "forward")] + ([("D", "forward")] if self.adversarial else [])
        return TrainingParts(context=ctx, phases=phases, streams={"real": batches},
                             epochs_done=lambda: batches.epochs_done, save_preview=save_preview,
                             ddp=lambda: {name: DdpModule(net) for name, net in env.nets.items()},
                             compile_targets=targets)


def _paired(data: Dataset) -> bool:
    return getattr(data, "b", None) is not None and bool(getattr(data, "paired", False))


def _hr_images(data: Dataset) -> Tensor:
    """The HR images: domain B of a paired dataset, else the images themselves."""
    if data.kind != "image":
        raise ConfigError(f"super-resolution needs images, and '{data.name}' holds {data.kind}; use an image "
                          f"dataset (cifar10-jpeg, mnist, folder:PATH, pairs:LR_DIR,HR_DIR)")
    if getattr(data, "b", None) is not None and not _paired(data):
        raise ConfigError(f"'{data.name}' is unpaired; super-resolution from real pairs needs pairs:LR_DIR,HR_DIR "
                          f"(or one image folder, shrunk on the fly)")
    return data.b.x if _paired(data) else data.x


def _check_crop(cfg: RunConfig, data: Dataset, hr: Tensor, crop: int, scale: int) -> None:
    h, w = hr.shape[-2:]
    if crop % scale:
        raise ConfigError(f"superres.hr_crop={crop} is not a multiple of the scale {scale}; set it to "
                          f"{crop - crop % scale or scale}")
    if crop > min(h, w):
        raise ConfigError(f"superres.hr_crop={crop} is larger than the training images ({w}x{h}); set "
                          f"superres.hr_crop to at most {min(h, w) - min(h, w) % scale}")
    if _paired(data) and tuple(data.x.shape[-2:]) != (h // scale, w // scale):
        raise ConfigError(f"the LR images are {data.x.shape[-1]}x{data.x.shape[-2]} and the HR images {w}x{h}, which "
                          f"is not x{scale} (model.g.scale); give pairs whose HR side is {scale}x the LR side")


def _preview_batch(hr: Tensor, lr: Tensor | None, crop: int, scale: int, device: torch.device
                   ) -> tuple[Tensor, Tensor]:
    """Fixed centre crops of the first images, so pictures at different steps are comparable."""
    n = min(PREVIEW_IMAGES, len(hr))
    c = crop // scale
    top, left = (hr.shape[-2] // scale - c) // 2, (hr.shape[-1] // scale - c) // 2
    truth = hr[:n, :, top * scale:(top + c) * scale, left * scale:(left + c) * scale].float().div(255).to(device)
    small = lr[:n, :, top:top + c, left:left + c].float().div(255).to(device) if lr is not None else None
    return (small if small is not None else downsample(truth, scale)), truth


class SRResNetRecipe(_SuperresRecipe):
    """SRResNet: the super-resolution G alone, on a pixel (and optional feature) loss; the usual start of srgan."""

    name = "srresnet"
    description = "super-resolution G trained on a pixel loss (SRResNet, Ledig et al. 2017)"
    # no D: no adversarial term, no D updates; the scale is model.g's own, so no z or loss section
    reads = {"model": {"g"}, "optim": {"g"},
             "superres": config_reads.every("superres") - {"adversarial", "adversarial_weight"}}


class SRGANRecipe(_SuperresRecipe):
    """SRGAN: the same G against a D that tells HR crops from G's outputs, usually from a trained SRResNet's G
    (``superres.init_g``); a recipe apart from srresnet because it builds, trains and reads the config of a D."""

    name = "srgan"
    description = "super-resolution G against a D, from a trained SRResNet (SRGAN, Ledig et al. 2017)"
    reads = {"model": {"g", "d"}, "optim": {"g", "d"}, "superres": config_reads.every("superres"),
             "train": {"d_steps"}}
    adversarial = True


__all__ = ["CropBatches", "SRGANRecipe", "SRResNetRecipe", "SuperresModel", "load_pretrained_g"]
