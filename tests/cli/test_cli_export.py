"""``ganforge export`` end to end: npz and folder round trips with the requested classes, a full disk."""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

import ganforge
from ganforge.cli import main
from ganforge.data import load_dataset


def test_npz_round_trip_has_the_requested_classes(cgan_run, tmp_path, capsys):
    out = tmp_path / "s.npz"
    assert main(["export", str(cgan_run), "--n", "250", "--out", str(out), "--class-balanced", "--chunk", "64"]) == 0
    with np.load(out) as f:
        x, y = f["x"], f["y"]
    assert x.shape == (250, 1, 8, 8) and list(y[:12]) == [*range(10), 0, 1]
    assert np.bincount(y).tolist() == [25] * 10
    same, labels = ganforge.load_run(cgan_run).sample_with_labels(250, 0, classes=list(range(10)))
    assert np.array_equal(x, same) and np.array_equal(y, labels)  # the chunking does not change the samples
    sheet = json.loads((tmp_path / "s.datasheet.json").read_text())
    assert sheet["output"]["class_counts"] == {str(c): 25 for c in range(10)} and sheet["run"]["step"] == 20
    assert sheet["differential_privacy"] == "not trained with DP-SGD" and "config_sha256" in sheet["run"]
    assert "# Datasheet" in (tmp_path / "s.datasheet.md").read_text()


def test_folder_round_trip_reads_back_as_the_same_dataset(cgan_run, tmp_path):
    assert main(["export", str(cgan_run), "--n", "40", "--out", str(tmp_path / "npz.npz"), "--class-balanced"]) == 0
    assert main(["export", str(cgan_run), "--n", "40", "--out", str(tmp_path / "pngs"), "--class-balanced"]) == 0
    back = load_dataset(f"folder:{tmp_path / 'pngs'}")
    with np.load(tmp_path / "npz.npz") as f:
        order = np.lexsort((np.arange(40), f["y"]))  # the folder reader goes class by class
        assert np.array_equal(back.x.numpy(), f["x"][order]) and np.array_equal(back.y.numpy(), f["y"][order])
    assert (tmp_path / "pngs" / "datasheet.json").is_file()
    # --force replaces an earlier export, never a folder of other files
    assert main(["export", str(cgan_run), "--n", "10", "--out", str(tmp_path / "pngs"), "--force"]) == 0
    assert len(list((tmp_path / "pngs").rglob("*.png"))) == 10


def test_npz_export_on_a_full_disk_leaves_nothing(cgan_run, tmp_path):
    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "ganforge", "export", str(cgan_run), "--n", "2000", "--out",
                           str(tmp_path / "s.npz")], capture_output=True, text=True, preexec_fn=small_files,
                          env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "could not write" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no .npz, no datasheet, no temporary file

def test_a_table_run_is_refused_by_export_and_features_in_one_line(tmp_path, capsys):
    """A table run used to be described as one that "makes float32 points" (export) and asked for (N, width)
    arrays that nothing writes (features); both now say it is a table run, export pointing to sample."""
    src = tmp_path / "t.csv"
    src.write_text("x,cat\n" + "".join(f"{i * 0.37:.2f},{'abc'[i % 3]}\n" for i in range(100)))
    run = tmp_path / "run"
    assert main(["train", "ctgan-fast", "--out", str(run), "--set", f"data.name=csv:{src}", "--steps", "2",
                 "--set", "train.batch_size=50", "--set", "model.d.pack=5", "--set", "log.tensorboard=false",
                 "--set", "log.progress=false"]) == 0
    np.save(tmp_path / "in.npy", np.zeros((2, 1, 8, 8), np.uint8))
    capsys.readouterr()
    for argv, expected in ((["export", str(run), "--n", "5", "--out", str(tmp_path / "e.npz")],
                            f"ganforge sample {run} --n N --out rows.csv"),
                           (["features", str(run), "--input", str(tmp_path / "in.npy"), "--out",
                             str(tmp_path / "f.npy")], "features reads images")):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert f"{run} is a table run (recipe tabular)" in err and expected in err, err
    assert not (tmp_path / "e.npz").exists() and not (tmp_path / "f.npy").exists()


def test_an_export_into_the_run_directory_is_refused_even_with_force(cgan_run, capsys):
    """A folder export with --force into the run itself filled it with class folders of PNGs (and the run was
    no longer one `train --force` recognises)."""
    before = sorted(p.name for p in cgan_run.iterdir())
    for out in (cgan_run, cgan_run / "checkpoints"):
        capsys.readouterr()
        assert main(["export", str(cgan_run), "--n", "10", "--out", str(out), "--force"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "is part of the run" in err, err
    assert sorted(p.name for p in cgan_run.iterdir()) == before


def test_class_balanced_refuses_an_n_the_classes_do_not_divide(cgan_run, tmp_path, capsys):
    """--n 7 on a 10-class run gave labels 0..6 (classes 7-9 none) and recorded class_balanced: true."""
    from one_line import fails

    fails(capsys, ["export", cgan_run, "--n", "7", "--out", tmp_path / "r7.npz", "--class-balanced"],
          "--n 7 is not a multiple of the 10 classes", "use e.g. --n 10")
    fails(capsys, ["export", cgan_run, "--n", "23", "--out", tmp_path / "r23", "--class-balanced"], "use e.g. --n 30")
    assert not list(tmp_path.iterdir())
    assert main(["export", str(cgan_run), "--n", "7", "--out", str(tmp_path / "r7.npz")]) == 0  # not balanced: any n


def test_too_little_space_names_the_output_itself(cgan_run, tmp_path, capsys):
    """A folder export's free-space refusal named `--out DIR/x`, a placeholder path inside the folder."""
    from one_line import fails

    for out in (tmp_path / "bigdir", tmp_path / "big.npz"):
        err = fails(capsys, ["export", cgan_run, "--n", "100000000000", "--out", out], f"--out {out} needs ")
        assert f"{out}/x" not in err
    assert not list(tmp_path.iterdir())


def test_the_datasheet_records_the_eval_report_of_the_exported_checkpoint(cgan_run, tmp_path, capsys):
    """`ganforge eval` measured the checkpoint, and the datasheet said "metrics: not measured" (only stats.jsonl's
    in-training evaluation was read)."""
    run = Path(shutil.copytree(cgan_run, tmp_path / "run"))
    assert main(["eval", str(run), "--metrics", "fid", "--n", "100"]) == 0
    assert main(["export", str(run), "--n", "10", "--out", str(tmp_path / "s.npz")]) == 0
    metrics = json.loads((tmp_path / "s.datasheet.json").read_text())["metrics"]
    assert metrics["source"] == f"ganforge eval of this checkpoint ({run / 'eval' / 'step-0000020.json'})"
    assert metrics["step"] == 20 and list(metrics["values"]) == ["fid100_test_lenet8"]
    assert metrics["protocol"]["fid100_test_lenet8"]["samples"]["n"] == 100
    assert "fid100_test_lenet8" in (tmp_path / "s.datasheet.md").read_text()
