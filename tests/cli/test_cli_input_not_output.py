"""Probe C's output findings: ``--force`` never lets an output replace the ``--input`` being read (item 17), a
folder ``--input`` needs a folder ``--out`` (16), every suggested fix is one the command accepts (19, 20), and
``downstream --holdout-data`` on an image run is refused rather than ignored (14). Each refusal is one line, exit
code 2, before any run is opened, and the input is left byte for byte as it was."""

import shutil

import numpy as np
import pytest
from PIL import Image

from one_line import fails  # tests/cli/one_line.py: the one-line refusal check


@pytest.fixture
def images(tmp_path, monkeypatch):
    """x.npy (uint8 images) and a folder dir/ of two PNGs, in the current folder."""
    monkeypatch.chdir(tmp_path)
    np.save("x.npy", np.random.default_rng(0).integers(0, 256, (3, 1, 8, 8), dtype=np.uint8))
    (tmp_path / "dir").mkdir()
    for name in "ab":
        Image.fromarray(np.full((8, 8), 9, np.uint8)).save(tmp_path / "dir" / f"{name}.png")
    return tmp_path


def _snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("argv", [
    ["classify", "RUN", "--input", "x.npy", "--out", "x.npy", "--force"],
    ["classify", "RUN", "--input", "x.npy", "--out", "./x.npy", "--force", "--probs"],
    ["anomaly", "score", "RUN", "--input", "x.npy", "--out", "x.npy", "--force"],
    ["anomaly", "score", "RUN", "--input", "dir", "--out", "s.npy", "--maps", "dir", "--force"],
    ["translate", "RUN", "--input", "x.npy", "--out", "x.npy", "--force"],
    ["translate", "RUN", "--input", "dir", "--out", "dir", "--force"],
    ["translate", "RUN", "--input", "dir", "--out", ".", "--force"],
    ["upscale", "RUN", "--input", "x.npy", "--out", "x.npy", "--force"],
    ["upscale", "RUN", "--input", "dir", "--out", "dir", "--force"],
])
def test_force_never_replaces_the_input(images, capsys, argv):
    before = _snapshot(images)
    argv = [a.replace("RUN", str(images / "no-run")) for a in argv]  # refused before the run is opened
    err = fails(capsys, argv, "choose another")
    assert "is the --input" in err or "holding the --input" in err or "is the folder" in err, err
    assert "--force" not in err
    assert _snapshot(images) == before


def test_without_force_the_input_is_named_not_force(images, capsys):
    fails(capsys, ["classify", "r", "--input", "x.npy", "--out", "x.npy"], "--out is the --input file x.npy",
          "choose another --out")


def test_a_folder_output_inside_the_input_folder_may_not_overwrite_an_input(images, capsys):
    run = images / "no-run"  # refused before the run is opened
    shutil.copytree(images / "dir", images / "dir" / "sub")  # dir/sub/a.png is an input and would be an output
    before = _snapshot(images)
    fails(capsys, ["translate", run, "--input", "dir", "--out", "dir/sub", "--force"],
          "is inside the --input folder dir, so the outputs would join the images it holds")
    assert _snapshot(images) == before


@pytest.mark.parametrize("command,out", [("translate", "td.npy"), ("upscale", "up.png"), ("upscale", "up.npy")])
def test_a_folder_input_needs_a_folder_out(images, capsys, command, out):
    fails(capsys, [command, images / "no-run", "--input", "dir", "--out", out],
          f"a folder --input needs a folder --out, got {out}")
    assert not (images / out).exists()


@pytest.mark.parametrize("argv,suggested", [
    (["classify", "r", "--input", "x.npy", "--out", "q.npy"], "q.npy/out.npy"),
    (["sample", "r", "--n", "4", "--out", ""], "--out out.npy"),
    (["sample", "r", "--n", "4", "--out", "."], "--out out.npy"),
    (["export", "r", "--n", "4", "--out", ""], "--out out.npz"),
])
def test_each_suggested_fix_is_one_the_command_accepts(images, capsys, argv, suggested):
    (images / "q.npy").mkdir()
    fails(capsys, argv, suggested)


def test_export_into_a_folder_of_the_users_files_does_not_suggest_force(images, capsys):
    (images / "mine").mkdir()
    (images / "mine" / "notes.txt").write_text("mine")
    err = fails(capsys, ["export", "r", "--n", "4", "--out", "mine"], "holds files ganforge did not write",
                "choose another --out")
    assert "--force" not in err
    assert (images / "mine" / "notes.txt").read_text() == "mine"


def test_train_out_empty_is_not_the_current_folder(images, capsys):
    err = fails(capsys, ["train", "gan2014-digits", "--steps", "1", "--out", ""], "--out is empty",
                "name a new file or folder")
    assert "already exists" not in err


def test_downstream_holdout_data_on_an_image_run_is_refused(capsys, tiny_runs):
    run = tiny_runs / "cgan"
    capsys.readouterr()  # its training's lines, when this test trained it
    fails(capsys, ["downstream", run, "--holdout-data", "csv:nonexistent.csv", "--n", "20"],
          "--holdout-data is for table runs", "drop --holdout-data")


def test_upscale_reads_a_text_file_named_npy_as_the_other_readers_do(images, capsys, tiny_runs):
    run = tiny_runs / "sr"
    capsys.readouterr()
    (images / "text.npy").write_text("not an array\n")
    err = fails(capsys, ["upscale", run, "--input", "text.npy", "--out", "big.npy"],
                "--input text.npy is not a .npy file (no numpy header)", "numpy.save")
    assert "pickle" not in err
    assert not (images / "big.npy").exists()


def test_classify_on_a_flat_array_says_it_holds_no_images(images, capsys):
    np.save(images / "flat.npy", np.arange(5))
    err = fails(capsys, ["classify", images / "no-run", "--input", "flat.npy"], "holds a 1-D array (5,), not images")
    assert "shape ()" not in err


def test_features_and_eval_json_never_replace_what_they_read(images, capsys):
    before = _snapshot(images)
    fails(capsys, ["features", str(images / "no-run"), "--input", "x.npy", "--out", "x.npy", "--force"],
          "--out is the --input file x.npy")
    fails(capsys, ["eval", "--samples", "x.npy", "--dataset", "digits", "--json", "x.npy", "--force"],
          "--json is the --samples file x.npy")
    assert _snapshot(images) == before


def test_table_report_seed_is_checked_like_every_other_seed(images, capsys):
    fails(capsys, ["table-report", "real.csv", "syn.csv", "--seed", "-1"], "--seed must be an integer >= 0")


@pytest.mark.parametrize("run,argv,flag", [
    ("digits", ["eval", "RUN", "--n", "100", "--json", ""], "--json"),
    ("digits", ["sample", "RUN", "--n", "4", "--out", "s.npy", "--grid", ""], "--grid"),
    ("digits", ["figures", "RUN", "--n", "20", "--out", ""], "--out"),
    ("sr", ["upscale", "RUN", "--eval", "skimage-photos", "--json", ""], "--json"),
    ("pix2pix", ["translate", "RUN", "--eval", "--n", "10", "--json", ""], "--json"),
    ("cgan", ["downstream", "RUN", "--n", "20", "--out", ""], "--out"),
    ("digits", ["audit", "RUN", "--n", "20", "--members", "20", "--out", ""], "--out"),
    ("digits", ["audit", "RUN", "--n", "20", "--members", "20", "--figure", ""], "--figure"),
    ("digits", ["anomaly", "score", "RUN", "--input", "x.npy", "--out", ""], "--out"),
])
def test_an_empty_output_name_is_refused_not_skipped(images, capsys, tiny_runs, run, argv, flag):
    """An output named '' was taken as not asked for (exit 0, nothing written): refused as every --out is."""
    path = tiny_runs / run
    capsys.readouterr()  # the run's training lines, when this test trained it
    before = _snapshot(images)
    fails(capsys, [path if a == "RUN" else a for a in argv], f"{flag} is empty; name a new file or folder")
    assert _snapshot(images) == before


def test_figures_out_dot_is_not_the_current_folder(images, capsys, tiny_runs):
    path = tiny_runs / "digits"
    capsys.readouterr()
    fails(capsys, ["figures", path, "--n", "20", "--out", "."], "--out . is an existing folder", "--out out")
    assert not (images / "samples.png").exists()
