"""Membership inference: can an attacker tell training images from unseen ones?

Two attacks, each scored by the AUROC of telling ``members`` (training images) from
``non-members`` (held-out real images of the same distribution), 0.5 meaning no leak:

- **white-box** (LOGAN, Hayes et al. 2019): the attacker has D and ranks images by D's
  realness score. An overfit D scores its own training images higher.
- **black-box**, distance-based (Hayes et al.; Chen et al. 2020's "full black-box"): the
  attacker has only synthetic samples and ranks an image by how close the nearest one is.

The interval is a percentile bootstrap over members and non-members (resampled separately),
with a fixed seed so it is reproducible; ``sklearn.metrics.roc_auc_score`` computes each AUROC.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ganforge.nets.layers import whole_group_batches
from ganforge.privacy.distances import nearest
from ganforge.sampling import from_uint8

BOOTSTRAP = 1000
LEVEL = 0.95


def auroc_ci(members: np.ndarray, nonmembers: np.ndarray, *, boot: int = BOOTSTRAP, level: float = LEVEL,
             seed: int = 0) -> dict:
    """AUROC of scores (higher = "member") with a bootstrap interval."""
    # imported here, on first use: every ganforge command imports this module (plotting.py)
    from sklearn.metrics import roc_auc_score

    members, nonmembers = np.asarray(members, np.float64), np.asarray(nonmembers, np.float64)
    labels = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    auc = float(roc_auc_score(labels, np.r_[members, nonmembers]))
    rng = np.random.default_rng(seed)
    draws = np.empty(boot)
    for i in range(boot):
        m = members[rng.integers(0, len(members), len(members))]
        n = nonmembers[rng.integers(0, len(nonmembers), len(nonmembers))]
        draws[i] = roc_auc_score(labels, np.r_[m, n])
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return {"auroc": auc, "ci_low": float(lo), "ci_high": float(hi), "level": level, "bootstrap": boot,
            "members": int(len(members)), "nonmembers": int(len(nonmembers))}


def black_box(members: torch.Tensor, nonmembers: torch.Tensor, synthetic: torch.Tensor, seed: int = 0) -> dict:
    """Distance attack: an image is called a member the closer its nearest synthetic sample is."""
    d_mem, _ = nearest(members, synthetic)
    d_non, _ = nearest(nonmembers, synthetic)
    return {"attack": "black-box distance to the nearest synthetic sample", **auroc_ci(-d_mem, -d_non, seed=seed)}


@torch.no_grad()
def d_scores(D: nn.Module, x: np.ndarray, y: np.ndarray | None, output_range: tuple[float, float],
             conditional: bool, batch_size: int = 500) -> np.ndarray:
    """D's realness logit for uint8 images, scaled as training scaled real batches.

    Under minibatch std an image's logit also reads the others of its group, and D refuses a batch its group
    does not divide (297 members stopped the audit): batches are whole groups, the last completed with the
    set's first images (their extra scores dropped). The logits still depend on the batch they were in,
    as under training."""
    out = []
    D.eval()
    device = next(D.parameters()).device  # a run loaded with --device cuda has its D there
    for own, index in whole_group_batches(D, len(x), batch_size):
        xb = from_uint8(torch.as_tensor(np.asarray(x)[index.numpy()]).to(device), output_range)
        yb = torch.as_tensor(np.asarray(y)[index.numpy()]).to(device) if conditional and y is not None else None
        out.append(D.head(D.features(xb), yb).float().reshape(-1)[:own].cpu())
    return torch.cat(out).numpy()


def white_box(D: nn.Module, members: tuple[np.ndarray, np.ndarray | None],
              nonmembers: tuple[np.ndarray, np.ndarray | None], output_range: tuple[float, float],
              conditional: bool, seed: int = 0) -> dict:
    """LOGAN: an image is called a member the more real D finds it."""
    s_mem = d_scores(D, *members, output_range, conditional)
    s_non = d_scores(D, *nonmembers, output_range, conditional)
    return {"attack": "white-box D score (LOGAN)", **auroc_ci(s_mem, s_non, seed=seed)}


__all__ = ["auroc_ci", "black_box", "d_scores", "white_box"]
