"""benchmarks/style_figures.py: the three StyleGAN2 figures, from a tiny run."""

import sys

import numpy as np
from PIL import Image

from ganforge.cli import main
from ganforge.runs.run import load_run

TINY = ["--set", "data.name=digits", "--set", "model.g.channels=8", "--set", "model.g.w_dim=16",
        "--set", "model.d.channels=8", "--set", "model.z_dim=8", "--set", "train.batch_size=8",
        "--set", "log.tensorboard=false", "--set", "log.progress=false"]


def test_the_centres_figure_rows_are_psi_1_mean_and_centres(benchmark_script, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    assert main(["train", "stylegan2-mnist", "--steps", "2", "--out", str(run_dir), *TINY]) == 0
    figures = benchmark_script("style_figures")
    run = load_run(run_dir)
    rows = figures.centres_sweep(run, 5, 3).reshape(4, 5, *run.sample(1).shape[1:])
    assert np.array_equal(rows[0], run.sample(5, seed=0))
    assert np.array_equal(rows[1], run.sample(5, seed=0, truncation=0.5))
    assert not np.array_equal(rows[2], rows[1])  # towards centres is not towards the mean
    assert 1 < len({r.tobytes() for r in rows[3]}) <= 3  # psi 0: each z at one of the 3 centres
    monkeypatch.setattr(sys, "argv", ["style_figures.py", str(run_dir), "--out", str(tmp_path / "f"), "--n", "4",
                                      "--centres", "3"])
    figures.main()
    for name in ("truncation", "mixing", "truncation-centres"):
        assert Image.open(tmp_path / "f" / f"{name}.png").size[0] > 0
