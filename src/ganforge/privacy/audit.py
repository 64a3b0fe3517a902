"""The privacy audit of a run: distances to closest records and membership inference, together.

``audit`` draws synthetic samples from a run and compares them with its training data and a
held-out real split (never trained on): DCR ratio and near-copies in pixels and in a judge's
features (:mod:`.distances`), and membership-inference AUROC, white-box through the run's D
and black-box through distances (:mod:`.membership`). ``flags`` says in words what crossed a
line. ``closest_pairs`` gives the synthetic samples nearest to a training image, for the figure.

An independent real split in place of the synthetic samples gives a ratio of about 1, about
``quantile`` near-copies and AUROCs of about 0.5 (checked by the tests); the overfit control in
docs/benchmarks.md shows what a leak looks like.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.data import Dataset
from ganforge.download import sha256_file
from ganforge.errors import GanforgeError
from ganforge.metrics.judges import Judge
from ganforge.privacy import membership
from ganforge.privacy.distances import NEAR_COPY_QUANTILE, DcrReport, dcr, pixels
from ganforge.runs import rundir
from ganforge.runs.run import Run

N_SYNTHETIC = 2000  # synthetic samples drawn for the distances and the black-box attack
N_MEMBERS = 1000  # training images (and as many held-out ones) the attacks are scored on
Features = Callable[[np.ndarray], torch.Tensor]
# Near-copies are flagged when so many would happen by chance less than once in 1000 audits of independent
# data (binomial tail) and they are over 3x the expected rate: the threshold, a quantile estimated from a
# few hundred held-out images, is itself noisy, and the margin keeps that noise from raising alarms.
FLAG_P_VALUE = 1e-3
# Bytes of memory one synthetic sample costs the audit, per pixel value: the uint8 image and its float32
# copy in pixel space (features add a judge's embedding, bounded by FEATURE_BYTES a sample).
AUDIT_BYTES_PER_VALUE = 1 + 4
FEATURE_BYTES = 4 * 4096


def audit_bytes(n_synthetic: int, shape: tuple[int, ...]) -> int:
    """The memory an audit of ``n_synthetic`` samples of ``shape`` holds at once (for the up-front check)."""
    values = int(np.prod(shape, dtype=np.int64))
    return int(n_synthetic) * (values * AUDIT_BYTES_PER_VALUE + FEATURE_BYTES)


def run_identity(run: Run) -> dict[str, Any]:
    """What names a run and its checkpoint beyond its path (which moves): ``id`` is a hash of the run's
    config and its start time (two runs of one config differ), ``checkpoint_sha256`` the hash of the
    checkpoint's manifest, which lists every weight file's sha256. An audit carries it, and an export
    refuses an audit whose identity is not its own run's."""
    path = Path(run.path)
    try:
        started = json.loads((path / rundir.OPTIONS).read_text()).get("started")
    except (OSError, ValueError, AttributeError):
        started = None
    config_sha = sha256_file(path / rundir.CONFIG)
    manifest = Path(run.checkpoint) / "manifest.json"
    return {"id": hashlib.sha256(f"{config_sha}:{started}".encode()).hexdigest()[:16],
            "checkpoint_sha256": sha256_file(manifest) if manifest.is_file() else None, "step": run.step}


def _pick(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=min(n, k), replace=False))


def audit_arrays(synthetic: np.ndarray, train: Dataset, holdout: Dataset, *, features: Features | None = None,
                 feature_name: str = "", d: nn.Module | None = None, output_range: tuple[float, float] | None = None,
                 d_conditional: bool = False, n_members: int = N_MEMBERS, quantile: float = NEAR_COPY_QUANTILE,
                 seed: int = 0) -> tuple[dict[str, Any], DcrReport]:
    """The audit of uint8 ``synthetic`` images against ``train`` (members) and ``holdout`` (non-members)."""
    rng = np.random.default_rng(seed)
    train_x, hold_x = train.x.numpy(), holdout.x.numpy()
    hold_idx = _pick(len(hold_x), len(synthetic), rng)
    k = min(n_members, len(train_x), len(hold_x))
    mem_idx, non_idx = _pick(len(train_x), k, rng), _pick(len(hold_x), k, rng)
    spaces: dict[str, Callable[[np.ndarray], torch.Tensor]] = {"pixels": pixels}
    if features is not None:
        spaces[f"features_{feature_name}"] = features
    result: dict[str, Any] = {"n_synthetic": int(len(synthetic)), "n_train": int(len(train_x)),
                              "n_holdout": int(len(hold_x)), "seed": seed, "dcr": {}, "membership": {}}
    pixel_report = None
    for space, embed in spaces.items():
        syn, tr, ho = embed(synthetic), embed(train_x), embed(hold_x)
        report = dcr(syn, tr, ho[hold_idx], space, quantile)
        pixel_report = pixel_report or report
        result["dcr"][space] = report.summary()
        result["membership"][f"black_box_{space}"] = membership.black_box(tr[mem_idx], ho[non_idx], syn, seed)
    if d is not None:
        ty = train.y.numpy() if train.y is not None else None
        hy = holdout.y.numpy() if holdout.y is not None else None
        result["membership"]["white_box_d"] = membership.white_box(
            d, (train_x[mem_idx], ty[mem_idx] if ty is not None else None),
            (hold_x[non_idx], hy[non_idx] if hy is not None else None), output_range, d_conditional, seed)
    result["flags"] = flags(result)
    return result, pixel_report


def check_images(run: Run) -> None:
    """One line for a run that draws points (ring8, grid25): the audit measures images, pixel distances in
    [0, 1] and D's score of uint8 images in G's range, and scaled points as if they were pixels (its medians
    and thresholds in no unit the report could name)."""
    if getattr(run.generator, "output_range", None) is None:
        raise GanforgeError(f"{run.path} draws 2D points, and the audit measures images (pixel distances, D's score "
                            f"of uint8 images); look at its samples against the data with ganforge figures "
                            f"{run.path}")


def audit_run(run: Run, train: Dataset, holdout: Dataset, *, judge: Judge | None = None,
              n_synthetic: int = N_SYNTHETIC, n_members: int = N_MEMBERS, quantile: float = NEAR_COPY_QUANTILE,
              seed: int = 0) -> tuple[dict[str, Any], np.ndarray, DcrReport]:
    """The audit of a run's samples (``n_synthetic``, noise seed ``seed``); D's score for the white-box
    attack when the run has a D with the features/head protocol of :mod:`ganforge.nets.base`."""
    check_images(run)
    synthetic = run.sample(n_synthetic, seed)
    d = run.nets.get("D")
    d = d if d is not None and hasattr(d, "features") and hasattr(d, "head") else None
    features = (lambda x: judge(x)[0]) if judge is not None else None
    result, report = audit_arrays(synthetic, train, holdout, features=features,
                                  feature_name=judge.name if judge is not None else "", d=d,
                                  output_range=getattr(run.generator, "output_range", None),
                                  d_conditional=run.config.model.d.conditional, n_members=n_members,
                                  quantile=quantile, seed=seed)
    result["run"] = {"path": str(run.path), "checkpoint": str(run.checkpoint), "step": run.step,
                     **run_identity(run), "train_data": f"{run.config.data.name} ({run.config.data.split})"}
    if judge is not None:
        result["judge"] = judge.summary()
    return result, synthetic, report


def flags(result: dict[str, Any]) -> list[str]:
    """Plain-language findings: what a reader should look at first."""
    out = []
    for space, r in result["dcr"].items():
        if r["exact_copies"]:
            out.append(f"{r['exact_copies']} synthetic samples are exact copies of training images ({space})")
        if r["near_copy_p_value"] < FLAG_P_VALUE and r["near_copy_rate"] > 3 * r["expected_rate_if_independent"]:
            out.append(f"{r['near_copies']} near-copies in {space} ({r['near_copy_rate']:.1%}; an independent "
                       f"sample has about {r['expected_rate_if_independent']:.0%})")
        if r["ratio"] < 0.9:
            out.append(f"synthetic samples sit closer to the training set than new real data ({space} ratio "
                       f"{r['ratio']:.2f})")
    for attack, r in result["membership"].items():
        if r["ci_low"] > 0.5:
            out.append(f"membership inference ({attack}) beats chance: AUROC {r['auroc']:.3f} "
                       f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]")
    return out


def closest_pairs(synthetic: np.ndarray, train: Dataset, report: DcrReport, count: int = 16
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(synthetic samples, their nearest training images, distances), closest first."""
    order = np.argsort(report.synthetic, kind="stable")[:count]
    return synthetic[order], train.x.numpy()[report.nearest_index[order]], report.synthetic[order]


__all__ = ["N_MEMBERS", "N_SYNTHETIC", "audit_arrays", "audit_bytes", "audit_run", "check_images", "closest_pairs",
           "flags", "run_identity"]
