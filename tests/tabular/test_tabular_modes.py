"""The variational mixture of a continuous column: the fast fit (subsample, binned, quantile start)
describes a column as well as the full fit, and finds separated modes."""

from __future__ import annotations

import numpy as np

from ganforge.tabular.modes import WEIGHT_THRESHOLD, fit_modes, sample_modes


def _three_modes(n=30_000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-5, 1, n // 2), rng.normal(10, 0.5, n // 3), rng.normal(30, 2, n - n // 2 - n // 3)])
    return rng.permutation(x)


def test_fast_fit_matches_the_full_fit():
    x = _three_modes()
    fast = fit_modes(x[:10_000])  # a third of the rows, binned, quantile start
    full = fit_modes(x, bins=None)  # every value
    assert abs(fast.mean_log_likelihood(x) - full.mean_log_likelihood(x)) < 0.02
    single = fit_modes(x, max_modes=1)
    assert fast.mean_log_likelihood(x) > single.mean_log_likelihood(x) + 0.5  # modes matter on this column


def test_modes_sit_on_the_clusters():
    m = fit_modes(_three_modes())
    assert all(w > WEIGHT_THRESHOLD for w in m.weights)
    for centre, share in ((-5, 1 / 2), (10, 1 / 3), (30, 1 / 6)):  # the modes near a cluster weigh its share
        near = [w for w, mu in zip(m.weights, m.means) if abs(mu - centre) < 4]
        assert abs(sum(near) - share) < 0.02


def test_a_value_draws_the_mode_it_belongs_to():
    m = fit_modes(_three_modes())
    k = sample_modes(m, np.array([10.0] * 200), np.random.default_rng(0))
    assert all(abs(m.means[i] - 10) < 3 for i in k)


def test_a_constant_column_has_one_mode():
    m = fit_modes(np.full(100, 7.0))
    assert m.k == 1 and m.means[0] == 7.0 and m.stds[0] > 0


def test_values_near_float64_s_limit_get_the_modes_of_their_scaled_copy():
    """A column of 1e300s: its squares overflow, so its spread was inf and it collapsed to one mode (every
    synthetic value the same, with overflow warnings). Fitted on values / max|x|, its modes are the unit
    column's scaled back."""
    unit = np.random.default_rng(0).normal(size=2000)
    with np.errstate(over="raise"):  # no overflow warning printed to the user either
        huge = fit_modes(unit * 1e300)
    small = fit_modes(unit)
    assert huge.k == small.k > 1
    assert np.allclose(np.array(huge.means) / 1e300, small.means) and np.allclose(np.array(huge.stds) / 1e300,
                                                                                   small.stds)
