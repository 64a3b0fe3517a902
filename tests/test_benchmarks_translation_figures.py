"""benchmarks/translation_figures.py's ``pix2pix`` and ``sheet`` groups end to end on MNIST stand-ins
(scikit-learn's digits; MNIST is not here) with a stand-in "lenet" judge. The three pix2pix-edges ablation
runs are trained here for one step at tiny width and marked done as the script marks them (its own training
call runs each preset's full budget on real MNIST: minutes, and a download), so what is checked is what
docs/benchmarks.md quotes: the markdown table with a row per preset and the protocol's metrics in range,
each run's translation_scores.json, and the ablation sheet (edges | L1 | cGAN | L1+cGAN | truth)."""

import json
import sys
from pathlib import Path

import torch
from PIL import Image

import ganforge
from ganforge.data import Dataset, translation_tasks as tt
from ganforge.metrics import translation_eval

sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
from translation_digits import fake_mnist, stand_in_lenet  # noqa: E402

TINY = ["model.g.base_channels=4", "model.d.base_channels=4", "train.batch_size=4", "log.tensorboard=false",
        "log.progress=false", "log.sample_every=1000", "log.checkpoint_every=1000"]
N = 32


def _stand_in_mnist(name, req, split):
    x, y = fake_mnist(40)
    return Dataset("mnist", "image", torch.from_numpy(x), torch.from_numpy(y), 10, {"sha256": "fake"})


def test_pix2pix_table_scores_and_the_ablation_sheet(benchmark_script, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tt, "_source", _stand_in_mnist)
    judge = stand_in_lenet()
    monkeypatch.setattr(translation_eval, "load_judge", lambda name, *a, **k: judge)
    figures = benchmark_script("translation_figures")
    runs = tmp_path / "runs"
    for i, preset in enumerate(figures.PIX2PIX):
        ganforge.train(preset, out=runs / preset, steps=1, set=TINY)
        (runs / preset / "translation_trained.json").write_text(json.dumps({"wall_s": 1.5 + i, "command": "x"}))
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["translation_figures.py", "pix2pix", "--runs", str(runs), "--n", str(N)])
    figures.main()
    lines = capsys.readouterr().out.strip().splitlines()
    keys = ["l1_test_truth", "ssim_test_truth", "labelacc_test_lenet", f"fid{N}_test_lenet", "wall_s"]
    assert lines[0] == "| run | " + " | ".join(keys) + " |"
    assert [line.split(" | ")[0] for line in lines[2:]] == [f"| {p}" for p in figures.PIX2PIX]
    for i, preset in enumerate(figures.PIX2PIX):
        scores = json.loads((runs / preset / "translation_scores.json").read_text())
        assert (scores["step"], scores["n"], scores["wall_s"]) == (1, N, 1.5 + i)
        assert 0 <= scores["l1_test_truth"] <= 1 and -1 <= scores["ssim_test_truth"] <= 1
        assert 0 <= scores["labelacc_test_lenet"] <= 1 and scores[f"fid{N}_test_lenet"] >= -1e-6
        assert lines[2 + i] == f"| {preset} | " + " | ".join(figures._fmt(scores[k]) for k in keys) + " |"
    sheet = tmp_path / "sheet.png"
    monkeypatch.setattr(sys, "argv", ["translation_figures.py", "sheet", "--runs", str(runs), "--figure", str(sheet)])
    figures.main()
    assert capsys.readouterr().out.strip() == f"figure: {sheet}"
    picture = Image.open(sheet)
    assert picture.width > 10 * 32 and picture.height > 6 * 32  # 12 digits x 5 columns, 10 cells a row
