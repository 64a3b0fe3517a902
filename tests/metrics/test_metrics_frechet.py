"""FID, KID and the classifier score on features with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from ganforge.metrics.frechet import classifier_score, frechet_distance, kernel_distance


def closed_form(mu1, s1, mu2, s2) -> float:
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def gaussian(rng, mu, cov, n):
    return torch.from_numpy(rng.multivariate_normal(mu, cov, size=n))


def test_fid_of_a_set_with_itself_is_zero():
    x = torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    assert abs(frechet_distance(x, x)) < 1e-6


def test_fid_equals_the_closed_form_of_the_fitted_gaussians():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 5))
    s1, s2 = a @ a.T / 5 + 0.1 * np.eye(5), np.diag([0.5, 1.0, 2.0, 0.3, 1.5])
    mu1, mu2 = np.zeros(5), np.array([1.0, -0.5, 0.0, 2.0, 0.3])
    x, y = gaussian(rng, mu1, s1, 4000), gaussian(rng, mu2, s2, 4000)
    fid = frechet_distance(x, y)
    # exactly the Fréchet distance of the sample means and (unbiased) covariances ...
    xs, ys = x.numpy(), y.numpy()
    assert fid == pytest.approx(closed_form(xs.mean(0), np.cov(xs.T), ys.mean(0), np.cov(ys.T)), rel=1e-6)
    # ... and close to that of the true distributions
    assert fid == pytest.approx(closed_form(mu1, s1, mu2, s2), rel=0.05)


def test_fid_of_shifted_isotropic_gaussians_is_the_squared_shift():
    rng = np.random.default_rng(1)
    x = gaussian(rng, np.zeros(3), np.eye(3), 20000)
    y = gaussian(rng, np.full(3, 2.0), np.eye(3), 20000)
    assert frechet_distance(x, y) == pytest.approx(12.0, rel=0.02)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1500, 8, generator=g), torch.randn(1500, 8, generator=g)
    same, same_std = kernel_distance(a, b, subsets=20, subset_size=500)
    assert abs(same) < 3 * same_std + 1e-3
    shifted, _ = kernel_distance(a, b + 1.0, subsets=20, subset_size=500)
    assert shifted > 0.1 > abs(same) * 10


def test_kid_is_reproducible_and_leaves_the_global_rng_alone():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 4, generator=g), torch.randn(300, 4, generator=g) + 0.5
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = kernel_distance(a, b, subsets=5, subset_size=100, seed=7)
    assert torch.equal(before, torch.random.get_rng_state())
    assert kernel_distance(a, b, subsets=5, subset_size=100, seed=7) == first


def test_classifier_score_bounds():
    k = 10
    confident = torch.full((1000, k), -20.0)
    confident[torch.arange(1000), torch.arange(1000) % k] = 20.0
    assert classifier_score(confident, splits=1)[0] == pytest.approx(k, rel=1e-4)  # every class, each certain
    assert 9 < classifier_score(confident)[0] < k  # 10 random splits are not perfectly balanced
    one_class = torch.zeros(1000, k)
    one_class[:, 3] = 20.0
    assert classifier_score(one_class)[0] == pytest.approx(1.0, abs=1e-4)  # collapsed
    assert classifier_score(torch.zeros(1000, k))[0] == pytest.approx(1.0, abs=1e-6)  # uncertain


def test_features_must_be_a_matrix():
    with pytest.raises(ValueError, match="features"):
        frechet_distance(torch.zeros(10), torch.zeros(10, 2))


def test_kid_depends_on_its_seed_and_not_on_the_global_rng_state():
    """The subsets KID averages over are drawn from ``seed``: the same seed after any global seeding gives
    the same value, and another seed draws other subsets (another value)."""
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(300, 4, generator=g), torch.randn(300, 4, generator=g) + 0.5
    torch.manual_seed(1)
    first = kernel_distance(a, b, subsets=5, subset_size=50, seed=7)
    torch.manual_seed(999)
    assert kernel_distance(a, b, subsets=5, subset_size=50, seed=7) == first
    assert kernel_distance(a, b, subsets=5, subset_size=50, seed=8) != first


def test_kid_of_two_whole_sets_has_no_spread():
    """Both sets no larger than the subset size: every subset is the whole of both (MMD^2 ignores order),
    so the 100 'subsets' are one value; its std was float noise (3.9e-14). It is NaN now."""
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(297, 8, generator=g), torch.randn(297, 8, generator=g) + 0.3
    mean, std = kernel_distance(a, b, subsets=10, subset_size=1000)
    assert np.isnan(std) and mean > 0
    _, std = kernel_distance(a, torch.cat([b, b[:50] + 0.1]), subsets=10, subset_size=1000)
    assert std > 0  # the larger set is resampled: a spread


def _torchmetrics_is(logits, splits, seed):
    import warnings

    from torchmetrics.image.inception import InceptionScore

    from ganforge.metrics.frechet import Precomputed

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        metric = InceptionScore(feature=Precomputed(logits.shape[1]), splits=splits)
        metric.update(logits)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            mean, std = metric.compute()
    return float(mean), float(std)


@pytest.mark.parametrize("n", [1000, 300, 20])
def test_classifier_score_equals_torchmetrics_on_equal_splits(n):
    """Where torch.chunk splits equally (n divisible by 10) the score is torchmetrics' to the last bit;
    the std is the ddof=0 one of Salimans et al.'s np.std: torchmetrics' (ddof=1) times sqrt(9/10)."""
    logits = torch.randn(n, 10, generator=torch.Generator().manual_seed(n), dtype=torch.float64) * 3
    mean, std = classifier_score(logits, 10, seed=5)
    tm_mean, tm_std = _torchmetrics_is(logits, 10, 5)
    assert mean == tm_mean
    assert std == pytest.approx(tm_std * (9 / 10) ** 0.5, rel=1e-12)


def test_classifier_score_splits_are_balanced():
    """torch.chunk made 91 items nine splits of 10 and one of 1, and 12 items 6 splits of 2 (while the
    protocol said 10). The splits are Salimans et al.'s i*n//10 boundaries: sizes differ by at most one."""
    from ganforge.metrics.frechet import split_bounds

    assert [b - a for a, b in split_bounds(91, 10)] == [9, 9, 9, 9, 9, 9, 9, 9, 9, 10]
    assert [b - a for a, b in split_bounds(12, 10)] == [1, 1, 1, 1, 2, 1, 1, 1, 1, 2]
    logits = torch.randn(91, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    mean, std = classifier_score(logits, 10, seed=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        idx = torch.randperm(91)
    p = logits[idx].softmax(1).numpy()
    scores = []
    for a, b in split_bounds(91, 10):  # Salimans et al.'s inception_score.py, in numpy
        part = p[a:b]
        py = part.mean(0, keepdims=True)
        scores.append(np.exp(np.mean(np.sum(part * (np.log(part) - np.log(py)), 1))))
    assert (mean, std) == pytest.approx((np.mean(scores), np.std(scores)), rel=1e-10)


def test_classifier_score_refuses_fewer_than_two_items_per_split(one_line):
    from ganforge.metrics.registry import MetricError

    with pytest.raises(MetricError, match="needs at least 20 samples") as e:
        classifier_score(torch.zeros(12, 10), 10)
    one_line(e)
