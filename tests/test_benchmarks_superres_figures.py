"""benchmarks/superres_figures.py end to end on the shared tiny x2 runs: ``photos`` (all skimage photos, and
``--crops-only``) and ``mnist`` (on 16 stand-in digits: scikit-learn's, enlarged to 28 px, since MNIST is not
here). docs/benchmarks.md quotes its scores and pictures: each report names the runs given, holds a score
per method (bicubic, the run, the truth's checkerboard) in a sane range, and the picture has one column per
method and one row per photo (or digit)."""

import json
import math
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
from translation_digits import fake_mnist  # noqa: E402

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "motorcycle", "hubble_deep_field", "immunohistochemistry"]


def test_photos_scores_every_photo_and_pictures_four_crops(benchmark_script, tiny_runs, tmp_path, capsys):
    figures = benchmark_script("superres_figures")
    spec = f"Tiny={tiny_runs / 'sr-rgb'}"
    out, js = tmp_path / "crops.png", tmp_path / "scores.json"
    assert figures.main(["photos", spec, "--out", str(out), "--json", str(js)]) == 0
    report = json.loads(js.read_text())
    assert (report["dataset"], report["photos"], report["scale"], report["runs"]) == \
        ("skimage-photos", PHOTOS, 2, [spec])
    scores = report["scores"]
    assert set(scores) == {"bicubic", "Tiny", "truth"} and set(scores["truth"]) == {"checkerboard_y_x2"}
    for method in ("bicubic", "Tiny"):
        s = scores[method]
        assert 20 < s["psnr_y_crop2"] < 60 and 0 < s["ssim_y_crop2"] <= 1, (method, s)
        assert all(math.isfinite(v) and v >= 0 for v in s.values())
    assert "checkerboard_flat_y_x2" in scores["Tiny"] and "checkerboard_flat_y_x2" not in scores["bicubic"]
    assert re.search(r"^ +Tiny: psnr_y_crop2 \d+\.\d{4}  ssim_y_crop2 ", capsys.readouterr().out, re.M)
    # bicubic | Tiny | truth, each a 96 px crop padded by 2, shown at twice its size; four photos, plus a caption
    picture = Image.open(out)
    assert picture.width == 3 * 100 * 2 and picture.height > 4 * 100 * 2


def test_photos_crops_only_scores_the_four_pictured_crops(benchmark_script, tiny_runs, tmp_path):
    figures = benchmark_script("superres_figures")
    js = tmp_path / "crops.json"
    assert figures.main(["photos", "--crops-only", f"Tiny={tiny_runs / 'sr-rgb'}", "--out", str(tmp_path / "c.png"),
                         "--json", str(js)]) == 0
    report = json.loads(js.read_text())
    assert report["dataset"] == "skimage-photos (4 centre crops only)" and report["photos"] == PHOTOS[:4]
    assert {k: set(v) for k, v in report["scores"].items()} == {
        "bicubic": {"checkerboard_y_x2_crops"}, "truth": {"checkerboard_y_x2_crops"},
        "Tiny": {"checkerboard_y_x2_crops", "checkerboard_flat_y_x2"}}
    assert all(math.isfinite(v) and v >= 0 for s in report["scores"].values() for v in s.values())
    assert Image.open(tmp_path / "c.png").width == 3 * 100 * 2


def test_mnist_scores_bicubic_and_the_run_and_pictures_eight_digits(benchmark_script, tiny_runs, tmp_path,
                                                                    monkeypatch):
    figures = benchmark_script("superres_figures")
    x, _ = fake_mnist(16)
    monkeypatch.setattr(figures, "load_dataset", lambda name, split: SimpleNamespace(x=torch.from_numpy(x)))
    js, out = tmp_path / "mnist.json", tmp_path / "mnist.png"
    run = tiny_runs / "sr"
    assert figures.main(["mnist", f"SR={run}", "--out", str(out), "--json", str(js), "--n", "16"]) == 0
    report = json.loads(js.read_text())
    assert (report["dataset"], report["scale"], report["run"]) == ("mnist test[:16]", 2, str(run))
    assert set(report["scores"]) == {"bicubic", "SR"}
    for s in report["scores"].values():
        assert set(s) == {"psnr_y_crop2", "ssim_y_crop2"}
        assert 5 < s["psnr_y_crop2"] < 100 and -1 <= s["ssim_y_crop2"] <= 1
    picture = Image.open(out)  # 8 digits across; LR | bicubic | run | truth down; 30 px cells shown x4
    assert picture.width == 8 * 30 * 4 and picture.height > 4 * 30 * 4
