"""Anomaly scores from a trained run: one number and one residual map per image.

Three methods, each a :class:`Scorer` over an opened run (:func:`ganforge.runs.run.load_run`):

- ``anogan`` (Schlegl et al. 2017): for each image, search G's latent space for the code whose
  image is closest: Adam on z for ``anomaly.anogan_steps`` steps (500 in the reference code)
  on (1 - lambda) * residual + lambda * discrimination, residual = sum |x - G(z)|,
  discrimination = sum |f(x) - f(G(z))| on D's penultimate features, lambda = 0.1. The final
  value of that loss is the score. Works on any unconditional noise-to-image run (a DCGAN,
  the WGAN-GP inside an f-AnoGAN run, ...). All images of a batch are searched at once: the
  loss is a sum of per-image terms and Adam is element-wise, so each z moves as if alone.
- ``fanogan`` (Schlegl et al. 2019): z = E(x) in one pass; score = MSE(x, G(z)) + kappa *
  MSE(f(x), f(G(z))), the izi_f loss the encoder was trained on.
- ``ganomaly`` (Akcay et al. 2018): score = ||E1(x) - E2(G(E1(x)))||^2 (mean over the code).

The residual map is |x - reconstruction| averaged over channels, in units of the image's
range (0 = identical, 1 = black where white was): an absolute scale, the same for every set
of images. Networks run in eval mode, so a score never depends on the other images of its
batch, and AnoGAN's search starts every image from one code drawn from ``seed``, so an image's score
is its own: the same seed gives the same scores, and reordering the images of a batch gives exactly the
same scores. Scored alone (``serve``'s /v1/score) or in a batch of another size, an image's score is the
same up to float rounding: batched convolutions round differently, and AnoGAN's search amplifies that
over its steps (about 0.2% after 500 steps in one probe; f-AnoGAN and GANomaly, one pass, about 1e-7).
(Codes drawn per batch from its start index had made the score of an image depend on where it stood
among the others.)
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.errors import DataError, GanforgeError, did_you_mean
from ganforge import capabilities as cap
from ganforge.runs.run import Run
from ganforge.sampling import from_uint8, sample_noise

Tensor = torch.Tensor
BATCH = 500  # images scored at once: AnoGAN's search holds a batch's codes and activations


class AnomalyError(GanforgeError):
    """Anomaly scoring or evaluation was asked for something the run or the input cannot give."""


@dataclass
class Scores:
    """What :meth:`Scorer.score` returns: one score per image and its residual map, as numpy arrays, since
    what follows (thresholds, ROC curves, written maps and JSON) runs on the CPU.
    """

    score: np.ndarray  # (N,) float64: higher = more anomalous
    residual: np.ndarray  # (N, H, W) float32 in [0, 1]: |x - reconstruction|, channel mean


def check_images(x: np.ndarray, shape: tuple[int, ...], where: str) -> np.ndarray:
    """``x`` as uint8 (N, C, H, W) matching the run's image shape ``shape``, or one line saying why not."""
    c, h, w = shape
    if x.dtype != np.uint8:
        raise DataError(f"{where} holds {x.dtype} values; give uint8 images (N, C, H, W) with values 0-255, as "
                        f"`ganforge sample` writes them")
    if x.ndim == 3 and c == 1:
        x = x[:, None]
    if x.ndim != 4 or len(x) == 0:
        raise DataError(f"{where} has shape {x.shape}; give a non-empty stack of images (N, {c}, {h}, {w})")
    if tuple(x.shape[1:]) != (c, h, w):
        raise DataError(f"{where} holds {x.shape[1]}x{x.shape[2]}x{x.shape[3]} images (channels x height x width) "
                        f"but the run was trained on {c}x{h}x{w}; convert and resize them to {c}x{h}x{w} first")
    return x


class Scorer(abc.ABC):
    """Scores images with one trained run; subclasses say which runs they can use."""

    method = ""

    def __init__(self, run: Run, seed: int = 0):
        self.check(run)
        self.run, self.seed = run, seed
        self.G = run.model.generator
        self.lo, self.hi = self.G.output_range
        self.shape = tuple(run.state["net_context"]["data_shape"])

    @classmethod
    def check(cls, run: Run) -> None:
        """One-line AnomalyError when this method cannot score with ``run``: the run's model declares the
        methods it scores by (``scoring_methods``, with the ``score`` capability), first its own."""
        methods = _methods(run)
        if cls.method not in methods:
            raise AnomalyError(f"{cls.method} scoring cannot use {run.path}, a '{run.config.recipe}' run, which "
                               f"scores by {' or '.join(methods)}; use --method {methods[0]}")

    @abc.abstractmethod
    def score_batch(self, x: Tensor, start: int) -> tuple[Tensor, Tensor]:
        """(scores (N,), reconstructions in the model's range) of the batch of scaled images ``x``."""

    def to_model(self, x: np.ndarray) -> Tensor:
        return from_uint8(torch.from_numpy(np.ascontiguousarray(x)).to(self.run.device), (self.lo, self.hi))

    def batches(self, x: np.ndarray, batch_size: int) -> Iterator[tuple[int, np.ndarray]]:
        for start in range(0, len(x), batch_size):
            yield start, x[start:start + batch_size]

    def score(self, images: np.ndarray, *, where: str = "the input", batch_size: int = BATCH) -> Scores:
        x = check_images(images, self.shape, where)
        scores, maps = [], []
        for start, chunk in self.batches(x, batch_size):
            t = self.to_model(chunk)
            s, rec = self.score_batch(t, start)
            scores.append(s.detach().double().cpu().numpy())
            self._check_finite(scores[-1], where, start)
            maps.append(((t - rec).abs().mean(1) / (self.hi - self.lo)).clamp(0, 1).detach().cpu().numpy())
        return Scores(np.concatenate(scores), np.concatenate(maps).astype(np.float32))


    def _check_finite(self, s: np.ndarray, where: str, start: int) -> None:
        """One line, before any output is written, when a batch's scores are NaN/inf: the networks gave them
        (the images are uint8, always finite), so the run's weights at this checkpoint have diverged."""
        bad = int((~np.isfinite(s)).sum())
        if bad:
            run = self.run
            raise AnomalyError(f"{bad} of {len(s)} {self.method} scores of {where} (images {start}-{start + len(s) - 1}) "
                               f"are NaN or infinite: the networks of {run.path} at step {run.step} "
                               f"({run.checkpoint.name}) do not give finite values; score an earlier checkpoint "
                               f"with --checkpoint {run.path}/checkpoints/step-NNNNNNN, or retrain with a lower lr")


def _features(D: torch.nn.Module, x: Tensor) -> Tensor:
    return D.features(x).flatten(1)


class AnoGANScorer(Scorer):
    """AnoGAN's score: a search of G's latent space per image (Adam on z for ``anomaly.anogan_steps`` steps);
    the score is the final value of (1 - lambda) * residual + lambda * discrimination.

    Every image starts from the same code drawn from ``seed`` and the loss is a sum of per-image terms, so
    a whole batch is searched at once and each image's score is still its own. G's and D's parameters are
    frozen for the search only and their ``requires_grad`` flags restored, since an API user's run may keep
    training; under ``z_dist: uniform`` z is clamped to the prior's support.
    """

    method = "anogan"

    def score_batch(self, x: Tensor, start: int) -> tuple[Tensor, Tensor]:
        cfg, D = self.run.config, self.run.model.nets["D"]
        a = cfg.anomaly
        gen = torch.Generator(device=x.device).manual_seed(self.seed)
        start_code = sample_noise(1, cfg.model.z_dim, cfg.model.z_dist, x.device, gen)  # every image's (see above)
        z = start_code.expand(len(x), -1).clone().requires_grad_(True)
        limit = math.sqrt(3.0) if cfg.model.z_dist == "uniform" else None  # stay inside U's support
        opt = torch.optim.Adam([z], lr=a.anogan_lr)
        with torch.no_grad():
            fx = _features(D, x)
        # only z is optimised: G's and D's parameters are frozen for the search and given back as they were
        # (an API user's run keeps training afterwards with its own requires_grad flags)
        frozen = [(p, p.requires_grad) for net in (self.G, D) for p in net.parameters()]
        try:
            for p, _ in frozen:
                p.requires_grad_(False)
            for _ in range(a.anogan_steps):
                loss = self._loss(x, fx, z, D, a.anogan_lambda)
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                opt.step()
                if limit is not None:
                    with torch.no_grad():
                        z.clamp_(-limit, limit)
            with torch.no_grad():
                return self._loss(x, fx, z, D, a.anogan_lambda), self.G(z)
        finally:
            for p, flag in frozen:
                p.requires_grad_(flag)

    def _loss(self, x: Tensor, fx: Tensor, z: Tensor, D: torch.nn.Module, lam: float) -> Tensor:
        rec = self.G(z)
        residual = (x - rec).abs().flatten(1).sum(1)
        discrimination = (fx - _features(D, rec)).abs().sum(1)
        return (1 - lam) * residual + lam * discrimination


class FAnoGANScorer(Scorer):
    """f-AnoGAN's score: one encoder pass z = E(x), then MSE(x, G(z)) + ``anomaly.kappa`` * MSE of D's features,
    the izi_f loss the encoder was trained on.

    No latent search, so scoring costs one pass of E, G and D; it needs a run that trained an encoder
    (``fanogan``).
    """

    method = "fanogan"

    @torch.no_grad()
    def score_batch(self, x: Tensor, start: int) -> tuple[Tensor, Tensor]:
        D, E = self.run.model.nets["D"], self.run.model.encoder
        rec = self.G(E(x))
        image = (x - rec).pow(2).flatten(1).mean(1)
        feature = (_features(D, x) - _features(D, rec)).pow(2).mean(1)
        return image + self.run.config.anomaly.kappa * feature, rec


class GanomalyScorer(Scorer):
    """GANomaly's score: the mean squared distance between the image's code E1(x) and its reconstruction's
    code E2(G(E1(x))), the paper's choice of scoring in code space.

    G is the encoder-decoder-encoder (:class:`~ganforge.nets.encoder.EncoderDecoderEncoder`), which returns
    the reconstruction and both codes in one pass; the residual map still compares pixels.
    """

    method = "ganomaly"

    @torch.no_grad()
    def score_batch(self, x: Tensor, start: int) -> tuple[Tensor, Tensor]:
        rec, z, z_hat = self.G(x)
        return F.mse_loss(z_hat, z, reduction="none").mean(1), rec


METHODS: dict[str, type[Scorer]] = {"anogan": AnoGANScorer, "fanogan": FAnoGANScorer, "ganomaly": GanomalyScorer}


def _methods(run: Run) -> tuple[str, ...]:
    """The scoring methods the run's model declares, or one line naming what the run can do instead."""
    if cap.SCORE not in cap.capabilities_of(run.model):
        why = ("it was trained on points, not images" if cap.TOY2D in cap.capabilities_of(run.model) else
               "a class-conditional G has no single latent search (train an unconditional preset, e.g. anogan-mnist)"
               if cap.CLASSES in cap.capabilities_of(run.model) else "")
        can = cap.refusal(run.model, cap.SCORE, run=str(run.path), recipe=f"'{run.config.recipe}'",
                          doing="score anomalies")
        raise AnomalyError(f"{can}{'; ' + why if why else ''}")
    return tuple(run.model.scoring_methods)


def default_method(run: Run) -> str:
    """The run's own method, the first it declares: its encoder when it has one, else AnoGAN's search."""
    return _methods(run)[0]


def scorer(run: Run, method: str | None = None, seed: int = 0) -> Scorer:
    """The scorer for ``run`` (``method`` None: the run's own), or one line saying why it cannot be."""
    name = method or default_method(run)
    if name not in METHODS:
        raise AnomalyError(f"unknown scoring method '{name}'{did_you_mean(name, METHODS)}; choose one of "
                           f"{', '.join(METHODS)}")
    return METHODS[name](run, seed)
