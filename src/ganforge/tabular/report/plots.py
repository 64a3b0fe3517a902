"""The report's pictures: each column real against synthetic, and the two correlation matrices.

Figures are drawn with matplotlib's Agg backend into PNG bytes, so the HTML report can carry them
inline (one file to mail or attach to a ticket) and nothing needs a display. Real is always blue and
drawn first, synthetic orange, in every panel, so a reader learns the code once.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ganforge.plotting import pyplot
from ganforge.tabular.report.quality import CONTINUOUS, DISCRETE, category_text, numeric_values
from ganforge.tabular.sampling import quiet_missing_glyphs

REAL, SYNTHETIC = "#1f77b4", "#ff7f0e"  # matplotlib's first two colours: blue real, orange synthetic
PANELS_PER_ROW = 4
HIST_BINS = 30  # shared by real and synthetic so the bars line up
TOP_CATEGORIES = 12  # bars per categorical panel, by real frequency; the rest are summed as "(other)"
LABEL_CHARS = 14  # a category's label is cut to this many characters so bars stay readable
DPI = 90  # about 360 px per panel: sharp in a browser, small inline
MAX_SIDE = 9.0  # inches per correlation matrix: 30 columns still take 7-point labels, the page stays < 2,600 px


def _png(fig) -> bytes:
    buf = io.BytesIO()
    with quiet_missing_glyphs():  # a CJK column name is drawn as boxes: no reason for warnings on stderr
        fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    pyplot().close(fig)
    return buf.getvalue()


def _continuous_panel(ax, real: pd.Series, syn: pd.Series, kind: str) -> None:
    r, s = numeric_values(real, kind).dropna(), numeric_values(syn, kind).dropna()
    both = pd.concat([r, s])
    if both.empty:
        ax.text(0.5, 0.5, "all null", ha="center", va="center", transform=ax.transAxes)
        return
    lo, hi = float(both.min()), float(both.max())
    distinct = np.unique(both.to_numpy())
    if 1 < len(distinct) <= HIST_BINS and kind == "numeric":  # few values (counts, codes): a pair of bars per value
        width = 0.4 * float(np.diff(distinct).min())
        for values, colour, label, shift in ((r, REAL, "real", -0.5), (s, SYNTHETIC, "synthetic", 0.5)):
            share = values.value_counts(normalize=True).reindex(distinct, fill_value=0.0)
            ax.bar(distinct + shift * width, share.to_numpy(), width, color=colour, label=label)
        ax.set_ylabel("share", fontsize=7)
        return
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, HIST_BINS + 1)
    scale = 1e9 * 86400 if kind == "datetime" else 1.0  # datetimes drawn as days since 1970, labelled as dates
    for values, colour, label in ((r, REAL, "real"), (s, SYNTHETIC, "synthetic")):
        if len(values):
            ax.hist(values / scale, bins=edges / scale, density=True, alpha=0.5, color=colour, label=label)
    if kind == "datetime":
        ticks = ax.get_xticks()
        ax.set_xticks(ticks)
        ax.set_xticklabels([pd.Timestamp(t * scale).strftime("%Y-%m-%d") for t in ticks], rotation=30, fontsize=7)
    ax.set_yticks([])


def _discrete_panel(ax, real: pd.Series, syn: pd.Series) -> None:
    def freq(col: pd.Series) -> pd.Series:
        text = category_text(col).fillna("(null)")
        return text.value_counts(normalize=True)

    pr, ps = freq(real), freq(syn)
    shown = list(pr.index[:TOP_CATEGORIES])
    rest = [c for c in pr.index.union(ps.index) if c not in shown]
    values_r = [pr.get(c, 0.0) for c in shown] + ([pr.reindex(rest).fillna(0).sum()] if rest else [])
    values_s = [ps.get(c, 0.0) for c in shown] + ([ps.reindex(rest).fillna(0).sum()] if rest else [])
    labels = [c[:LABEL_CHARS] for c in shown] + (["(other)"] if rest else [])
    x = np.arange(len(labels))
    ax.bar(x - 0.2, values_r, 0.4, color=REAL, label="real")
    ax.bar(x + 0.2, values_s, 0.4, color=SYNTHETIC, label="synthetic")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30 if len(labels) > 3 else 0, ha="right" if len(labels) > 3 else "center",
                       fontsize=7)
    ax.set_ylabel("share", fontsize=7)


def columns_figure(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str],
                   scores: Mapping[str, float] | None = None) -> bytes:
    """One panel per scored column (histogram or bars), titled with its column-shape score: PNG bytes."""
    names = [c for c, k in kinds.items() if k in CONTINUOUS + DISCRETE]
    rows = max(1, -(-len(names) // PANELS_PER_ROW))
    fig, axes = pyplot().subplots(rows, PANELS_PER_ROW, figsize=(4 * PANELS_PER_ROW, 3.1 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        if kinds[name] in CONTINUOUS:
            _continuous_panel(ax, real[name], synthetic[name], kinds[name])
        else:
            _discrete_panel(ax, real[name], synthetic[name])
        score = (scores or {}).get(name)
        ax.set_title(f"{name} ({kinds[name]})" + (f"  shape {score:.2f}" if score is not None and np.isfinite(score)
                                                  else ""), fontsize=9)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper right", ncol=2, fontsize=9)
    fig.suptitle("Each column: real (blue) against synthetic (orange)", fontsize=11, x=0.02, ha="left")
    with quiet_missing_glyphs():  # tight_layout measures the text, so it draws the glyphs too
        fig.tight_layout(rect=(0, 0, 1, 0.97))
    return _png(fig)


def correlation_matrix(df: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    """Pearson correlations of the continuous and boolean columns (booleans as 0/1), pairwise nulls left out."""
    cols = {}
    for name, kind in kinds.items():
        if kind in CONTINUOUS:
            cols[name] = numeric_values(df[name], kind)
        elif kind == "boolean":
            text = category_text(df[name]).str.lower()
            cols[name] = text.map({"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "yes": 1.0, "no": 0.0})
    return pd.DataFrame(cols).corr()


def correlation_figure(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str]) -> bytes | None:
    """Real and synthetic correlation matrices side by side, and their absolute difference: PNG bytes
    (None when fewer than two columns have a correlation)."""
    cr, cs = correlation_matrix(real, kinds), correlation_matrix(synthetic, kinds)
    if cr.shape[0] < 2:
        return None
    cs = cs.reindex(index=cr.index, columns=cr.columns)
    n = cr.shape[0]
    side = min(MAX_SIDE, max(3.2, 0.42 * n + 1.5))
    fig, axes = pyplot().subplots(1, 3, figsize=(3 * side + 1.0, side))
    panels = ((cr, "real", "RdBu_r", (-1, 1)), (cs, "synthetic", "RdBu_r", (-1, 1)),
              ((cr - cs).abs(), "|real - synthetic|", "Greys", (0, 1)))
    for ax, (m, title, cmap, (vmin, vmax)) in zip(axes, panels):
        image = ax.imshow(m.to_numpy(np.float64), cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(f"{title} (Pearson)", fontsize=10)
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
        ax.set_xticklabels([c[:LABEL_CHARS] for c in cr.columns], rotation=90, fontsize=7)
        ax.set_yticklabels([c[:LABEL_CHARS] for c in cr.index] if ax is axes[0] else [], fontsize=7)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    with quiet_missing_glyphs():  # tight_layout measures the text, so it draws the glyphs too
        fig.tight_layout()
    return _png(fig)


__all__ = ["columns_figure", "correlation_figure", "correlation_matrix"]
