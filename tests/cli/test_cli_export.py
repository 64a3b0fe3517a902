"""``ganforge export``, ``audit`` and ``downstream`` end to end on a tiny conditional digits run."""

import json
import os
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest

import ganforge
from ganforge.cli import main
from ganforge.data import load_dataset

CGAN = {"data": {"name": "digits"},
        "model": {"z_dim": 8, "z_dist": "normal", "g": {"arch": "dcgan", "base_channels": 8, "conditioning": "cbn"},
                  "d": {"arch": "dcgan", "base_channels": 8, "conditioning": "projection", "norm": "none"}},
        "loss": {"d": "hinge", "g": "hinge"}, "train": {"batch_size": 32},
        "optim": {"g": {"name": "adam", "lr": 2e-4, "lr_decay": 1.0}, "d": {"name": "adam", "lr": 2e-4, "lr_decay": 1.0}},
        "log": {"every": 10, "tensorboard": False}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cgan") / "run"
    ganforge.train(CGAN, out=out, steps=20)
    return out


def test_npz_round_trip_has_the_requested_classes(run_dir, tmp_path, capsys):
    out = tmp_path / "s.npz"
    assert main(["export", str(run_dir), "--n", "250", "--out", str(out), "--class-balanced", "--chunk", "64"]) == 0
    with np.load(out) as f:
        x, y = f["x"], f["y"]
    assert x.shape == (250, 1, 8, 8) and list(y[:12]) == [*range(10), 0, 1]
    assert np.bincount(y).tolist() == [25] * 10
    same, labels = ganforge.load_run(run_dir).sample_with_labels(250, 0, classes=list(range(10)))
    assert np.array_equal(x, same) and np.array_equal(y, labels)  # the chunking does not change the samples
    sheet = json.loads((tmp_path / "s.datasheet.json").read_text())
    assert sheet["output"]["class_counts"] == {str(c): 25 for c in range(10)} and sheet["run"]["step"] == 20
    assert sheet["differential_privacy"] == "not trained with DP-SGD" and "config_sha256" in sheet["run"]
    assert "# Datasheet" in (tmp_path / "s.datasheet.md").read_text()


def test_folder_round_trip_reads_back_as_the_same_dataset(run_dir, tmp_path):
    assert main(["export", str(run_dir), "--n", "40", "--out", str(tmp_path / "npz.npz"), "--class-balanced"]) == 0
    assert main(["export", str(run_dir), "--n", "40", "--out", str(tmp_path / "pngs"), "--class-balanced"]) == 0
    back = load_dataset(f"folder:{tmp_path / 'pngs'}")
    with np.load(tmp_path / "npz.npz") as f:
        order = np.lexsort((np.arange(40), f["y"]))  # the folder reader goes class by class
        assert np.array_equal(back.x.numpy(), f["x"][order]) and np.array_equal(back.y.numpy(), f["y"][order])
    assert (tmp_path / "pngs" / "datasheet.json").is_file()
    # --force replaces an earlier export, never a folder of other files
    assert main(["export", str(run_dir), "--n", "10", "--out", str(tmp_path / "pngs"), "--force"]) == 0
    assert len(list((tmp_path / "pngs").rglob("*.png"))) == 10


def test_npz_export_on_a_full_disk_leaves_nothing(run_dir, tmp_path):
    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "ganforge", "export", str(run_dir), "--n", "2000", "--out",
                           str(tmp_path / "s.npz")], capture_output=True, text=True, preexec_fn=small_files,
                          env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "could not write" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no .npz, no datasheet, no temporary file


def test_audit_writes_its_report_and_figure(run_dir, tmp_path, capsys):
    out, fig = tmp_path / "a.json", tmp_path / "pairs.png"
    assert main(["audit", str(run_dir), "--n", "200", "--members", "150", "--judge", "none", "--out", str(out),
                 "--figure", str(fig)]) == 0
    report = json.loads(out.read_text())
    assert report["holdout_data"] == "digits (test)" and set(report["membership"]) == {"black_box_pixels",
                                                                                        "white_box_d"}
    assert fig.stat().st_size > 0 and "membership white_box_d: AUROC" in capsys.readouterr().out
    assert main(["export", str(run_dir), "--n", "20", "--out", str(tmp_path / "s.npz"), "--audit", str(out)]) == 0
    assert "DCR (pixels)" in (tmp_path / "s.datasheet.md").read_text()


def test_downstream_needs_three_seeds_and_reports_cas(run_dir, tmp_path, capsys):
    assert main(["downstream", str(run_dir), "--seeds", "0,1"]) == 2
    assert "at least 3" in capsys.readouterr().err
    assert main(["downstream", str(run_dir), "--what", "cas", "--n", "500", "--out", str(tmp_path / "c.json")]) == 0
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["cas"]["name"] == "cas500_test" and report["cas"]["real"]["top1_mean"] > 0.85
    assert len(report["cas"]["synthetic"]["top1"]) == 3
