"""A run's eval/<checkpoint>.json, merged one evaluation after another: each metric says its own samples."""

import json

from ganforge.metrics.evaluation import MetricResult, Report, write_report


def _report(name: str, value: float, n: int, seed: int) -> Report:
    result = MetricResult(name, name.rstrip("0123456789"), {name: value}, {name: "lower"}, {}, 0.1)
    return Report("digits", [result], {"source": "generator", "checkpoint": "latest.pt", "step": 100, "n": n,
                                       "seed": seed})


def test_merged_metrics_keep_their_own_samples(tmp_path):
    # probe, item 2: `eval --n 1000; eval --metrics fid; eval --metrics kid --n 500 --seed 7` left the header
    # {n: 500, seed: 7} describing every metric in the file, fid1000's and parzen1000's too
    path = tmp_path / "latest.json"
    write_report(_report("parzen1000", 1.0, 1000, 0), path)
    write_report(_report("fid1000", 2.0, 1000, 0), path)
    write_report(_report("kid500", 3.0, 500, 7), path)
    data = json.loads(path.read_text())
    own = {name: (m["samples"]["n"], m["samples"]["seed"]) for name, m in data["metrics"].items()}
    assert own == {"parzen1000": (1000, 0), "fid1000": (1000, 0), "kid500": (500, 7)}
    assert all(m["samples"]["created"] for m in data["metrics"].values())
    assert data["samples"]["n"] == 500 and "last evaluation" in data["samples_of"]
    assert data["values"] == {"parzen1000": 1.0, "fid1000": 2.0, "kid500": 3.0}


def test_a_file_from_before_per_metric_samples_keeps_its_header_for_its_metrics(tmp_path):
    path = tmp_path / "latest.json"
    old = _report("fid1000", 2.0, 1000, 0).to_dict()  # written without per-metric samples
    path.write_text(json.dumps(old))
    write_report(_report("kid500", 3.0, 500, 7), path)
    data = json.loads(path.read_text())
    assert data["metrics"]["fid1000"]["samples"]["n"] == 1000 and data["metrics"]["kid500"]["samples"]["seed"] == 7


def test_a_checkpoint_label_that_moved_to_another_step_starts_a_new_file(tmp_path):
    """eval/best.json held fid of step 20's best beside kid of step 30's (a resumed run kept a new best), all
    under step 30, and curves.png plotted both there: only figures of the same step are merged."""
    path = tmp_path / "best.json"
    first = _report("fid1000", 2.0, 1000, 0)
    first.samples |= {"checkpoint": "best", "step": 20}
    write_report(first, path)
    moved = _report("kid500", 3.0, 500, 0)
    moved.samples |= {"checkpoint": "best", "step": 30}
    write_report(moved, path)
    data = json.loads(path.read_text())
    assert data["values"] == {"kid500": 3.0} and data["metrics"]["kid500"]["samples"]["step"] == 30
    again = _report("fid1000", 1.5, 1000, 0)
    again.samples |= {"checkpoint": "best", "step": 30}
    write_report(again, path)
    assert json.loads(path.read_text())["values"] == {"kid500": 3.0, "fid1000": 1.5}
