"""``ganforge dataset``: bad inputs in one line, an interrupted build, and training from the store it writes."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import build_parser, main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "data.md"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _images(folder, n, size=(8, 8), mode="RGB", seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        a = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(a).convert(mode).save(folder / f"{i:05d}.png")
    return folder


def _one_line_exit_2(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and expected in err, err


def test_bad_inputs_fail_in_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    _one_line_exit_2(capsys, ["dataset", "empty", "--out", "o"], "no usable images")
    _images(tmp_path / "one", 1)
    _one_line_exit_2(capsys, ["dataset", "one", "--out", "o"], "at least 2")
    _images(tmp_path / "mixed", 2)
    _images(tmp_path / "mixed" / "g", 2, mode="L")
    _one_line_exit_2(capsys, ["dataset", "mixed", "--out", "o", "--labels", "none"], "pass --channels 1 or --channels 3")
    _images(tmp_path / "wide", 2, size=(12, 8))
    _one_line_exit_2(capsys, ["dataset", "wide", "--out", "o"], "not square; pass --crop center")
    _images(tmp_path / "sizes", 1, size=(8, 8))
    _images(tmp_path / "sizes" / "big", 1, size=(16, 16), seed=1)
    _one_line_exit_2(capsys, ["dataset", "sizes", "--out", "o", "--labels", "none"], "e.g. --resolution 64")
    _one_line_exit_2(capsys, ["dataset", "nowhere", "--out", "o"], "does not exist")
    assert not (tmp_path / "o").exists()
    _images(tmp_path / "ok", 2)
    assert main(["dataset", "ok", "--out", "o"]) == 0
    capsys.readouterr()
    _one_line_exit_2(capsys, ["dataset", "ok", "--out", "o"], "already exists")
    assert main(["dataset", "ok", "--out", "o", "--force"]) == 0


def test_an_interrupted_build_leaves_no_store_and_a_rerun_works(tmp_path):
    _images(tmp_path / "src", 600, size=(24, 24))
    cmd = [sys.executable, "-m", "ganforge", "dataset", "src", "--out", "store", "--resolution", "16"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith("store.partial-") and (p / "images.u8").exists()
                                             for p in tmp_path.iterdir()):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # no clean-up at all: the worst case
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the build ended before it was interrupted"
    assert not (tmp_path / "store").exists()
    assert main(["dataset", str(tmp_path / "src"), "--out", str(tmp_path / "store"), "--resolution", "16"]) == 0
    assert (tmp_path / "store" / "dataset.json").is_file()
    assert not any(p.name.startswith("store.partial-") for p in tmp_path.iterdir())  # the dead build's leftovers


def test_train_from_a_store_then_sample(tmp_path, capsys):
    _images(tmp_path / "src" / "a", 6, size=(10, 10))
    _images(tmp_path / "src" / "b", 6, size=(10, 10), seed=1)
    assert main(["dataset", "src", "--out", "st", "--resolution", "8", "--crop", "center"]) == 0
    out = capsys.readouterr().out
    assert "images written: 12" in out and "classes: a 6, b 6" in out and "10x10 x12" in out
    assert main(["train", "dcgan-digits", "--steps", "3", "--out", "r", "--set", "data.name=store:st",
                 "--set", "train.batch_size=4", "--set", "log.tensorboard=false", "--set", "model.z_dim=8",
                 "--set", "model.g.base_channels=8", "--set", "model.d.base_channels=8",
                 "--set", "log.checkpoint_every=3", "--set", "log.sample_every=3", "--set", "log.every=3"]) == 0
    assert "12 images of 3x8x8" in capsys.readouterr().out
    assert main(["sample", "r", "--n", "4", "--out", "s.npy"]) == 0
    assert np.load(tmp_path / "s.npy").shape == (4, 3, 8, 8)


def _examples() -> list[str]:
    """Every ganforge command shown in ``ganforge dataset --help`` and in the code blocks of docs/data.md."""
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["dataset"]
    lines = [line.strip() for line in sub.epilog.splitlines()[1:]]
    blocks = re.findall(r"```\n(.*?)```", DOCS.read_text(), flags=re.S)
    lines += [line.strip().removeprefix("$ ") for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("ganforge ")]


def test_every_example_of_the_help_and_the_docs_parses(capsys):
    examples = _examples()
    assert any(e.startswith("ganforge train") for e in examples) and len(examples) >= 5
    for example in examples:
        try:
            build_parser().parse_args(shlex.split(example, comments=True)[1:])
        except SystemExit:
            pytest.fail(f"{example!r} does not parse: {capsys.readouterr().err.strip()}")


def test_force_never_deletes_files_of_the_user(tmp_path, capsys):
    _images(tmp_path / "src", 2)
    assert main(["dataset", "src", "--out", "st"]) == 0
    (tmp_path / "st" / "NOTES.txt").write_text("my notes")
    capsys.readouterr()
    _one_line_exit_2(capsys, ["dataset", "src", "--out", "st", "--force"], "it holds NOTES.txt")
    assert (tmp_path / "st" / "NOTES.txt").read_text() == "my notes"
    # a folder or file of the user's at --out: --force is not suggested, and refused when given
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("four years")
    (tmp_path / "notes.txt").write_text("notes")
    for out in ("mine", "notes.txt"):
        for force in ([], ["--force"]):
            assert main(["dataset", "src", "--out", out, *force]) == 2
            err = capsys.readouterr().err.strip()
            assert "\n" not in err and "not a ganforge store" in err and "--force" not in err, err
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "four years"
    assert (tmp_path / "notes.txt").read_text() == "notes"


def test_an_out_that_cannot_be_written_is_one_line(tmp_path, capsys, read_only):
    _images(tmp_path / "src", 2)
    (tmp_path / "notes.txt").write_text("notes")
    _one_line_exit_2(capsys, ["dataset", "src", "--out", "notes.txt/sub"], "notes.txt/sub cannot be a folder")
    read_only(tmp_path / "ro")
    _one_line_exit_2(capsys, ["dataset", "src", "--out", "ro/st"], "cannot write in")
    assert list((tmp_path / "ro").iterdir()) == []


def test_bad_npz_labels_are_one_line(tmp_path, capsys):
    x = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3)).astype(np.uint8)
    np.savez(tmp_path / "ystr.npz", x=x, y=np.array(["cat", "dog"] * 2))
    _one_line_exit_2(capsys, ["dataset", "ystr.npz", "--out", "st"], "labels 'y' must be whole numbers")
    assert not (tmp_path / "st").exists()


def test_the_closing_hint_is_quoted_for_a_shell(tmp_path, capsys):
    """The last line is pasted into a shell: an --out with spaces or a quote must come back as one word."""
    _images(tmp_path / "src", 2)
    out = "sp dir ü/it's st"
    assert main(["dataset", "src", "--out", out]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"store: {shlex.quote(out)}  (train on it with --set {shlex.quote(f'data.name=store:{out}')})"
    words = shlex.split(last)
    assert words[1] == out and words[-1] == f"data.name=store:{out})"
    assert main(["dataset", "src", "--out", "plain"]) == 0  # nothing to quote: as it was
    assert capsys.readouterr().out.strip().splitlines()[-1] == \
        "store: plain  (train on it with --set data.name=store:plain)"
