"""The datasheet's Markdown: an audit's findings come first; what was not measured says so."""

from ganforge.synthetic import datasheet


def _sheet(audit):
    return {"what": "synthetic samples", "created": "now", "ganforge": "0", "format": 1,
            "output": {"n": 3}, "sampling": {"seed": 0}, "run": {"step": 5}, "training_data": {"dataset": "digits"},
            "metrics": datasheet.NOT_MEASURED, "differential_privacy": "not trained with DP-SGD",
            "privacy_audit": audit}


def test_markdown_puts_the_audit_findings_first():
    audit = {"flags": ["12 synthetic samples are exact copies of training images (pixels)"],
             "dcr": {"pixels": {"ratio": 0.5, "near_copies": 30, "n_synthetic": 100, "threshold_quantile": 0.01,
                                "exact_copies": 12}},
             "membership": {"white_box_d": {"auroc": 0.81, "ci_low": 0.75, "ci_high": 0.86, "level": 0.95}}}
    text = datasheet.markdown(_sheet(audit))
    audit_part = text[text.index("## privacy audit"):]
    assert audit_part.index("Findings: 12 synthetic samples are exact copies") < audit_part.index("DCR (pixels)")
    assert "AUROC 0.810 [0.750, 0.860]" in audit_part
    assert "not measured" in text and "not trained with DP-SGD" in text


def test_markdown_without_an_audit_says_how_to_run_one():
    text = datasheet.markdown(_sheet("not run (ganforge audit RUN --out audit.json, then export --audit audit.json)"))
    assert "ganforge audit RUN --out audit.json" in text[text.index("## privacy audit"):]
