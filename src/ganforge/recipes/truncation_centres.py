"""Multi-modal truncation (Mokady et al. 2022): pull each w towards the centre of its own cluster.

Why it exists: StyleGAN's truncation pulls every w towards one mean w. That assumes one mode. On
data of several classes the mean w draws a blend (on MNIST an 8, or a shape between 8 and 9:
docs/stylegan.md, 'The fifth limit'), so psi 0.5 walks about half the samples across a class
boundary, and the judge is no surer of them than at psi 1. Mokady et al. ('Self-Distilled
StyleGAN', SIGGRAPH 2022) cluster generated images by perceptual features and pull each sample
towards the W centre of the cluster its image is nearest to, so a sample tightens towards a typical
member of its own mode.

What differs here, and why: the paper's features come from a pretrained network (DINO), and no
perceptual network ships offline with ganforge, so the clusters are k-means (scikit-learn) on the
generated images' own pixels, average-pooled to at most ``POOL`` pixels a side. The judge that
measures the result is never used. Clustering W itself was tried first and kept the class of no more
samples than the global mean (docs/stylegan.md, 'Truncation towards a cluster'): samples of one digit
do not gather in one region of W at this budget, while their images do gather in pixel space.

A cluster's centre in W is here the mean w of the ``FIT_SAMPLES`` fitting samples in it; a new sample is
drawn at psi 1, its image assigned to the nearest pixel centroid, and its w pulled towards that
cluster's W centre: ``centre + psi * (w - centre)``. The fit uses its own fixed noise stream, so
the same run and K give the same centres, and the same samples, every time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ganforge import sampling

if TYPE_CHECKING:
    from sklearn.cluster import KMeans
from ganforge.errors import GanforgeError

FIT_SAMPLES = 10_000  # generated samples the clusters are fitted on (a thousand per class for ten classes)
FIT_SEED = 2_022  # the noise seed of those samples: fixed, so centres are reproducible
CHUNK_PIXELS = 500 * 32 * 32  # images synthesised at once hold at most this many output pixels (500 at 32 px)
POOL = 32  # images are average-pooled to at most this many pixels a side before k-means
KMEANS_RESTARTS = 3  # k-means++ starts; the best (lowest inertia) is kept
MAX_CENTRES = FIT_SAMPLES // 10  # at least ten fitting samples per cluster on average
DEFAULT_CENTRES = 64  # the K that learns.py, the figures and the hints use; K 32-128 gave like figures (docs/stylegan.md)


def check_centres(k: int) -> None:
    """One line for a K that cannot be fitted."""
    if not 2 <= k <= MAX_CENTRES:
        raise GanforgeError(f"truncation centres must be between 2 and {MAX_CENTRES} (k-means clusters of "
                            f"{FIT_SAMPLES:,} generated images), got {k}; try {DEFAULT_CENTRES}")


def image_features(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) generator output -> (N, D) float32 pixels, pooled to at most POOL a side, clamped to
    the output range so that values the output clips away do not pull the clusters."""
    x = images.detach().float().clamp(-1, 1)
    h, w = x.shape[-2:]
    factor = math.ceil(max(h, w) / POOL)  # one factor for both sides keeps the aspect
    if factor > 1:
        x = F.adaptive_avg_pool2d(x, (math.ceil(h / factor), math.ceil(w / factor)))
    return x.flatten(1).cpu().numpy()


def features_of(generator: nn.Module, ws: torch.Tensor) -> np.ndarray:
    """:func:`image_features` of ``generator.synthesis(ws)``, synthesised a few images at a time so that a
    large generator's activations fit (CHUNK_PIXELS output pixels at once)."""
    first = generator.synthesis(ws[:1])
    chunk = max(1, CHUNK_PIXELS // (first.shape[-2] * first.shape[-1]))
    parts = [image_features(first)]
    parts += [image_features(generator.synthesis(ws[i:i + chunk])) for i in range(1, len(ws), chunk)]
    return np.concatenate(parts)


@dataclass(frozen=True)
class TruncationCentres:
    """K clusters of a generator's images: their pixel centroids and their centres in W."""

    kmeans: KMeans
    w: torch.Tensor  # (K, w_dim): the mean w of each cluster's fitting samples

    def nearest(self, generator: nn.Module, ws: torch.Tensor) -> torch.Tensor:
        """(N, w_dim), on ``ws``'s device: the W centre of the cluster that the image of each of ``ws``
        (N, num_ws, w_dim) is nearest to in pixels."""
        index = torch.from_numpy(self.kmeans.predict(features_of(generator, ws))).long()
        return self.w[index].to(ws.device)


@torch.no_grad()
def fit_centres(generator: nn.Module, k: int, z_dim: int, z_dist: str, device: str | torch.device,
                n: int = FIT_SAMPLES, seed: int = FIT_SEED) -> TruncationCentres:
    """Cluster ``n`` of ``generator``'s images (drawn at psi 1 from ``seed``) into ``k`` groups.
    The generator must be in eval mode, so that drawing does not move its running mean of w."""
    check_centres(k)
    if generator.training:
        raise ValueError("fit_centres needs the generator in eval mode (training mode moves w_avg and mixes styles)")
    styles = generator.styles(sampling.sample_noise(n, z_dim, z_dist, device, sampling.sample_generator(seed, device)))
    from sklearn.cluster import KMeans  # here, not at the top: every command imports this module (plotting.py)

    w = styles[:, 0].float().cpu()
    kmeans = KMeans(k, n_init=KMEANS_RESTARTS, random_state=seed).fit(features_of(generator, styles))
    labels = torch.from_numpy(kmeans.labels_).long()
    counts = torch.bincount(labels, minlength=k).clamp_min(1).unsqueeze(1)
    centres = torch.zeros(k, w.shape[1]).index_add_(0, labels, w) / counts
    return TruncationCentres(kmeans, centres)
