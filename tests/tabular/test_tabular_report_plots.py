"""The report's figures and its one-file HTML."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image

from ganforge.privacy.distances import nearest
from ganforge.privacy.membership import black_box
from ganforge.tabular.report import Measures, build
from ganforge.tabular.report.html import render
from ganforge.tabular.report.plots import columns_figure, correlation_figure, correlation_matrix

KINDS = {"x": "numeric", "y": "numeric", "flag": "boolean", "<c>": "categorical", "t": "datetime"}


def _table(seed: int, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "y": x + rng.normal(size=n), "flag": x > 0, "<c>": rng.choice(list("ab"), n),
                         "t": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")})


def test_figures_are_pngs_with_a_panel_per_column():
    real, syn = _table(0), _table(1)
    image = Image.open(io.BytesIO(columns_figure(real, syn, KINDS)))
    assert image.format == "PNG" and image.width > image.height  # 5 panels: one row of four, one more
    corr = Image.open(io.BytesIO(correlation_figure(real, syn, KINDS)))
    assert corr.format == "PNG" and corr.width > 2 * corr.height  # three matrices side by side
    m = correlation_matrix(real, KINDS)
    assert list(m.columns) == ["x", "y", "flag", "t"] and m.loc["x", "y"] > 0.5
    assert correlation_figure(real, syn, {"x": "numeric", "<c>": "categorical"}) is None


def test_html_is_one_file_and_escapes_names():
    real, syn = _table(0), _table(1)
    report = build(real, syn, KINDS, Measures(nearest, black_box), holdout=_table(2), names={"real": "r<1>.csv"})
    text = render(report, columns_figure(real, syn, KINDS), correlation_figure(real, syn, KINDS))
    assert text.count("data:image/png;base64,") == 2
    assert "r&lt;1&gt;.csv" in text and "&lt;c&gt;" in text and "<c>" not in text
    assert "membership AUROC" in text and "train on synthetic" in text


def test_a_cjk_column_name_draws_without_glyph_warnings(recwarn):
    """DejaVu Sans has no CJK glyphs: matplotlib warned twice per character, with source lines, on stderr of a
    report that succeeded. The boxes are drawn; the warnings are silenced, and only those."""
    real, syn = (_table(seed).rename(columns={"x": "类别", "<c>": "城市"}) for seed in (0, 1))
    kinds = {("类别" if k == "x" else "城市" if k == "<c>" else k): v for k, v in KINDS.items()}
    columns_figure(real, syn, kinds)
    correlation_figure(real, syn, kinds)
    assert not [w for w in recwarn if "missing from font" in str(w.message)]
