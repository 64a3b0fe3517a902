"""The Parzen-window estimate against Gaussians whose log-likelihood is known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganforge.metrics import parzen


def gaussian_ll(x: np.ndarray, var: float) -> np.ndarray:
    d = x.shape[1]
    return -0.5 * d * math.log(2 * math.pi * var) - (x ** 2).sum(1) / (2 * var)


def test_estimate_of_a_gaussian_matches_its_analytic_log_likelihood():
    # Kernels of width h on samples of N(0, s^2 I) estimate N(0, (s^2 + h^2) I) exactly as M grows.
    rng = np.random.default_rng(0)
    s, h, d = 1.0, 0.5, 2
    centres = rng.standard_normal((40_000, d)).astype(np.float32) * s
    x = rng.standard_normal((2000, d)).astype(np.float32)
    ll = parzen.log_likelihoods(centres, x, [h])[0]
    expected = gaussian_ll(x.astype(np.float64), s * s + h * h)
    assert ll.mean() == pytest.approx(expected.mean(), abs=0.01)
    assert np.median(np.abs(ll - expected)) < 0.02  # pointwise too (tails have few centres)


def test_single_centre_is_exactly_a_gaussian():
    x = np.array([[0.0, 0.0], [1.0, -2.0], [0.3, 0.4]], dtype=np.float32)
    ll = parzen.log_likelihoods(np.zeros((1, 2), np.float32), x, [0.7, 1.3])
    for row, sigma in zip(ll, (0.7, 1.3)):
        assert row == pytest.approx(gaussian_ll(x.astype(np.float64), sigma ** 2), abs=1e-5)


def test_sigma_selection_finds_the_width_that_fits_the_validation_data():
    rng = np.random.default_rng(1)
    s, d = 0.2, 4
    target = parzen.SIGMAS[4]  # 0.278: valid data then have variance s^2 + target^2
    centres = rng.standard_normal((5000, d)).astype(np.float32) * s
    valid = rng.standard_normal((5000, d)).astype(np.float32) * math.sqrt(s * s + target * target)
    sigma, curve = parzen.select_sigma(centres, valid)
    assert sigma == target and len(curve) == 10 and int(np.argmax(curve)) == 4


def test_images_are_scaled_to_unit_pixels():
    rng = np.random.default_rng(2)
    centres = rng.integers(0, 256, (50, 1, 4, 4), dtype=np.uint8)
    test = rng.integers(0, 256, (20, 1, 4, 4), dtype=np.uint8)
    as_uint8 = parzen.log_likelihoods(centres, test, [0.3])
    as_float = parzen.log_likelihoods(centres.reshape(50, -1) / 255.0, test.reshape(20, -1) / 255.0, [0.3])
    assert as_uint8 == pytest.approx(as_float, abs=1e-4)


def test_protocol_reports_mean_standard_error_and_sigma(monkeypatch):
    rng = np.random.default_rng(3)
    centres = rng.integers(0, 256, (300, 1, 6, 6), dtype=np.uint8)
    valid = rng.integers(0, 256, (40, 1, 6, 6), dtype=np.uint8)
    test = rng.integers(0, 256, (90, 1, 6, 6), dtype=np.uint8)
    out = parzen.parzen(centres, valid, test)
    assert out["sigma"] in parzen.SIGMAS
    ll = parzen.log_likelihoods(centres, test, [out["sigma"]])[0]
    assert out["ll"] == pytest.approx(ll.mean()) and out["se"] == pytest.approx(ll.std() / math.sqrt(90))
    monkeypatch.setattr(parzen, "BLOCK", 7)  # batching does not change the answer
    assert parzen.parzen(centres, valid, test) == pytest.approx(out)


def test_dimension_mismatch_is_refused():
    with pytest.raises(ValueError, match="dimensions"):
        parzen.log_likelihoods(torch.zeros(3, 2), torch.zeros(3, 4), [1.0])
