"""The semi-supervised GAN (Salimans et al. 2016): learning a classifier from a few labels and many unlabelled images.

D is a K-class classifier whose "fake" class has its logit fixed at 0
(:mod:`ganforge.objectives.semi_supervised`): it learns the labelled cross-entropy on the
``data.labels_per_class`` labelled images plus the real/fake terms on the rest of the training
set (unlabelled) and on G's samples. G is trained only by feature matching on D's last hidden
layer, which the paper found best for classification (its samples look worse than a minimax G's).

One step: D once on a class-balanced labelled batch, an unlabelled batch and a batch from G;
then G once against a second, independent unlabelled batch (openai/improved-gan draws the two
unlabelled streams apart too). With ``ema.beta`` set, ``D_ema`` (D's moving average) is what
evaluation and ``ganforge classify`` use. ``semi.unlabelled: 0`` leaves the unlabelled terms out:
the supervised-only baseline with the same D, data order and budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge import sampling
from ganforge.config import OptimConfig, RunConfig
from ganforge.config import reads as config_reads
from ganforge.data import Dataset
from ganforge.data.anomaly_protocols import is_protocol
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.objectives.feature_matching import feature_matching
from ganforge.objectives.semi_supervised import labelled_loss, prob_real, unlabelled_loss
from ganforge.recipes.base import Recipe, TrainingEnv, TrainingParts, refuse_distributed
from ganforge.training import seeds
from ganforge.training.batches import Noise, real_batches
from ganforge.training.shuffled import ShuffledBatches
from ganforge.training.phases import Phase, StepContext
from ganforge.training.rng import decode_rng, encode_rng
from ganforge.training.speed import to_channels_last
from ganforge.figures.drawing import save_image_grid

Tensor = torch.Tensor
INIT_BATCH = 500  # images D's data-dependent weight-norm init sees (improved-gan's trainx[:500])
TRAIN_SPLIT = "train"  # the only split a run trains on: it holds neither of the splits accuracy is reported on


def to_range(x: Tensor, output_range: tuple[float, float] | None) -> Tensor:
    """uint8 images -> floats in G's output range, the one scale D sees: labelled and unlabelled batches,
    its data-dependent init and every image it classifies afterwards (a [-1, 1] G with a [0, 1] D input
    was a D trained on two scales at once)."""
    lo, hi = output_range or (0.0, 1.0)
    return x.float().div_(255.0).mul_(hi - lo).add_(lo)  # for [0, 1] bitwise the x / 255 it was


def label_seed(cfg: RunConfig) -> int:
    """The seed of the labelled draw: ``data.label_seed``, else the run seed (split and init vary together)."""
    return cfg.data.label_seed if cfg.data.label_seed is not None else cfg.seed


def _images(n: int) -> str:
    return f"{n} training image{'' if n == 1 else 's'}"


def _cut_by_limit(n: int, limit: int | None) -> bool:
    """Whether data.limit is what left the training split at ``n`` images."""
    return limit is not None and n == limit


def _more_images(n: int, limit: int | None) -> str:
    return f"raise data.limit (now {limit})" if _cut_by_limit(n, limit) else "train on more images"


def _labels_that_fit(n: int, num_classes: int, smallest: int, batch_size: int | None) -> int:
    """The most labels per class every class can give that still leave one batch of the ``n`` images
    unlabelled (0 when even one per class leaves too few)."""
    if batch_size is None:
        return smallest
    return max(0, min(smallest, (n - batch_size) // num_classes))


def labelled_subset(y: np.ndarray, per_class: int, seed: int, *, batch_size: int | None = None,
                    limit: int | None = None) -> np.ndarray:
    """Sorted indices of ``per_class`` images of every class, drawn without replacement by ``seed``.

    Class-balanced by construction; the same (labels, per_class, seed) always gives the same subset.
    ``batch_size`` and ``limit`` (the run's train.batch_size and data.limit) only shape the advice when
    a class is too small: a count that leaves a batch of unlabelled images, and data.limit when it cut them.
    """
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < per_class:  # the smallest class bounds them all: suggest what every class can give
        c, smallest, n = classes[counts.argmin()], int(counts.min()), len(y)
        fit = _labels_that_fit(n, len(classes), smallest, batch_size)
        if fit >= 1:
            fix = f"set data.labels_per_class to at most {fit}"
            if fit < smallest:
                fix += f" (so that at least train.batch_size={batch_size} images stay unlabelled)"
        else:  # no count leaves a batch unlabelled at this batch size: name both
            fit = smallest if n - len(classes) * smallest >= 1 else smallest - 1
            fix = (f"set data.labels_per_class to at most {fit} and train.batch_size to at most "
                   f"{n - len(classes) * fit}") if fit >= 1 else ""
        if _cut_by_limit(n, limit) or not fix:
            fix += (", or " if fix else "") + _more_images(n, limit)
        among = f" among the {n} that data.limit={limit} keeps" if _cut_by_limit(n, limit) else ""
        raise ConfigError(f"data.labels_per_class={per_class} but class {c}, the smallest, has only "
                          f"{_images(smallest)}{among}; {fix}")
    rng = np.random.default_rng(seeds.stream(seed, seeds.LABEL_SPLIT))
    picked = []
    for c in classes:
        members = np.flatnonzero(y == c)
        picked.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(picked))


def check_unlabelled_pool(cfg: RunConfig, y: np.ndarray, labelled: int) -> None:
    """Refuse, in the recipe's own terms, an unlabelled pool (the training images left once the labelled
    ones are taken out) smaller than one batch. The labels-only baseline (``semi.unlabelled: 0``) draws
    it too: its data order and epoch count are the full recipe's."""
    n, bs = len(y), cfg.train.batch_size
    left = n - labelled
    if left >= bs:
        return
    counts = np.unique(y, return_counts=True)[1]
    fixes = []
    if (fit := _labels_that_fit(n, len(counts), int(counts.min()), bs)) >= 1:
        fixes.append(f"set data.labels_per_class to at most {fit}")
    if left >= 1:
        fixes.append(f"set train.batch_size to at most {left}")
    fixes.append(_more_images(n, cfg.data.limit))
    why = " (semi.unlabelled=0 still draws them: the baseline keeps the recipe's data order and epochs)" \
        if cfg.semi.unlabelled == 0 else ""
    raise ConfigError(f"{_images(n)} minus {labelled} labelled leave {left} unlabelled, fewer than "
                      f"train.batch_size={bs}{why}; {', or '.join(fixes)}")


class LabelledBatches:
    """Class-balanced minibatches of the labelled subset: ``max(1, round(batch_size / K))`` images of each
    class per batch (so the labelled batch is ``batch_size`` when K divides it, as for MNIST's 100 and 10).

    Each class's share is a fresh random order of that class's labelled images (repeated when the
    share is larger than the class), so every batch holds every class equally, as improved-gan's
    balanced label split does. Its own generator, checkpointed, like :class:`RealBatches`.
    """

    def __init__(self, x: Tensor, y: Tensor, num_classes: int, batch_size: int, seed: int, device: torch.device,
                 output_range: tuple[float, float] | None, channels_last: bool = False):
        self.x, self.y = x.to(device), y.to(device)
        self.output_range, self.channels_last = output_range, channels_last
        self.by_class = [torch.nonzero(y == c).flatten() for c in range(num_classes)]
        self.share, self.device = max(1, round(batch_size / num_classes)), device
        self._gen = torch.Generator().manual_seed(seed)

    def _take(self, members: Tensor) -> Tensor:
        rounds = math.ceil(self.share / len(members))
        order = torch.cat([torch.randperm(len(members), generator=self._gen) for _ in range(rounds)])
        return members[order[:self.share]]

    def next(self) -> tuple[Tensor, Tensor]:
        idx = torch.cat([self._take(m) for m in self.by_class]).to(self.device)
        x = to_range(self.x[idx], self.output_range)  # laid out as the unlabelled streams' batches and D's weights
        return (to_channels_last(x) if self.channels_last else x), self.y[idx]

    def state_dict(self) -> dict:
        return {"rng": encode_rng(self._gen.get_state())}

    def load_state_dict(self, state: dict) -> None:
        self._gen.set_state(decode_rng(state["rng"]))


@dataclass
class SemiSupervisedContext(StepContext):
    """Improved-GAN's step: labelled batches for the class term, two unlabelled streams (D's real/unlabelled
    term and feature matching's real side) and semi.unlabelled, the unsupervised term's weight (no default
    here: config holds it)."""

    labelled: LabelledBatches | None = None
    unlabelled: ShuffledBatches | None = None  # D's real/fake term
    unlabelled_g: ShuffledBatches | None = None  # the real side of G's feature matching
    noise: Noise | None = None
    batch_size: int = 0
    unlabelled_weight: float = field(kw_only=True)

    @property
    def epoch(self) -> int:
        return self.unlabelled.epoch


def d_term(ctx: SemiSupervisedContext) -> tuple[Tensor, dict[str, Tensor]]:
    """Labelled cross-entropy + the unlabelled real/fake terms (left out when their weight is 0)."""
    D = ctx.nets["D"]
    x_lab, y_lab = ctx.labelled.next()
    logits_lab = D.classify(D.features(x_lab))
    loss_lab = labelled_loss(logits_lab, y_lab)
    stats = {"loss_lab": loss_lab.detach(), "acc_lab": (logits_lab.argmax(1) == y_lab).float().mean().detach()}
    x_unl, _ = ctx.unlabelled.next()  # drawn in the baseline too: the same data order, and epochs that count
    if ctx.unlabelled_weight == 0:
        return loss_lab, stats
    with torch.no_grad():
        fake = ctx.nets["G"](ctx.noise(ctx.batch_size))
    logits_unl, logits_fake = D.classify(D.features(x_unl)), D.classify(D.features(fake))
    loss_unl = unlabelled_loss(logits_unl, logits_fake)
    stats.update(loss_unl=loss_unl.detach(), D_real=prob_real(logits_unl.detach()).mean(),
                 D_fake=prob_real(logits_fake.detach()).mean())
    return loss_lab + ctx.unlabelled_weight * loss_unl, stats


def g_term(ctx: SemiSupervisedContext) -> tuple[Tensor, dict[str, Tensor]]:
    """Feature matching on D's last hidden layer (D in training mode, its noise on, as in the reference)."""
    D = ctx.nets["D"]
    x_unl, _ = ctx.unlabelled_g.next()
    with torch.no_grad():
        f_real = D.features(x_unl)
    fm = feature_matching(f_real, D.features(ctx.forward_net("G")(ctx.noise(ctx.batch_size))))
    return fm, {"feature_matching": fm.detach()}


@dataclass
class SemiSupervisedModel:
    """A trained semi-supervised GAN: ``classify`` (D, its moving average when kept) and G's samples."""

    cfg: RunConfig
    nets: dict[str, nn.Module]
    num_classes: int

    @property
    def generator(self) -> nn.Module:
        return self.nets["G"]

    @property
    def classifier(self) -> nn.Module:
        return self.nets["D"]

    @torch.no_grad()
    def class_logits(self, x: Tensor, batch_size: int = 1000) -> Tensor:
        """The K class logits of images ``x``: uint8 (0..255), or floats already in G's output range (what
        :func:`ganforge.representation.features.to_d_input` gives), in batches, D in eval mode."""
        D = self.nets["D"]
        device = next(D.parameters()).device
        out = []
        for chunk in torch.split(x, batch_size):
            chunk = chunk.to(device)
            chunk = to_range(chunk, self.generator.output_range) if chunk.dtype == torch.uint8 else chunk.float()
            out.append(D.classify(D.features(chunk)).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, self.num_classes)

    def sample_chunks(self, n: int, *, seed: int = 0, device: str | torch.device = "cpu",
                      batch_size: int = 1000, **_: Any) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        m = self.cfg.model
        return sampling.generate_chunks(self.generator, n, z_dim=m.z_dim, z_dist=m.z_dist, seed=seed,
                                        batch_size=batch_size, device=device, conditional=False)


def _context(cfg: RunConfig, record: dict[str, Any]) -> NetContext:
    return NetContext(data_shape=tuple(record["data_shape"]), z_dim=cfg.model.z_dim, kind=record["kind"],
                      num_classes=record["num_classes"])


def check_classes(cfg: RunConfig, data: Dataset) -> None:
    """Refuse, before anything is written, training data that does not hold every class D learns: an anomaly
    protocol (its train split is one kind of image, the normal class) or a dataset where a class has no
    training image (its labelled batches would be empty)."""
    if is_protocol(cfg.data.name):
        raise ConfigError(f"the semi-supervised recipe learns every class from labelled training images, and "
                          f"'{cfg.data.name}' is an anomaly protocol whose train split holds normal images only; "
                          f"train it on a dataset with classes (e.g. --set data.name=mnist)")
    if data.y is None or data.num_classes is None:
        return  # no labels at all: networks() names that
    counts = np.bincount(data.y.numpy(), minlength=data.num_classes)
    missing = np.flatnonzero(counts == 0)
    if len(missing):
        names = data.meta.get("class_names") or [str(c) for c in range(data.num_classes)]
        which = ", ".join(str(names[c]) for c in missing)
        raise ConfigError(f"the semi-supervised recipe needs training images of every class, and "
                          f"'{cfg.data.name}' has none of class {which} ({len(missing)} of {data.num_classes} "
                          f"classes); choose a dataset with training images of every class")


class SemiSupervised(Recipe):
    """The semi-supervised GAN (Salimans et al. 2016): a K-class D that also tells real from fake, and a G
    trained by feature matching, on a few labelled images and many unlabelled ones.

    Its own recipe because its D is the product: the trained model classifies (``ganforge classify``), its
    data are a class-balanced labelled subset beside unlabelled streams, and its losses (labelled
    cross-entropy, the unlabelled terms on D's K logits) are none of noise-to-image's.
    """

    name = "semi-supervised"
    description = "a K-class D that also tells real from fake, trained on few labels and many unlabelled images"
    reads = config_reads.union({"model": config_reads.every("model"), "semi": config_reads.every("semi"),
                                "optim": {"g", "d"}, "data": {"labels_per_class", "label_seed"}},
                               config_reads.D_COLLAPSE)
    next_command = "ganforge classify {run} --input X.npy --out predictions.npy"

    def networks(self, cfg: RunConfig, data: Dataset) -> tuple[dict[str, nn.Module], dict[str, Any]]:
        check_classes(cfg, data)
        if data.y is None or data.num_classes is None or data.kind != "image":
            raise ConfigError(f"the semi-supervised recipe needs labelled images, and '{cfg.data.name}' has none; "
                              f"use a dataset with classes (e.g. mnist)")
        if cfg.data.split != TRAIN_SPLIT:  # accuracy is reported on valid and test, which train holds neither of
            raise ConfigError(f"the semi-supervised recipe trains on the train split and reports its accuracy on "
                              f"valid and test, and data.split={cfg.data.split} would train on images it is then "
                              f"measured on; set data.split={TRAIN_SPLIT}")
        record = {"data_shape": list(data.shape), "kind": data.kind, "num_classes": data.num_classes,
                  "labels_per_class": cfg.data.labels_per_class, "label_seed": label_seed(cfg)}
        ctx = _context(cfg, record)
        G, D = build_generator(cfg.model.g, ctx), build_discriminator(cfg.model.d, ctx)
        if hasattr(D, "init_from_data"):  # weight norm's data-dependent init, on the first images
            D.init_from_data(to_range(data.x[:INIT_BATCH], G.output_range))
        if hasattr(G, "init_from_noise"):  # the same for G's output layer, on one batch of z
            z = Noise(cfg.model.z_dim, cfg.model.z_dist, torch.device("cpu"), seed=seeds.stream(cfg.seed, seeds.G_INIT))
            G.init_from_noise(z(cfg.train.batch_size))
        return {"G": G, "D": D}, record

    def rebuild(self, cfg: RunConfig, record: dict[str, Any]) -> dict[str, nn.Module]:
        ctx = _context(cfg, record)
        return {"G": build_generator(cfg.model.g, ctx), "D": build_discriminator(cfg.model.d, ctx)}

    def optimized(self, cfg: RunConfig) -> dict[str, OptimConfig]:
        return {"G": cfg.optim.g, "D": cfg.optim.d}

    def averaged(self) -> dict[str, str]:
        return {"D": "D_ema"}  # an exponential moving average of the classifier, for evaluation

    def model(self, cfg: RunConfig, record: dict[str, Any], nets: dict[str, nn.Module]) -> SemiSupervisedModel:
        return SemiSupervisedModel(cfg, nets, record["num_classes"])

    def training(self, env: TrainingEnv) -> TrainingParts:
        cfg, data, device = env.cfg, env.data, env.device
        refuse_distributed(env, "the semi-supervised recipe", fix="start it with ganforge train, not torchrun")
        if not hasattr(env.nets["D"], "classify"):
            raise ConfigError(f"the semi-supervised recipe needs a classifying D (model.d.arch ssgan-mlp or "
                              f"ssgan-conv), and '{cfg.model.d.arch}' has no class outputs")
        y = data.y.numpy()
        per_class = cfg.data.labels_per_class
        bs = cfg.train.batch_size
        lab = labelled_subset(y, per_class, label_seed(cfg), batch_size=bs, limit=cfg.data.limit) if per_class \
            else np.arange(len(y))
        if per_class:  # (with every label used the pool is the whole split, and ShuffledBatches names it)
            check_unlabelled_pool(cfg, y, len(lab))
        rest = np.setdiff1d(np.arange(len(y)), lab) if per_class else lab
        lab_t, rest_t = torch.from_numpy(lab), torch.from_numpy(rest)
        rng_out = env.nets["G"].output_range
        labelled = LabelledBatches(data.x[lab_t], data.y[lab_t], data.num_classes, bs,
                                   seeds.stream(cfg.seed, seeds.LABELLED), device, rng_out, env.channels_last)
        unl = real_batches(data.x[rest_t], None, bs, seed=seeds.stream(cfg.seed, seeds.REAL_BATCHES), device=device,
                          output_range=rng_out, channels_last=env.channels_last)
        unl_g = real_batches(data.x[rest_t], None, bs, seed=seeds.stream(cfg.seed, seeds.UNLABELLED_G),
                            device=device, output_range=rng_out, channels_last=env.channels_last)
        noise = Noise(cfg.model.z_dim, cfg.model.z_dist, device, seed=seeds.stream(cfg.seed, seeds.NOISE))
        ctx = SemiSupervisedContext(nets=env.nets, optimizers=env.optimizers, schedules=env.schedules,
                                    labelled=labelled, unlabelled=unl, unlabelled_g=unl_g, noise=noise,
                                    batch_size=env.local_batch, unlabelled_weight=cfg.semi.unlabelled)
        phases = [Phase("D", "D", [d_term]), Phase("G", "G", [g_term])]
        preview_z = Noise(cfg.model.z_dim, cfg.model.z_dist, device,
                          seed=seeds.stream(cfg.seed, seeds.PREVIEW))(cfg.log.sample_count)

        @torch.no_grad()
        def save_preview(nets: dict[str, nn.Module], path: Path, step: int) -> Path:
            G = nets["G"]
            return save_image_grid(sampling.to_output(G(preview_z), G.output_range), path)

        return TrainingParts(context=ctx, phases=phases,
                             streams={"real": unl, "real_g": unl_g, "labelled": labelled, "noise": noise},
                             epochs_done=lambda: unl.epochs_done, save_preview=save_preview,
                             reseed=lambda base: noise.reseed(seeds.stream(base, seeds.NOISE)))
