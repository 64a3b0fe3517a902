"""curves.png: what read_curves takes from stats.jsonl and eval/*.json, and how single points, titles and
values that cannot be drawn are shown."""

import json
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from ganforge.errors import GanforgeError
from ganforge.figures import curves


def test_curves_read_stats_and_eval_reports(tmp_path):
    lines = [{"step": 10, "loss_D": 1.0, "loss_G": 2.0, "D_real": 0.6, "lr_D": 1e-3, "img_per_s": 5.0},
             {"step": 20, "event": "interrupted", "message": "x"},
             {"step": 20, "loss_D": 0.9, "loss_G": 2.1, "D_real": 0.5, "eval/fid1k_test_lenet": 30.0,
              "eval/kid1k_test_lenet.std": 0.2}]
    damaged = b'\xff\xfe\n{"step": "x", "loss_D": 5}\n[1]\n{cut sh'  # not UTF-8, a string step, a list, torn
    (tmp_path / "stats.jsonl").write_bytes("\n".join(json.dumps(r) for r in lines).encode() + b"\n" + damaged)
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "step-0000030.json").write_text(json.dumps(
        {"samples": {"step": 30}, "values": {"fid1k_test_lenet": 20.0, "kid1k_test_lenet.std": 0.1}}))
    (tmp_path / "eval" / "step-0000040.json").write_text("[]")  # not a report: skipped like a bad line
    series = curves.read_curves(tmp_path)
    assert series["loss_D"] == [(10, 1.0), (20, 0.9)]
    assert series["fid1k_test_lenet"] == [(20, 30.0), (30, 20.0)]
    assert "lr_D" not in series and "img_per_s" not in series and "kid1k_test_lenet.std" not in series


def test_a_single_point_curve_is_a_labelled_marker(tmp_path, closed_figures):
    curves.plot_curves({"fid1k_test_lenet": [(500, 42.0)]}, tmp_path / "c.png", title="run · training curves")
    assert closed_figures[-1].get_suptitle() == "run · training curves"
    ax = closed_figures[-1].axes[0]
    assert ax.get_title() == "fid1k_test_lenet"
    (line,) = ax.lines
    assert line.get_marker() == "o" and line.get_markersize() >= 6
    assert any("42 at step 500" in t.get_text() for t in ax.texts)
    lo, hi = ax.get_xlim()
    assert lo < 500 < hi and hi - lo < 2000
    curves.plot_curves({"modes_rkl": [(500, float("inf"))], "loss_D": [(500, float("nan"))]}, tmp_path / "c.png")
    assert {t.get_text() for ax in closed_figures[-1].axes for t in ax.texts} == {"inf at step 500", "nan at step 500"}


def test_single_points_of_one_panel_are_all_inside_it_with_labels_apart(tmp_path, closed_figures):
    # probe, item 1: limits were set once per key (the last won, loss_D fell outside), the labels of the two
    # points overlapped and the suptitle sat on the top row's panel titles
    series = {"loss_D": [(100, 1.15)], "loss_G": [(100, -0.054)], "D_real": [(100, 1.04)], "D_fake": [(100, 1.03)],
              "diversity_dfeat": [(100, 0.31)]}
    curves.plot_curves(series, tmp_path / "c.png", title="cg · training curves · step 100")
    fig = closed_figures[-1]
    renderer = FigureCanvasAgg(fig).get_renderer()  # closed: measure the texts as saved
    for ax in fig.axes[:3]:
        lo, hi = ax.get_ylim()
        x_lo, x_hi = ax.get_xlim()
        for line in ax.lines:
            (x,), (y,) = line.get_xdata(), line.get_ydata()
            assert lo < y < hi and x_lo < x < x_hi, (ax.get_title(), line.get_label())
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        assert all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), ax.get_title()
    assert {t.get_text() for t in fig.axes[0].texts} == {"loss_D: 1.15 at step 100", "loss_G: -0.054 at step 100"}
    top = fig._suptitle.get_window_extent(renderer)
    assert all(not top.overlaps(ax.title.get_window_extent(renderer)) for ax in fig.axes[:3])


def test_curves_title_names_the_steps():
    assert curves.curves_title(Path("runs/cg"), {"a": [(100, 1.0)]}).endswith(
        "cg · training curves · step 100")
    assert curves.curves_title(Path("runs/cg"), {"a": [(0, 1.0), (500, 2.0)],
                                                                        "b": [(2000, 1.0)]}).endswith("steps 0–2000")


def test_an_unreadable_log_is_one_line_not_no_curves(tmp_path):
    (tmp_path / "stats.jsonl").mkdir()  # a folder of that name: read as "no records yet" before
    with pytest.raises(GanforgeError, match=r"cannot read .*stats.jsonl .*restore the file"):
        curves.read_curves(tmp_path)
