"""The Parzen-window estimate against Gaussians whose log-likelihood is known in closed form."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ganforge.metrics import parzen
from ganforge.metrics.families import parzen_split


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


# --- where sigma is chosen: never on the reported images --------------------------------------

def _parzen_report(dataset, metric, samples, **kw):
    from ganforge.metrics import Evaluator

    report = Evaluator(dataset, [metric], **kw).run(samples).to_dict()
    (name, m), = report["metrics"].items()
    return name, m["values"], m["protocol"]


def test_digits_test_split_sigma_is_chosen_on_held_out_training_images():
    """digits has no valid split: sigma was chosen on digits/test[:297] and the likelihood reported on the
    same 297 images. It is chosen on the last 20% of the training split now."""
    from ganforge.data import load_dataset

    train = load_dataset("digits", split="train").x.numpy()
    test = load_dataset("digits", split="test").x.numpy()
    centres = train[:297]
    name, values, protocol = _parzen_report("digits", "parzen297_test", centres)
    assert protocol["sigma_selected_on"].startswith("digits/train[1200:1500]")
    assert protocol["reference"] == "digits/test (297)"
    want = parzen.parzen(centres, train[1200:], test)
    assert values[name] == pytest.approx(want["ll"], rel=1e-6) and values[f"{name}.sigma"] == want["sigma"]


def test_reported_training_split_keeps_its_tail_out_of_the_report():
    from ganforge.data import load_dataset

    train = load_dataset("digits", split="train").x.numpy()
    test = load_dataset("digits", split="test").x.numpy()
    name, values, protocol = _parzen_report("digits", "parzen297_train", test)
    assert protocol["reference"].startswith("digits/train[:1200] (1200 of 1500")
    assert protocol["sigma_selected_on"].startswith("digits/train[1200:1500]")
    want = parzen.parzen(test, train[1200:], train[:1200])
    assert values[name] == pytest.approx(want["ll"], rel=1e-6)
    assert values[f"{name}.se"] == pytest.approx(want["se"], rel=1e-4)


def test_a_split_holding_the_candidates_holds_out_its_own_tail():
    """digits/all holds train (and test): sigma is chosen on its own last 20%, reported on the rest."""
    from ganforge.data import load_dataset

    every = load_dataset("digits", split="all").x.numpy()
    name, values, protocol = _parzen_report("digits", "parzen100_all", every[:100])
    h = len(every) // 5
    assert protocol["sigma_selected_on"].startswith(f"digits/all[{len(every) - h}:{len(every)}]")
    assert protocol["reference"].startswith(f"digits/all[:{len(every) - h}]")


def test_mnist_valid_for_train_and_test_and_the_training_tail_for_valid(fake_mnist):
    payload = fake_mnist(n_train=200, n_valid=50, n_test=100)
    x60 = payload["x_train60k"][:, None]
    samples = x60[:60]
    for metric, sigma_on, reference in (
            ("parzen60_test", "mnist/valid[:50]", "mnist/test (100)"),
            ("parzen60_train", "mnist/valid[:50]", "mnist/train (200)"),
            ("parzen60_valid", "mnist/train[160:200]", "mnist/valid (50)"),
            ("parzen60_train60k", "mnist/train60k[200:250]", "mnist/train60k[:200] (200 of 250")):
        name, values, protocol = _parzen_report("mnist", metric, samples)
        assert protocol["sigma_selected_on"].startswith(sigma_on), metric
        assert protocol["reference"].startswith(reference), metric


def test_sigma_images_identical_to_reported_ones_are_left_out(tmp_path, one_line):
    from ganforge.metrics.registry import MetricError

    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (40, 6, 6), dtype=np.uint8)
    x[35] = x[3]  # one held-out image repeats a reported one
    np.savez(tmp_path / "d.npz", x=x)
    name, values, protocol = _parzen_report(f"npz:{tmp_path / 'd.npz'}", "parzen40_train", x[:, None])
    assert protocol["sigma_images_dropped"].startswith("1 images identical")
    want = parzen.parzen(x[:, None], np.delete(x[32:], 3, axis=0), x[:32])
    assert values[name] == pytest.approx(want["ll"], rel=1e-6)
    x[32:] = x[:8]  # every held-out image repeats a reported one: refused
    np.savez(tmp_path / "e.npz", x=x)
    from ganforge.metrics import Evaluator

    with pytest.raises(MetricError, match="no disjoint images") as e:
        Evaluator(f"npz:{tmp_path / 'e.npz'}", ["parzen40_train"]).run(x[:, None])
    one_line(e)
    np.savez(tmp_path / "f.npz", x=x[:4])
    with pytest.raises(MetricError, match="too few to hold out"):
        Evaluator(f"npz:{tmp_path / 'f.npz'}", ["parzen4_train"]).run(x[:4, None])


def test_a_train_split_too_small_to_hold_out_is_passed_over():
    """A train split of 4 images holds out none (20% rounds to 0): sigma is chosen on the reported split's own tail,
    as before the sigma splits were listed once (the empty pool had raised a ValueError from a reshape)."""
    rng = np.random.default_rng(0)
    data = {"train": rng.integers(0, 256, (4, 1, 8, 8), dtype=np.uint8),
            "test": rng.integers(0, 256, (10, 1, 8, 8), dtype=np.uint8)}
    ctx = SimpleNamespace(info=SimpleNamespace(name="tiny", splits=("train", "test")),
                          reference=lambda split: SimpleNamespace(x=data[split]))
    choice = parzen_split(ctx, "test")
    assert choice.sigma_desc == "tiny/test[8:10] (held out of the report)" and len(choice.sigma_x) == 2
