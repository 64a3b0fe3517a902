"""``ganforge audit`` end to end: the report, the closest-pairs figure, the audit in a datasheet."""

import json

from one_line import fails

import ganforge
from ganforge.cli import main

# A class-conditional digits run trained on every image (`all`, which holds `train` and `test`).
ON_ALL = {"data": {"name": "digits", "split": "all"}, "train": {"batch_size": 32},
          "model": {"z_dim": 8, "g": {"arch": "dcgan", "base_channels": 8, "conditioning": "cbn"},
                    "d": {"arch": "dcgan", "base_channels": 8, "conditioning": "projection", "norm": "none"}},
          "log": {"every": 2, "tensorboard": False, "progress": False}}


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


def test_audit_refuses_held_out_images_the_run_trained_on(cgan_run, tmp_path, capsys):
    """Only split NAMES were compared: a run trained on digits `all` was audited against `test` (a subset of
    it: "non-members" that were members), and `--holdout-split all` on a `train` run was accepted too."""
    run = tmp_path / "all"
    ganforge.train(ON_ALL, out=run, steps=2)
    capsys.readouterr()
    fails(capsys, ["audit", run, "--n", "50", "--judge", "none", "--out", tmp_path / "a.json"],
          "the held-out split digits (test): 297 of its 297 images (100%) are images",
          "(digits, split all)", "pass another --holdout-split")
    fails(capsys, ["audit", cgan_run, "--n", "50", "--judge", "none", "--holdout-split", "all", "--out",
                   tmp_path / "a.json"], "digits (all): 1500 of its 1797 images (83%) are images")
    assert not (tmp_path / "a.json").exists()
