"""Distance to closest record: exact copies are found at distance exactly 0, with their index."""

import math

import numpy as np
import pytest
import torch

from ganforge.privacy.distances import DcrReport, nearest


def test_nearest_finds_exact_copies_at_distance_zero():
    refs = torch.rand(500, 64)
    queries = torch.cat([refs[[7, 300]], torch.rand(3, 64) + 2])
    d, idx = nearest(queries, refs, chunk=2)
    assert d[0] == 0 and d[1] == 0 and list(idx[:2]) == [7, 300] and (d[2:] > 1).all()



def test_the_near_copy_p_value_is_the_binomial_tail_at_or_above_the_count():
    """Hand case: threshold = the 10% quantile of held-out DCRs 1..100 = 10.9; two of five synthetic DCRs are at
    or below it, so p = P(X >= 2) for X ~ Binomial(5, 0.1) = 1 - 0.9^5 - 5 * 0.1 * 0.9^4."""
    report = DcrReport("pixels", np.array([0.5, 5.0, 20.0, 50.0, 100.0]), np.arange(1.0, 101.0),
                       np.zeros(5, int), quantile=0.1)
    s = report.summary()
    assert s["threshold"] == pytest.approx(10.9) and s["near_copies"] == 2
    tail = sum(math.comb(5, j) * 0.1**j * 0.9 ** (5 - j) for j in range(2, 6))
    assert tail == pytest.approx(1 - 0.9**5 - 5 * 0.1 * 0.9**4)
    assert s["near_copy_p_value"] == pytest.approx(tail, rel=1e-9)


def test_the_ratio_is_of_medians_not_means():
    report = DcrReport("pixels", np.array([1.0, 1.0, 10.0]), np.array([2.0, 2.0, 2.0]), np.zeros(3, int))
    assert report.ratio == pytest.approx(0.5)  # medians 1 / 2; the means would give 4 / 2
    assert report.summary()["ratio"] == pytest.approx(0.5)
