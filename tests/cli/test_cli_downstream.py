"""``ganforge downstream``: at least three classifier seeds, and a CAS report with its protocol name."""

import json

from ganforge.cli import main


def test_downstream_needs_three_seeds_and_reports_cas(cgan_run, tmp_path, capsys):
    assert main(["downstream", str(cgan_run), "--seeds", "0,1"]) == 2
    assert "at least 3" in capsys.readouterr().err
    assert main(["downstream", str(cgan_run), "--seeds", "0,1,-2"]) == 2
    assert "--seeds must be integers >= 0, got '0,1,-2'" in capsys.readouterr().err
    assert main(["downstream", str(cgan_run), "--what", "cas", "--n", "500", "--out", str(tmp_path / "c.json")]) == 0
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["cas"]["name"] == "cas500_test" and report["cas"]["real"]["top1_mean"] > 0.85
    assert len(report["cas"]["synthetic"]["top1"]) == 3

