"""``ganforge downstream``: at least three classifier seeds, and a CAS report with its protocol name."""

import json

from one_line import fails

import ganforge
from ganforge.cli import main
from test_cli_audit import ON_ALL


def test_downstream_needs_three_seeds_and_reports_cas(cgan_run, tmp_path, capsys):
    assert main(["downstream", str(cgan_run), "--seeds", "0,1"]) == 2
    assert "at least 3" in capsys.readouterr().err
    assert main(["downstream", str(cgan_run), "--seeds", "0,1,-2"]) == 2
    assert "--seeds must be integers >= 0, got '0,1,-2'" in capsys.readouterr().err
    assert main(["downstream", str(cgan_run), "--what", "cas", "--n", "500", "--out", str(tmp_path / "c.json")]) == 0
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["cas"]["name"] == "cas500_test" and report["cas"]["real"]["top1_mean"] > 0.85
    assert len(report["cas"]["synthetic"]["top1"]) == 3



def test_downstream_refuses_a_test_split_the_run_trained_on(cgan_run, tmp_path, capsys):
    """Only split NAMES were compared: a run trained on digits `all` had its real baseline tested on its own
    training images (100%), and `--test-split all` on a `train` run was accepted too."""
    run = tmp_path / "all"
    ganforge.train(ON_ALL, out=run, steps=2)
    capsys.readouterr()
    fails(capsys, ["downstream", run, "--what", "cas", "--n", "50", "--out", tmp_path / "c.json"],
          "the test split digits (test): 297 of its 297 images (100%) are images", "(digits, split all)",
          "pass another --test-split")
    fails(capsys, ["downstream", cgan_run, "--what", "cas", "--n", "50", "--test-split", "all"],
          "the test split digits (all): 1500 of its 1797 images (83%) are images")
    assert not (tmp_path / "c.json").exists()
