"""FID, KID and the Inception-Score-style score, computed from features by torchmetrics.

torchmetrics' ``FrechetInceptionDistance``, ``KernelInceptionDistance`` and
``InceptionScore`` accept any ``nn.Module`` as their feature extractor. Here that
module is the identity (:class:`Precomputed`): the judge has already turned
images into features once, and the same features serve FID, KID and
precision/recall. So the formulas are torchmetrics' (FID in float64), and only
the choice of network is ganforge's.

KID and IS draw random subsets/permutations from torch's global generator;
they run under ``torch.random.fork_rng`` with a fixed seed, so a result is
reproducible and the caller's random stream is left untouched.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


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
    return x.double()


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, D): FID given judge features."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    real, fake = _features(real, "real"), _features(fake, "fake")
    metric = FrechetInceptionDistance(feature=Precomputed(real.shape[1]), normalize=True).double()
    metric.update(real, real=True)
    metric.update(fake, real=False)
    return float(metric.compute())


def kernel_distance(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
    """KID (unbiased MMD^2, cubic polynomial kernel): (mean, std) over random subsets."""
    from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = _features(real, "real"), _features(fake, "fake")
    size = min(subset_size, len(real), len(fake))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = KernelInceptionDistance(feature=Precomputed(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def classifier_score(logits: torch.Tensor, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) from class logits, (mean, std) over ``splits`` splits.

    The Inception Score's formula; with a judge's logits it measures confident and
    varied classes as that judge sees them (10 is the maximum for 10 classes).
    """
    from torchmetrics.image.inception import InceptionScore

    logits = _features(logits, "logits")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = InceptionScore(feature=Precomputed(logits.shape[1]), splits=splits)
    metric.update(logits)
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*degrees of freedom.*")  # splits=1: no spread
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std) if splits > 1 else 0.0
