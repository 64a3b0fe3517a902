"""Pictures people read: layering of 2-D plots, titles, the nearest-neighbour sheet, histograms."""

import numpy as np
from PIL import Image

from ganforge.figures import drawing as viz, run_figures as figures


def test_generated_points_are_drawn_over_the_mode_markers_with_real_data_under(tmp_path, closed_figures):
    centers = [[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]
    points = np.repeat(np.asarray(centers[:7]), 50, axis=0)  # one mode missed
    viz.save_points_plot(points, tmp_path / "p.png", centers=centers, real=points + 0.01, title="run · step 9",
                         std=0.05)
    ax = closed_figures[-1].axes[0]
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


def test_histogram_goes_log_when_distances_span_decades(tmp_path, closed_figures):
    bins, log = figures.histogram_bins(np.array([0.5, 0.7, 0.9]))
    assert not log and bins[0] == 0
    wide = np.array([0.0, 1e-4, 1e-3, 0.5, 2.0])
    bins, log = figures.histogram_bins(wide)
    assert log and bins[0] > 0 and np.allclose(np.diff(np.log(bins)), np.diff(np.log(bins))[0])
    figures.plot_nn_histogram(wide, None, tmp_path / "h.png", "data units", title="run · step 1")
    ax = closed_figures[-1].axes[0]
    assert ax.get_xscale() == "log" and "1 exact copies at 0" in ax.get_legend().get_texts()[0].get_text()
