"""FID and KID computed from features by torchmetrics; the Inception-Score formula computed here.

torchmetrics' ``FrechetInceptionDistance``, ``KernelInceptionDistance`` and
``InceptionScore`` accept any ``nn.Module`` as their feature extractor. Here that
module is the identity (:class:`Precomputed`): the judge has already turned
images into features once, and the same features serve FID, KID and
precision/recall. So the formulas are torchmetrics' (FID in float64), and only
the choice of network is ganforge's. The Inception-Score formula is computed here
(:func:`classifier_score`): torchmetrics splits with ``torch.chunk``, which gives
unequal splits (12 items in 10 splits: 6 splits of 2) and fewer splits than asked, and
reports the std with ddof=1 where Salimans et al.'s code uses ddof=0; it is tested
against torchmetrics where their splits agree.

KID and IS draw random subsets/permutations from torch's generator;
they run under ``torch.random.fork_rng`` with a fixed seed, so a result is
reproducible and the caller's random stream is left untouched.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from ganforge.errors import MetricError


class Precomputed(nn.Module):
    """The identity, declaring its width so torchmetrics need not probe it with a dummy image."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _features(x: torch.Tensor, name: str) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} must be (N >= 2, D) features, got {tuple(x.shape)}")
    return check_finite(x.double(), name)


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """``x`` if every value is finite; else one MetricError line (a NaN gave silent nonsense: FID NaN with
    a LAPACK message, coverage 0)."""
    bad = ~torch.isfinite(x)
    if bad.any():
        rows = int(bad.reshape(len(x), -1).any(1).sum()) if x.ndim else 1
        raise MetricError(f"{name} hold NaN or infinite values ({rows} of {len(x) if x.ndim else 1} rows); "
                          f"a diverged generator or a broken feature extractor: check them before measuring")
    return x


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, D): FID given judge features."""
    # imported here, on first use: every ganforge command imports this module (plotting.py); torchmetrics ~1.8 s
    from torchmetrics.image.fid import FrechetInceptionDistance

    real, fake = _features(real, "real features"), _features(fake, "fake features")
    metric = FrechetInceptionDistance(feature=Precomputed(real.shape[1]), normalize=True).double()
    metric.update(real, real=True)
    metric.update(fake, real=False)
    return float(metric.compute())


def kernel_distance(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
    """KID (unbiased MMD^2, cubic polynomial kernel): (mean, std) over random subsets.

    A subset is ``min(subset_size, len(real), len(fake))`` items of each set. When that is the whole
    of both sets every subset is the same (MMD^2 does not depend on order): there is no spread, and
    std is NaN (not the float noise of identical values)."""
    # imported here, on first use: every ganforge command imports this module (plotting.py); torchmetrics ~1.8 s
    from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = _features(real, "real features"), _features(fake, "fake features")
    size = min(subset_size, len(real), len(fake))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = KernelInceptionDistance(feature=Precomputed(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    if size == len(real) == len(fake):
        return float(mean), math.nan
    return float(mean), float(std)


def split_bounds(n: int, splits: int) -> list[tuple[int, int]]:
    """[start, stop) of each of ``splits`` consecutive splits of ``n`` items, sizes differing by at most
    one: the boundaries ``i * n // splits`` of Salimans et al.'s ``inception_score.py``."""
    return [(i * n // splits, (i + 1) * n // splits) for i in range(splits)]


def classifier_score(logits: torch.Tensor, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) from class logits, (mean, std) over ``splits`` splits.

    The Inception Score's formula as Salimans et al. (2016) published it: the items are split into
    ``splits`` consecutive, balanced splits (:func:`split_bounds`), the score is computed within each,
    and the std over splits is numpy's ``np.std`` (ddof=0), as in their code. Before splitting the items
    are permuted with ``seed`` (as torchmetrics does), so items sorted by class (a conditional
    generator's output) do not make one-class splits. With a judge's logits it measures confident and
    varied classes as that judge sees them (10 is the maximum for 10 classes). Fewer than 2 items per
    split are refused; one split has no spread (std NaN).
    """
    logits = _features(logits, "logits")
    n = len(logits)
    if splits < 1 or n < 2 * splits:
        raise MetricError(f"the Inception-Score formula with {splits} splits needs at least {2 * splits} "
                          f"samples (2 per split), got {n}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        idx = torch.randperm(n)
    logits = logits[idx]
    prob, log_prob = logits.softmax(dim=1), logits.log_softmax(dim=1)
    scores = []
    for a, b in split_bounds(n, splits):
        p, log_p = prob[a:b], log_prob[a:b]
        marginal = p.mean(dim=0, keepdim=True)
        scores.append((p * (log_p - marginal.log())).sum(dim=1).mean().exp())
    kl = torch.stack(scores)
    std = float(kl.std(unbiased=False)) if splits > 1 else math.nan
    return float(kl.mean()), std
