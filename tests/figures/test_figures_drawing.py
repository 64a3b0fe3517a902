"""Pictures people read: layering of 2-D plots, titles, the nearest-neighbour sheet, curves, histograms."""

import matplotlib
import numpy as np
from PIL import Image

from ganforge.figures import drawing as viz, run_figures as figures


def _captured(monkeypatch):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: figs.append(fig) or real_close(fig))
    return figs


def test_generated_points_are_drawn_over_the_mode_markers_with_real_data_under(tmp_path, monkeypatch):
    figs = _captured(monkeypatch)
    centers = [[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]
    points = np.repeat(np.asarray(centers[:7]), 50, axis=0)  # one mode missed
    viz.save_points_plot(points, tmp_path / "p.png", centers=centers, real=points + 0.01, title="run · step 9",
                         std=0.05)
    ax = figs[-1].axes[0]
    z = {c.get_label(): c.get_zorder() for c in ax.collections}
    assert z["real data"] < z["mode centres"] < z["generated"] < z["missed mode (no sample within 3 std)"]
    missed = next(c for c in ax.collections if c.get_label().startswith("missed")).get_offsets()
    assert np.allclose(missed, [centers[7]])  # the one mode with no points is crossed out
    assert ax.get_title() == "run · step 9\n7 of 8 modes hit"


def test_image_grid_title(tmp_path):
    images = np.zeros((4, 1, 8, 8), np.uint8)
    plain = Image.open(viz.save_image_grid(images, tmp_path / "a.png"))
    titled = Image.open(viz.save_image_grid(images, tmp_path / "b.png", title="digits · step 10 · checkpoint latest"))
    assert titled.size[1] > plain.size[1] and titled.size[0] >= plain.size[0]


def test_nn_sheet_is_wide_and_labelled():
    s = np.random.default_rng(0).integers(0, 256, (16, 1, 8, 8), dtype=np.uint8)
    sheet = viz.nn_sheet(s, s[::-1].copy(), np.linspace(0, 1, 16), title="t")
    assert sheet.size[0] >= 600
    # each pair: the sample's pixels at its place, the neighbour's right beside it
    few = viz.nn_sheet(s[:1], s[1:2], title=None)
    assert few.size[0] >= 600


def test_a_single_point_curve_is_a_labelled_marker(tmp_path, monkeypatch):
    figs = _captured(monkeypatch)
    figures.plot_curves({"fid1k_test_lenet": [(500, 42.0)]}, tmp_path / "c.png", title="run · training curves")
    assert figs[-1].get_suptitle() == "run · training curves"
    ax = figs[-1].axes[0]
    assert ax.get_title() == "fid1k_test_lenet"
    (line,) = ax.lines
    assert line.get_marker() == "o" and line.get_markersize() >= 6
    assert any("42 at step 500" in t.get_text() for t in ax.texts)
    lo, hi = ax.get_xlim()
    assert lo < 500 < hi and hi - lo < 2000
    figures.plot_curves({"modes_rkl": [(500, float("inf"))], "loss_D": [(500, float("nan"))]}, tmp_path / "c.png")
    assert {t.get_text() for ax in figs[-1].axes for t in ax.texts} == {"inf at step 500", "nan at step 500"}


def test_histogram_goes_log_when_distances_span_decades(tmp_path, monkeypatch):
    bins, log = figures.histogram_bins(np.array([0.5, 0.7, 0.9]))
    assert not log and bins[0] == 0
    wide = np.array([0.0, 1e-4, 1e-3, 0.5, 2.0])
    bins, log = figures.histogram_bins(wide)
    assert log and bins[0] > 0 and np.allclose(np.diff(np.log(bins)), np.diff(np.log(bins))[0])
    figs = _captured(monkeypatch)
    figures.plot_nn_histogram(wide, None, tmp_path / "h.png", "data units", title="run · step 1")
    ax = figs[-1].axes[0]
    assert ax.get_xscale() == "log" and "1 exact copies at 0" in ax.get_legend().get_texts()[0].get_text()


def test_single_points_of_one_panel_are_all_inside_it_with_labels_apart(tmp_path, monkeypatch):
    # probe, item 1: limits were set once per key (the last won, loss_D fell outside), the labels of the two
    # points overlapped and the suptitle sat on the top row's panel titles
    figs = _captured(monkeypatch)
    series = {"loss_D": [(100, 1.15)], "loss_G": [(100, -0.054)], "D_real": [(100, 1.04)], "D_fake": [(100, 1.03)],
              "diversity_dfeat": [(100, 0.31)]}
    figures.plot_curves(series, tmp_path / "c.png", title="cg · training curves · step 100")
    fig = figs[-1]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

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
    assert figures.curves_title(__import__("pathlib").Path("runs/cg"), {"a": [(100, 1.0)]}).endswith(
        "cg · training curves · step 100")
    assert figures.curves_title(__import__("pathlib").Path("runs/cg"), {"a": [(0, 1.0), (500, 2.0)],
                                                                        "b": [(2000, 1.0)]}).endswith("steps 0–2000")
