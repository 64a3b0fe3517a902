"""The fast mode fit of a continuous column against full fits (docs/tabular.md, "The transform").

For each generated 100k-row column, three fits of up to 10 modes with the paper's 0.005 weight cut:

- ``sklearn-full``: scikit-learn's BayesianGaussianMixture on every value, as CTGAN <= 0.6 calls it
  (Dirichlet-process prior 0.001, k-means start, 100 iterations at most);
- ``ours-full``: ganforge's 1-D variational mixture (tabular/modes.py) on every value, no bins;
- ``ours-fast``: the default: a 50k-value subsample, updates over 2,048 equal-count bins, quantile start.

Measured: wall time of the fit, modes kept, the mixture's mean log-likelihood of the whole column
(nats per value: higher describes the column better), and the transform's round trip on the whole
column (value -> alpha and a mode drawn from the posterior -> value): the share of values whose alpha
hit the +-0.99 clip and the mean absolute error relative to the column's standard deviation.

    python benchmarks/tabular_gmm.py [--rows 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.mixture import BayesianGaussianMixture

from ganforge.tabular.modes import WEIGHT_THRESHOLD, Modes, fit_modes, sample_modes
from ganforge.tabular.transform import ALPHA_CLIP, GMM_ROWS


def columns(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    third = n // 3
    return {
        # three clusters of different widths and weights (an "age"/"hours" kind of column)
        "three-clusters": rng.permutation(np.concatenate([rng.normal(25, 3, third), rng.normal(45, 8, third),
                                                          rng.normal(70, 2, n - 2 * third)])),
        # a skewed, heavy-tailed amount (an "income" kind of column)
        "lognormal": rng.lognormal(10, 0.8, n),
        # a spike at zero and a spread of positives (a "capital gain" kind of column)
        "spike-and-tail": np.where(rng.random(n) < 0.7, 0.0, rng.gamma(2.0, 3000.0, n)),
    }


def sklearn_modes(x: np.ndarray, seed: int) -> Modes:
    g = BayesianGaussianMixture(n_components=10, weight_concentration_prior_type="dirichlet_process",
                                weight_concentration_prior=1e-3, max_iter=100, n_init=1, random_state=seed)
    g.fit(x[:, None])
    keep = g.weights_ > WEIGHT_THRESHOLD
    w = g.weights_[keep] / g.weights_[keep].sum()
    return Modes(tuple(w), tuple(g.means_[keep, 0]), tuple(np.sqrt(g.covariances_[keep, 0, 0])))


def round_trip(m: Modes, x: np.ndarray, seed: int) -> tuple[float, float]:
    k = sample_modes(m, x, np.random.default_rng(seed))
    mu, sd = np.asarray(m.means)[k], np.asarray(m.stds)[k]
    raw = (x - mu) / (4 * sd)
    alpha = np.clip(raw, -ALPHA_CLIP, ALPHA_CLIP)
    back = alpha * 4 * sd + mu
    return float(np.mean(np.abs(raw) > ALPHA_CLIP)), float(np.mean(np.abs(back - x)) / x.std())


MIN_ROWS = 10  # the mixtures' 10 components need at least as many values


def measure(rows: int, seed: int = 0) -> list[dict]:
    out = []
    for name, x in columns(rows, seed).items():
        sub = x[np.random.default_rng(seed).choice(len(x), min(GMM_ROWS, len(x)), replace=False)]
        fits = {"sklearn-full": lambda: sklearn_modes(x, seed),
                "ours-full": lambda: fit_modes(x, bins=None),
                "ours-fast": lambda: fit_modes(sub)}
        for fit_name, fit in fits.items():
            t0 = time.perf_counter()
            m = fit()
            seconds = time.perf_counter() - t0
            clipped, error = round_trip(m, x, seed)
            out.append({"column": name, "fit": fit_name, "rows": rows, "seconds": round(seconds, 3), "modes": m.k,
                        "mean_loglik_nats": round(m.mean_log_likelihood(x), 4), "alpha_clipped_share": round(clipped, 5),
                        "round_trip_mae_over_sd": round(error, 6)})
            print(json.dumps(out[-1]), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the rows here")
    args = ap.parse_args()
    if args.rows < MIN_ROWS:
        ap.error(f"--rows must be at least {MIN_ROWS} (a mixture of up to 10 modes needs rows to fit), got {args.rows}")
    rows = measure(args.rows, args.seed)
    print("\n| column | fit | seconds | modes | mean log-lik (nats/value) | alpha clipped | round-trip MAE / sd |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['column']} | {r['fit']} | {r['seconds']:.2f} | {r['modes']} | {r['mean_loglik_nats']:.4f} | "
              f"{r['alpha_clipped_share']:.4%} | {r['round_trip_mae_over_sd']:.2e} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
