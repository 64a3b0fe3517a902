"""The report as one HTML file: the figures inline (base64 PNG), the scores in tables, no scripts.

One self-contained file is what people attach to a ticket or a data-sharing request; nothing is
fetched when it is opened. Every value shown comes from the JSON report, so the two never disagree.
"""

from __future__ import annotations

import base64
import html
import math

STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f3f3f3;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee}.note{color:#666;font-size:13px}"""
PAIRS_SHOWN = 40  # the worst-scored counted pairs in the table; the JSON has every pair


def _num(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else html.escape(str(value))


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class='n'>{_num(v)}</td>" if isinstance(v, float) or v is None
                                    else f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(png: bytes | None, alt: str) -> str:
    if not png:
        return f"<p class='note'>{html.escape(alt)}: not drawn (fewer than two correlated columns).</p>"
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"


def render(report: dict, columns_png: bytes | None, correlation_png: bytes | None) -> str:
    """The HTML text of a report made by :func:`ganforge.tabular.report.build`."""
    q, p, u = report["quality"], report["privacy"], report.get("utility")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>table report: "
             f"{html.escape(report['synthetic'])}</title><style>{STYLE}</style></head><body>",
             f"<h1>Synthetic table report</h1><p>real <b>{html.escape(report['real'])}</b> ({report['rows']['real']} "
             f"rows), synthetic <b>{html.escape(report['synthetic'])}</b> ({report['rows']['synthetic']} rows)"
             + (f", holdout <b>{html.escape(report['holdout'])}</b> ({report['rows']['holdout']} rows)"
                if report.get("holdout") else "") + "</p>",
             "<h2>Quality</h2>",
             _table(["overall", "column shapes", "column-pair trends", "pairs counted / scored",
                     "pair trends, all pairs"],
                    [[q["overall"], q["column_shapes"], q["column_pair_trends"],
                      f"{q['pairs_counted']} / {q['pairs_scored']}", q["column_pair_trends_all_pairs"]]]),
             f"<p class='note'>{html.escape(q['protocol'])}</p>",
             _image(columns_png, "each column, real against synthetic"),
             _table(["column", "kind", "metric", "score"],
                    [[c["column"], c["kind"], c["metric"], c["score"]] for c in q["columns"]]),
             "<h3>Correlations</h3>", _image(correlation_png, "correlation matrices"),
             f"<h3>Column pairs (counted, worst first; at most {PAIRS_SHOWN})</h3>"]
    counted = sorted((x for x in q["pairs"] if x["counted"]), key=lambda x: x["score"])[:PAIRS_SHOWN]
    parts.append(_table(["column 1", "column 2", "metric", "score", "real r or Cramér's V"],
                        [[x["columns"][0], x["columns"][1], x["metric"], x["score"],
                          x.get("real_correlation", x.get("real_cramers_v"))] for x in counted]))
    parts.append("<h2>Privacy</h2>")
    mia = p.get("membership") or {}
    rows = [["exact-copy rate (synthetic rows equal to a real row)", p["exact_copy_rate"]],
            ["DCR median, synthetic to real", p["dcr_median_synthetic"]],
            ["DCR median, uniform random rows to real", p["dcr_median_uniform"]],
            ["DCR baseline protection (synthetic / uniform, capped at 1)", p["dcr_baseline_protection"]],
            ["closer to train than to holdout (0.5 ideal)", p.get("closer_to_train_share")],
            ["membership AUROC, black-box distance attack (0.5 = no leak)", mia.get("auroc")]]
    parts.append(_table(["measure", "value"], rows))
    parts.append(f"<p class='note'>{html.escape(p['encoding'])}. {html.escape(p.get('without_holdout', ''))}</p>")
    parts.append("<h2>Utility</h2>")
    if u is None:
        parts.append(f"<p class='note'>{html.escape(report.get('utility_skipped', 'not measured'))}</p>")
    else:
        parts.append(_table(["", "accuracy", "macro F1", "training rows"],
                            [["train on real, test on real (TRTR)", u["trtr"]["accuracy"], u["trtr"]["macro_f1"],
                              u["trtr"]["train_rows"]],
                             ["train on synthetic, test on real (TSTR)", u["tstr"]["accuracy"],
                              u["tstr"]["macro_f1"], u["tstr"]["train_rows"]]]))
        parts.append(f"<p class='note'>target <b>{html.escape(u['target'])}</b>; {html.escape(u['model'])}; "
                     f"{html.escape(u['protocol'])}; {u['test_rows']} test rows.</p>")
        if u.get("note"):
            parts.append(f"<p class='note'>{html.escape(u['note'])}.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


__all__ = ["render"]
