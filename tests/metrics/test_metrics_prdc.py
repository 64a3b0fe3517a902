"""Precision/recall and density/coverage against hand-computed cases and a brute-force reference."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from ganforge.metrics import prdc


def brute(real, fake, k):
    """The definitions of Kynkäänniemi et al. / Naeem et al., written as plainly as possible, with each
    reference code's 'inside': ``<=`` for precision/recall (ManifoldEstimator), ``<`` for density/coverage."""
    real, fake = np.asarray(real, float), np.asarray(fake, float)

    def radius(x, i):
        d = sorted(np.linalg.norm(x - x[i], axis=1))
        return d[k]  # d[0] is the point itself

    rr = [radius(real, i) for i in range(len(real))]
    fr = [radius(fake, j) for j in range(len(fake))]
    dist = lambda a, b: float(np.linalg.norm(a - b))  # noqa: E731
    precision = np.mean([any(dist(f, r) <= rr[i] for i, r in enumerate(real)) for f in fake])
    recall = np.mean([any(dist(r, f) <= fr[j] for j, f in enumerate(fake)) for r in real])
    density = sum(dist(f, r) < rr[i] for f in fake for i, r in enumerate(real)) / (k * len(fake))
    coverage = np.mean([min(dist(r, f) for f in fake) < rr[i] for i, r in enumerate(real)])
    return precision, recall, density, coverage


def test_hand_computed_one_dimensional_case():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0], [10.0]])
    fake = torch.tensor([[0.5], [20.0]])
    # k=1 radii: reals 1, 1, 1, 1, 7; fakes 19.5, 19.5
    assert prdc.precision_recall(real, fake, k=1) == {"precision": 0.5, "recall": 1.0}
    assert prdc.density_coverage(real, fake, k=1) == {"density": 1.0, "coverage": 0.4}


def test_identical_sets():
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(0))
    pr = prdc.precision_recall(x, x)
    dc = prdc.density_coverage(x, x)
    assert pr == {"precision": 1.0, "recall": 1.0} and dc["coverage"] == 1.0
    assert dc["density"] >= 1.0  # each fake lies in its own ball and its k neighbours'


def test_a_subset_is_precise_but_not_diverse():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(600, 2, generator=g)
    fake = real[real[:, 0] > 0.5]  # one corner of the distribution
    pr, dc = prdc.precision_recall(real, fake), prdc.density_coverage(real, fake)
    assert pr["precision"] == 1.0 and pr["recall"] < 0.6
    assert dc["coverage"] < 0.5


def test_a_far_shifted_set_scores_zero():
    g = torch.Generator().manual_seed(2)
    real = torch.randn(300, 3, generator=g)
    fake = torch.randn(300, 3, generator=g) + 100.0
    assert prdc.precision_recall(real, fake) == {"precision": 0.0, "recall": 0.0}
    assert prdc.density_coverage(real, fake) == {"density": 0.0, "coverage": 0.0}


def test_same_distribution_scores_high():
    g = torch.Generator().manual_seed(3)
    real, fake = torch.randn(2000, 4, generator=g), torch.randn(2000, 4, generator=g)
    pr, dc = prdc.precision_recall(real, fake), prdc.density_coverage(real, fake)
    assert pr["precision"] > 0.85 and pr["recall"] > 0.85
    assert dc["density"] == pytest.approx(1.0, abs=0.1) and dc["coverage"] > 0.9


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_the_definitions_on_random_data(k):
    rng = np.random.default_rng(k)
    real = rng.standard_normal((60, 3))
    fake = rng.standard_normal((45, 3)) * 1.3 + 0.4
    pr, dc = prdc.precision_recall(real, fake, k), prdc.density_coverage(real, fake, k)
    p, r, d, c = brute(real, fake, k)
    assert (pr["precision"], pr["recall"]) == pytest.approx((p, r))
    assert (dc["density"], dc["coverage"]) == pytest.approx((d, c))


def test_blocks_do_not_change_the_answer(monkeypatch):
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((70, 2)), rng.standard_normal((50, 2))
    whole = prdc.precision_recall(real, fake), prdc.density_coverage(real, fake)
    monkeypatch.setattr(prdc, "BLOCK", 7)
    assert (prdc.precision_recall(real, fake), prdc.density_coverage(real, fake)) == whole


def test_too_few_samples_for_k():
    with pytest.raises(ValueError, match="need more than 3"):
        prdc.knn_radii(torch.zeros(3, 2), 3)




def test_a_real_whose_nearest_fake_is_exactly_on_its_ball_edge_is_not_covered():
    """'Inside' is strict: a fake at distance exactly NND_k(r) from a real does not cover it."""
    real = torch.tensor([[0.0], [1.0], [3.0]])
    fake = torch.tensor([[2.0], [50.0]])
    # k=1 radii: 1, 1, 2; the nearest fake (2) is at 2 (> 1), exactly 1 (on the edge) and 1 (< 2) from the reals
    assert prdc.density_coverage(real, fake, k=1)["coverage"] == pytest.approx(1 / 3)
    assert brute(real, fake, k=1)[3] == pytest.approx(1 / 3)


def test_repeated_points_are_inside_their_zero_radius_balls_for_precision_and_recall():
    """Four copies of each point: every k=3 radius is 0. Precision/recall use ``distance <= radius``
    (Kynkäänniemi et al.'s ManifoldEstimator), so the set is precise and complete against itself; with
    the strict ``<`` it scored 0 and 0. Density/coverage keep Naeem et al.'s strict ``<``."""
    x = np.repeat(np.random.default_rng(0).normal(size=(100, 16)), 4, axis=0)
    assert prdc.precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
    assert prdc.density_coverage(x, x, k=3) == {"density": 0.0, "coverage": 0.0}
    assert prdc.density_coverage(x, x) == {"density": 0.8, "coverage": 1.0}  # k=5: the 5th is another point


def test_a_fake_exactly_on_a_real_ball_edge_is_precise():
    """Unlike coverage (strict, above), precision counts a fake at exactly NND_k(r) from a real."""
    real = torch.tensor([[0.0], [1.0], [3.0]])
    fake = torch.tensor([[5.0], [50.0]])  # k=1 radii 1, 1, 2: the fake at 5 is exactly 2 from the real at 3
    assert prdc.precision_recall(real, fake, k=1)["precision"] == 0.5
    assert brute(real, fake, k=1)[0] == 0.5


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_the_definitions_on_data_full_of_ties(k):
    """Points on a small integer grid: many distances tie exactly, with each other and with radii."""
    rng = np.random.default_rng(10 + k)
    real = rng.integers(0, 4, (80, 3)).astype(np.float32)
    fake = rng.integers(0, 5, (70, 3)).astype(np.float32) * 0.5 + 0.5
    pr, dc = prdc.precision_recall(real, fake, k), prdc.density_coverage(real, fake, k)
    p, r, d, c = brute(real, fake, k)
    assert (pr["precision"], pr["recall"]) == pytest.approx((p, r))
    assert (dc["density"], dc["coverage"]) == pytest.approx((d, c))
