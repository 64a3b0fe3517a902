"""``ganforge features`` refuses run kinds whose D does not read single images (probe C, item 3)."""

import numpy as np

from one_line import fails


def test_features_refuses_a_translation_run(tiny_runs, tmp_path, capsys):
    # pix2pix's D judges (edge, image) pairs: any input was a conv-channel RuntimeError traceback
    run = tiny_runs / "pix2pix"
    capsys.readouterr()  # what training it on first use printed
    np.save(tmp_path / "x.npy", np.zeros((3, 1, 8, 8), np.uint8))
    fails(capsys, ["features", run, "--input", tmp_path / "x.npy", "--out", tmp_path / "f.npy"],
          "is a paired-translation run, which cannot give D's features of single images", "it offers translate",
          f"ganforge translate {run}")
    assert not (tmp_path / "f.npy").exists()
