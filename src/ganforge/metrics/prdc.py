"""Precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

Both approximate each distribution's support in feature space by balls: each
real feature r_i gets radius NND_k(r_i), the distance to its k-th nearest other
real feature (and likewise for generated features). With N real and M fake:

* precision = fraction of fakes inside some real ball (quality)
* recall    = fraction of reals inside some fake ball (diversity)
* density   = (1 / kM) * sum_j #{i : f_j in ball(r_i)} (quality, counts overlap; ~1 for equal distributions)
* coverage  = fraction of reals whose ball holds at least one fake (diversity, robust to outliers)

"Inside" follows each paper's reference code: ``distance <= radius`` for precision/recall
(Kynkäänniemi et al.'s ``ManifoldEstimator``), a strict ``<`` for density/coverage (Naeem et
al.'s ``prdc``). The difference shows with repeated points: four copies of each of 100 points
give radius 0 (k = 3), and the set scores precision and recall 1 against itself (0 with ``<``).
The papers use
k = 3 (precision/recall) and k = 5 (density/coverage). Distances are computed in
blocks, so 50k x 50k comparisons fit in memory.
"""

from __future__ import annotations

import torch

from ganforge.metrics.frechet import check_finite

BLOCK = 1024


def _blocks(n: int):
    for start in range(0, n, BLOCK):
        yield slice(start, min(start + BLOCK, n))


def _pair_dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact-as-arithmetic distances of row pairs (a[i], b[i]), computed from the differences: the same
    two points always give the same distance, 0 for identical points."""
    return ((a - b) ** 2).sum(-1).sqrt()


def _tol(a: torch.Tensor, b_norms: torch.Tensor) -> torch.Tensor:
    """How far a matmul-expanded distance of rows of ``a`` and ``b`` (norms ``b_norms``) may be from the
    exact one (generous)."""
    return 1e-6 * (a.norm(dim=1)[:, None] + b_norms[None, :]) + 1e-12


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row of ``x`` to its k-th nearest *other* row (the neighbour found with fast
    distances, its distance recomputed exactly, so that a duplicate's radius is exactly 0)."""
    if len(x) <= k:
        raise ValueError(f"k={k} nearest neighbours need more than {k} samples, got {len(x)}")
    out = torch.empty(len(x), dtype=torch.float64)
    for s in _blocks(len(x)):
        idx = torch.cdist(x[s], x).kthvalue(k + 1, dim=1).indices  # the 1st is the point itself (distance 0)
        out[s] = _pair_dist(x[s], x[idx]).double()
    return out


def _ball_counts(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                 closed: bool = False) -> torch.Tensor:
    """For each point, how many balls (centre, radius) contain it: ``distance < radius``, or ``<=``
    with ``closed``. Fast (matmul) distances decide, except within rounding of a radius, where the
    exact distance does (so a point on a ball's surface, e.g. a copy of its k-th neighbour, is on it)."""
    inside = torch.le if closed else torch.lt
    out = torch.empty(len(points), dtype=torch.float64)
    centre_norms = centres.norm(dim=1)
    for s in _blocks(len(points)):
        p = points[s]
        d = torch.cdist(p, centres)
        hit = inside(d, radii[None, :])
        near = ((d - radii[None, :]).abs_() <= _tol(p, centre_norms)).nonzero()
        if len(near):
            i, j = near[:, 0], near[:, 1]
            hit[i, j] = inside(_pair_dist(p[i], centres[j]).double(), radii[j])
        out[s] = hit.sum(1).double()
    return out


def _nearest(points: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """Distance of each point to its nearest other point (found fast, recomputed exactly)."""
    out = torch.empty(len(points), dtype=torch.float64)
    for s in _blocks(len(points)):
        idx = torch.cdist(points[s], others).argmin(1)
        out[s] = _pair_dist(points[s], others[idx]).double()
    return out


def _prep(x, name: str = "features") -> torch.Tensor:
    t = torch.as_tensor(x).double()  # float64: exact-enough distances even for duplicated points
    if t.ndim != 2:
        raise ValueError(f"features must be (N, D), got {tuple(t.shape)}")
    return check_finite(t, f"{name} features")


def precision_recall(real, fake, k: int = 3) -> dict[str, float]:
    real, fake = _prep(real, "real"), _prep(fake, "fake")
    precision = (_ball_counts(fake, real, knn_radii(real, k), closed=True) > 0).double().mean()
    recall = (_ball_counts(real, fake, knn_radii(fake, k), closed=True) > 0).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real, fake, k: int = 5) -> dict[str, float]:
    real, fake = _prep(real, "real"), _prep(fake, "fake")
    radii = knn_radii(real, k)
    density = _ball_counts(fake, real, radii).sum() / (k * len(fake))
    coverage = (_nearest(real, fake) < radii).double().mean()
    return {"density": float(density), "coverage": float(coverage)}
