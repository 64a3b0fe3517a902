"""``ganforge audit`` end to end: the report, the closest-pairs figure, the audit in a datasheet."""

import json

from one_line import fails

from ganforge.cli import main


def test_audit_writes_its_report_and_figure(cgan_run, tmp_path, capsys):
    out, fig = tmp_path / "a.json", tmp_path / "pairs.png"
    assert main(["audit", str(cgan_run), "--n", "200", "--members", "150", "--judge", "none", "--out", str(out),
                 "--figure", str(fig)]) == 0
    report = json.loads(out.read_text())
    assert report["holdout_data"] == "digits (test)" and set(report["membership"]) == {"black_box_pixels",
                                                                                        "white_box_d"}
    assert fig.stat().st_size > 0 and "membership white_box_d: AUROC" in capsys.readouterr().out
    assert main(["export", str(cgan_run), "--n", "20", "--out", str(tmp_path / "s.npz"), "--audit", str(out)]) == 0
    assert "DCR (pixels)" in (tmp_path / "s.datasheet.md").read_text()


def test_audit_refuses_runs_that_draw_nothing_from_noise(tiny_runs, tmp_path, capsys):
    # probe C, item 4: a pix2pix run crashed with a conv-channel RuntimeError inside the attacks
    for name, can in (("pix2pix", "it offers translate; try `ganforge translate"), ("sr", "it offers upscale")):
        run = tiny_runs / name
        capsys.readouterr()  # what training it on first use printed
        fails(capsys, ["audit", run, "--n", "10", "--members", "10", "--judge", "none",
                       "--out", tmp_path / "a.json"], "run, which cannot be audited", can)
    assert not (tmp_path / "a.json").exists()
