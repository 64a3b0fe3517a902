"""Mode coverage on Gaussian-mixture data (the VEEGAN / PacGAN protocol).

Each sample belongs to its nearest mode centre. It is *high quality* when it lies
within ``threshold`` standard deviations of that centre. A mode is *captured*
when at least one high-quality sample belongs to it. The reverse KL compares the
histogram of high-quality samples over modes with the uniform distribution the
data has: 0 when every mode gets its share, log(K) when one mode gets all.
The protocol's name records its sample count and threshold, e.g. ``modes2500_3std``.

For images, a judge (a trained classifier) assigns each sample its mode instead:
:func:`class_coverage` counts the classes a set of predicted labels hits and the
KL of their histogram to uniform. On Stacked MNIST (the PacGAN protocol) the
MNIST judge reads each colour channel as one digit, so a sample's mode is
``100 * r + 10 * g + b`` of 1,000; the name is ``modes26k_lenet``.
"""

from __future__ import annotations

import math

import numpy as np

from ganforge.errors import MetricError


def format_count(n: int) -> str:
    """Sample counts in metric names: 10000 -> "10k", 2500 -> "2500"."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def mode_coverage(samples: np.ndarray, centers: np.ndarray | list, std: float, threshold: float = 3.0,
                  nonfinite: str = "raise") -> dict:
    """``{"modes": captured, "num_modes": K, "high_quality": fraction, "reverse_kl": nats, "counts": [...]}``.

    ``reverse_kl`` is ``inf`` when no sample is of high quality (KL of an empty histogram: undefined;
    a report writes it as null with a note). NaN or infinite samples are refused (MetricError): they
    were counted as low quality silently. A live view of a diverging G that wants the old reading passes
    ``nonfinite="low_quality"``: they count as low quality, and ``"nonfinite"`` in the result says how many.
    """
    x = np.asarray(samples, dtype=np.float64)
    c = np.asarray(centers, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"samples must be (N, {c.shape[1]}), got {x.shape}")
    if nonfinite not in ("raise", "low_quality"):
        raise ValueError(f"nonfinite must be 'raise' or 'low_quality', got {nonfinite!r}")
    finite = np.isfinite(x).all(1)
    if not finite.all() and nonfinite == "raise":
        rows = int((~finite).sum())
        raise MetricError(f"samples hold NaN or infinite values ({rows} of {len(x)} rows); the generator has "
                          f"diverged: mode coverage is not defined for them")
    dist = np.linalg.norm(x[:, None, :] - c[None, :, :], axis=-1)
    nearest = dist.argmin(1)
    good = (dist[np.arange(len(x)), nearest] <= threshold * std) & finite
    counts = np.bincount(nearest[good], minlength=len(c))
    k = len(c)
    if counts.sum() == 0:
        kl = math.inf
    else:
        p = counts / counts.sum()
        nz = p > 0
        kl = float(np.sum(p[nz] * np.log(p[nz] * k)))
    out = {"modes": int((counts > 0).sum()), "num_modes": k, "high_quality": float(good.mean()),
           "reverse_kl": kl, "counts": counts.tolist()}
    if nonfinite == "low_quality":
        out["nonfinite"] = int((~finite).sum())
    return out


def class_coverage(predicted: np.ndarray, num_modes: int) -> dict:
    """``{"modes": hit, "num_modes": K, "reverse_kl": nats, "counts": [...]}`` for predicted class labels.

    ``reverse_kl`` is KL(q || uniform) of the predicted-label histogram q (0: every class its share).
    """
    labels = np.asarray(predicted).astype(np.int64).ravel()
    if labels.size == 0:
        raise ValueError("no predicted labels")
    if labels.min() < 0 or labels.max() >= num_modes:
        raise ValueError(f"labels must be in 0..{num_modes - 1}")
    counts = np.bincount(labels, minlength=num_modes)
    p = counts / counts.sum()
    nz = p > 0
    kl = float(np.sum(p[nz] * np.log(p[nz] * num_modes)))
    return {"modes": int(nz.sum()), "num_modes": int(num_modes), "reverse_kl": kl, "counts": counts.tolist()}
