"""Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

Both approximate each distribution's support in feature space by balls: each
real feature r_i gets radius NND_k(r_i), the distance to its k-th nearest other
real feature (and likewise for generated features). With N real and M fake:

* precision = fraction of fakes inside some real ball (quality)
* recall    = fraction of reals inside some fake ball (diversity)
* density   = (1 / kM) * sum_j #{i : f_j in ball(r_i)} (quality, counts overlap; ~1 for equal distributions)
* coverage  = fraction of reals whose ball holds at least one fake (diversity, robust to outliers)

"Inside" is a strict ``<`` as in the reference code of Naeem et al. The papers use
k = 3 (precision/recall) and k = 5 (density/coverage). Distances are computed in
blocks, so 50k x 50k comparisons fit in memory.
"""

from __future__ import annotations

import torch

BLOCK = 1024


def _blocks(n: int):
    for start in range(0, n, BLOCK):
        yield slice(start, min(start + BLOCK, n))


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row of ``x`` to its k-th nearest *other* row."""
    if len(x) <= k:
        raise ValueError(f"k={k} nearest neighbours need more than {k} samples, got {len(x)}")
    out = torch.empty(len(x), dtype=torch.float64)
    for s in _blocks(len(x)):
        d = torch.cdist(x[s], x)
        out[s] = d.kthvalue(k + 1, dim=1).values.double()  # the 1st is the point itself (distance 0)
    return out


def _ball_counts(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """For each point, how many balls (centre, radius) contain it."""
    out = torch.empty(len(points), dtype=torch.float64)
    for s in _blocks(len(points)):
        out[s] = (torch.cdist(points[s], centres).double() < radii[None, :]).sum(1).double()
    return out


def _nearest(points: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    out = torch.empty(len(points), dtype=torch.float64)
    for s in _blocks(len(points)):
        out[s] = torch.cdist(points[s], others).min(1).values.double()
    return out


def _prep(x) -> torch.Tensor:
    t = torch.as_tensor(x).double()  # float64: exact-enough distances even for duplicated points
    if t.ndim != 2:
        raise ValueError(f"features must be (N, D), got {tuple(t.shape)}")
    return t


def precision_recall(real, fake, k: int = 3) -> dict[str, float]:
    real, fake = _prep(real), _prep(fake)
    precision = (_ball_counts(fake, real, knn_radii(real, k)) > 0).double().mean()
    recall = (_ball_counts(real, fake, knn_radii(fake, k)) > 0).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real, fake, k: int = 5) -> dict[str, float]:
    real, fake = _prep(real), _prep(fake)
    radii = knn_radii(real, k)
    density = _ball_counts(fake, real, radii).sum() / (k * len(fake))
    coverage = (_nearest(real, fake) < radii).double().mean()
    return {"density": float(density), "coverage": float(coverage)}
