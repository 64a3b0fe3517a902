"""The modes of one continuous column: a one-dimensional variational Bayesian Gaussian mixture.

CTGAN's mode-specific normalisation (Xu et al. 2019, section 4.2) fits a variational Gaussian
mixture with up to 10 components to each continuous column, keeps the components whose weight is
above 0.005, and writes a value c as the one-hot of a mode k drawn from its posterior plus
alpha = (c - mu_k) / (4 sigma_k). The reference code calls scikit-learn's BayesianGaussianMixture
on every row, and on CPU that is the slow half of a fit (issue 29). A column is one-dimensional,
so the mixture here is written out for that case in numpy (Bishop 2006, section 10.2, with a
Normal-Gamma prior on each mode and a Dirichlet prior on the weights), and it is made fast two
ways, both measured against the full fit in docs/tabular.md:

- it is fitted on a subsample of the column (``gmm_rows``, 50,000 by default): the modes of a
  column are a handful of numbers, and 50k draws place them as well as 1M do;
- it starts from the column's quantiles (component k centred on the (k + 0.5)/K quantile, with the
  spread of its slice) instead of k-means restarts, so it needs few iterations and no randomness.

The fit is deterministic given the subsample, which the caller draws from the run's seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_MODES = 10  # the paper's number of components
WEIGHT_THRESHOLD = 0.005  # the paper's cut: modes lighter than this are dropped
WEIGHT_PRIOR = 1e-3  # Dirichlet concentration per component: small, so unneeded components empty out (CTGAN's value)
MEAN_PRECISION_PRIOR = 1.0  # beta_0: the prior on a mode's mean counts as one observation at the column's mean
BINS = 2048  # equal-count slices the updates run over: far finer than any mode, ~25x fewer than 50k values
MAX_ITER = 100  # variational updates at most (scikit-learn's default, which CTGAN keeps)
TOL = 1e-4  # stop when the mean log-likelihood per value moves by less than this (nats, standardised units)
MIN_STD = 1e-3  # a mode's standard deviation is at least this fraction of the column's (spikes stay finite)


@dataclass(frozen=True)
class Modes:
    """A fitted mixture in the column's own units: weights, means and standard deviations of the kept modes."""

    weights: tuple[float, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]

    @property
    def k(self) -> int:
        return len(self.weights)

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """(N, K): log(w_k N(x; mu_k, sd_k)) per value and mode."""
        w, mu, sd = (np.asarray(a, np.float64) for a in (self.weights, self.means, self.stds))
        z = (np.asarray(x, np.float64)[:, None] - mu) / sd
        return np.log(w) - np.log(sd) - 0.5 * np.log(2 * np.pi) - 0.5 * z * z

    def mean_log_likelihood(self, x: np.ndarray) -> float:
        """The mixture's mean log-density of ``x`` (nats per value): how well the modes describe a column."""
        lp = self.log_density(x)
        top = lp.max(1, keepdims=True)
        return float(np.mean(top[:, 0] + np.log(np.exp(lp - top).sum(1))))

    def to_dict(self) -> dict:
        return {"weights": list(self.weights), "means": list(self.means), "stds": list(self.stds)}

    @classmethod
    def from_dict(cls, d: dict) -> Modes:
        return cls(tuple(map(float, d["weights"])), tuple(map(float, d["means"])), tuple(map(float, d["stds"])))


def _quantile_start(z: np.ndarray, k: int, count: np.ndarray) -> np.ndarray:
    """Responsibilities (N, k) that put each value in the component of its (count-weighted) quantile slice."""
    cdf = np.cumsum(count) / count.sum()
    edges = z[np.searchsorted(cdf, np.linspace(0, 1, k + 1)[1:-1])] if np.all(np.diff(z) >= 0) \
        else np.quantile(z, np.linspace(0, 1, k + 1)[1:-1])
    slot = np.searchsorted(edges, z, side="right")
    r = np.zeros((len(z), k))
    r[np.arange(len(z)), slot] = 1.0
    return r


def _bins(z: np.ndarray, bins: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, mean, within-bin variance) of equal-count slices of the sorted values, or of each value
    (count 1, variance 0) when ``bins`` is None or not fewer than the values."""
    if bins is None or bins >= len(z):
        return np.ones(len(z)), z, np.zeros(len(z))
    s = np.sort(z)
    cuts = np.linspace(0, len(s), bins + 1).round().astype(np.int64)
    count = np.diff(cuts).astype(np.float64)
    total = np.add.reduceat(s, cuts[:-1])
    mean = total / count
    var = np.maximum(np.add.reduceat(s * s, cuts[:-1]) / count - mean * mean, 0.0)
    return count, mean, var


def fit_modes(values: np.ndarray, *, max_modes: int = MAX_MODES, init: str = "quantile",
              bins: int | None = BINS, seed: int = 0) -> Modes:
    """Fit the mixture to ``values`` (1-D, no NaN) and keep the modes above :data:`WEIGHT_THRESHOLD`.

    ``init`` "quantile" (the default) starts from the column's quantiles; "random" starts from random
    responsibilities drawn from ``seed``. ``bins``: the updates run over that many equal-count slices
    of the sorted values (each slice's count, mean and spread: the sums a mode needs), not over every
    value; None runs them over every value (the reference fit measured against in docs/tabular.md).
    """
    # imported here, on first use: every ganforge command imports this module (plotting.py)
    from scipy.special import digamma

    x = np.asarray(values, np.float64)
    with np.errstate(over="ignore"):
        centre, scale = float(x.mean()), float(x.std())
    if not (np.isfinite(centre) and np.isfinite(scale)) and np.isfinite(x).all():
        # values near float64's limit (1e300s): their sum or squares overflow, so take both on values / max|x|
        f = float(np.abs(x).max())
        centre, scale = float((x / f).mean()) * f, float((x / f).std()) * f
    if not np.isfinite(scale) or scale == 0.0:  # one value: one mode of (almost) no width
        return Modes((1.0,), (centre,), (max(abs(centre) * MIN_STD, MIN_STD),))
    z = (x - centre) / scale  # standardised: the priors below are in units of the column's spread
    k = int(min(max_modes, len(np.unique(z))))  # no more modes than distinct values
    count, zb, varb = _bins(z, bins)
    if init == "quantile":
        r = _quantile_start(zb, k, count)
    else:
        r = np.random.default_rng(seed).dirichlet(np.ones(k), size=len(zb))
    # Normal-Gamma prior on each mode: mean 0 (the column's mean), precision with shape a0 and rate b0
    # such that the prior spread is the column's (1 in standard units), as scikit-learn's defaults for 1-D.
    a0, b0, m0, beta0 = 0.5, 0.5, 0.0, MEAN_PRECISION_PRIOR
    last = -np.inf
    n = count.sum()
    for _ in range(MAX_ITER):
        # M step: the posterior over weights, means and precisions given the responsibilities.
        rc = r * count[:, None]
        nk = rc.sum(0) + 1e-10
        xbar = (rc * zb[:, None]).sum(0) / nk
        sk = (rc * ((zb[:, None] - xbar) ** 2 + varb[:, None])).sum(0) / nk
        alpha = WEIGHT_PRIOR + nk
        beta = beta0 + nk
        m = (beta0 * m0 + nk * xbar) / beta
        a = a0 + nk / 2
        b = b0 + 0.5 * (nk * sk + beta0 * nk * (xbar - m0) ** 2 / beta)
        # E step: responsibilities from the expected log weights, precisions and squared distances.
        e_log_pi = digamma(alpha) - digamma(alpha.sum())
        e_log_lam = digamma(a) - np.log(b)
        e_quad = 1.0 / beta + (a / b) * ((zb[:, None] - m) ** 2 + varb[:, None])
        log_rho = e_log_pi + 0.5 * e_log_lam - 0.5 * np.log(2 * np.pi) - 0.5 * e_quad
        top = log_rho.max(1, keepdims=True)
        norm = top + np.log(np.exp(log_rho - top).sum(1, keepdims=True))
        r = np.exp(log_rho - norm)
        score = float((norm[:, 0] * count).sum() / n)
        if abs(score - last) < TOL:
            break
        last = score
    weights = alpha / alpha.sum()
    keep = weights > WEIGHT_THRESHOLD
    w = weights[keep] / weights[keep].sum()
    mu = m[keep] * scale + centre
    sd = np.maximum(np.sqrt(b[keep] / a[keep]), MIN_STD) * scale
    order = np.argsort(mu)  # modes listed by position, so a state dict reads naturally
    return Modes(tuple(map(float, w[order])), tuple(map(float, mu[order])), tuple(map(float, sd[order])))


def sample_modes(modes: Modes, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A mode per value, drawn from its posterior (the paper draws it rather than taking the argmax)."""
    lp = modes.log_density(x)
    p = np.exp(lp - lp.max(1, keepdims=True))
    cdf = np.cumsum(p, 1)
    u = rng.random(len(x))[:, None] * cdf[:, -1:]
    return np.minimum((cdf < u).sum(1), modes.k - 1)
