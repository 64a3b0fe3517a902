"""Spreads that do not exist, undefined values and invalid inputs: said so, not reported as numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganforge.data import load_dataset
from ganforge.metrics import Evaluator, frechet, modes, prdc
from ganforge.metrics.evaluation import write_report
from ganforge.metrics.registry import MetricError


def _strict_json(text: str):
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_kid_of_two_whole_sets_reports_no_std_and_is_splits_are_recorded(fast_judges, tmp_path):
    """kid297 of 297 samples against digits' 297 test images: every subset was both whole sets, and the
    'std' 3.9e-14 was float noise. It is null in the JSON, n/a in the table, with a note."""
    train = load_dataset("digits", split="train").x.numpy()
    report = Evaluator("digits", ["kid297", "kid400", "is297"]).run(train[:400])
    data = report.to_dict()
    assert data["values"]["kid297_test_lenet8.std"] is None
    kid = data["metrics"]["kid297_test_lenet8"]["protocol"]
    assert kid["resampled"] == [] and "no spread to report" in kid["note"]
    assert data["metrics"]["kid400_test_lenet8"]["protocol"]["resampled"] == ["samples"]
    assert data["values"]["kid400_test_lenet8.std"] > 0
    table = report.table()
    assert "± n/a" in table and "note: kid297_test_lenet8: every subset is the whole of both sets" in table
    is_ = data["metrics"]["is297_lenet8"]["protocol"]
    assert sum(is_["split_sizes"]) == 297 and len(is_["split_sizes"]) == 10
    assert max(is_["split_sizes"]) - min(is_["split_sizes"]) == 1 and is_["std_ddof"] == 0
    path = write_report(report, tmp_path / "r.json")
    assert _strict_json(path.read_text())["values"]["kid297_test_lenet8.std"] is None


def test_is_with_fewer_than_two_samples_per_split_is_refused_by_name(one_line):
    with pytest.raises(MetricError, match="needs at least 20 samples") as e:
        Evaluator("digits", ["is12"])
    one_line(e)


def test_undefined_reverse_kl_is_null_in_strict_json_with_a_note(tmp_path):
    """No sample within 3 std of a ring8 centre: the KL of an empty histogram was written as Infinity."""
    report = Evaluator("ring8", ["modes100_3std"]).run(np.full((100, 2), 50.0, np.float32))
    path = write_report(report, tmp_path / "m.json")
    data = _strict_json(path.read_text())
    assert data["values"]["modes100_3std.reverse_kl"] is None and data["values"]["modes100_3std"] == 0
    assert "undefined" in data["metrics"]["modes100_3std"]["protocol"]["note"]
    assert "note: modes100_3std: no sample lies within 3 std" in report.table()


def _with_nan(x):
    x = np.array(x, dtype=np.float64)
    x[3, 1] = np.nan
    return x


@pytest.mark.parametrize("measure", [
    lambda r, f: prdc.precision_recall(r, f),
    lambda r, f: prdc.density_coverage(r, f),
    lambda r, f: frechet.frechet_distance(torch.as_tensor(r), torch.as_tensor(f)),
    lambda r, f: frechet.kernel_distance(torch.as_tensor(r), torch.as_tensor(f), subsets=3, subset_size=20),
    lambda r, f: frechet.classifier_score(torch.as_tensor(f), 2),
], ids=["pr", "dc", "fid", "kid", "is"])
def test_non_finite_features_are_refused_in_one_line(measure, one_line):
    """NaN features gave coverage 0.0 silently, and FID NaN with a LAPACK message."""
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((40, 4)), rng.standard_normal((40, 4))
    with pytest.raises(MetricError, match=r"NaN or infinite values \(1 of 40 rows\)") as e:
        measure(real, _with_nan(fake))
    one_line(e)
    fake[0, 0] = np.inf
    with pytest.raises(MetricError, match="NaN or infinite"):
        measure(_with_nan(real), fake)


def test_mode_coverage_refuses_nan_samples(one_line):
    """NaN samples were counted as low quality."""
    x = _with_nan(np.zeros((10, 2)))
    with pytest.raises(MetricError, match=r"NaN or infinite values \(1 of 10 rows\)") as e:
        modes.mode_coverage(x, [[0.0, 0.0], [1.0, 1.0]], 0.1)
    one_line(e)
    out = modes.mode_coverage(x, [[0.0, 0.0], [1.0, 1.0]], 0.1, nonfinite="low_quality")  # a live view's choice
    assert out["nonfinite"] == 1 and out["high_quality"] == 0.9 and out["counts"] == [9, 0]


def test_acc_refuses_labels_it_cannot_read(fast_judges, one_line):
    """Labels outside the judge's classes gave accuracy 0 silently; too few gave numpy's ValueError."""
    test = load_dataset("digits", split="test")
    x, y = test.x.numpy(), test.y.numpy()
    ev = Evaluator("digits", ["acc297"])
    with pytest.raises(MetricError, match="outside the classes 0..9") as e:
        ev.run(x, y + 10)
    one_line(e)
    with pytest.raises(MetricError, match="needs a class label for each of its 297 samples, and 200 were given") as e:
        ev.run(x, y[:200])
    one_line(e)
    assert ev.run(x, y).values["acc297_lenet8"] > 0.5
