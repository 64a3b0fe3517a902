"""The command's manners: --version and examples in --help, the training banner and summary, signals
during sample (one line, 130/143, no partial file), streamed samples, a run still training."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ganforge import load_run
from ganforge.cli import build_parser, main
from ganforge.runs.lock import RunLock
from ganforge.version import __version__

SRC = str(Path(__file__).resolve().parents[2] / "src")
TINY = ["--set", "log.tensorboard=false", "--set", "model.g.hidden=[16]", "--set", "model.d.hidden=[8]",
        "--set", "log.checkpoint_every=10", "--set", "log.every=10"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ganforge {__version__}"


def test_every_help_ends_with_examples():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name, parser in sub.choices.items():
        tail = parser.format_help().rstrip().split("examples:\n")
        assert len(tail) == 2, name
        lines = tail[1].splitlines()
        assert 2 <= len(lines) <= 3 and all(line.strip().startswith("ganforge ") for line in lines), (name, lines)


def test_banner_and_summary(capsys):
    assert main(["train", "gan2014-digits", "--steps", "20", "--out", "r", *TINY]) == 0
    out = capsys.readouterr().out
    assert out.count("run directory: r") == 1  # the banner says "run:", the end "run directory:"
    for text in ("run:           r\n", "device:        cpu (fp32", "data:          digits (train): 1,500 images of "
                 "1x8x8, 10 classes", "training:      20 steps, batch 64", "ETA: about", "trained:       20 steps in",
                 "images/s", "last losses:   loss_D"):
        assert text in out, text
    assert out.index("training:") < out.index("step 10/20") < out.index("trained:")


def test_streamed_samples_equal_the_in_memory_ones(tmp_path):
    assert main(["train", "gan2014-ring8", "--steps", "10", "--out", "r", *TINY]) == 0
    assert main(["sample", "r", "--n", "2345", "--out", "s.npy", "--seed", "4", "--grid", "s.png"]) == 0
    streamed = np.load("s.npy")
    assert np.array_equal(streamed, load_run("r").sample(2345, seed=4))
    assert (tmp_path / "s.png").stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_sample_reads_the_newest_complete_checkpoint_of_a_running_run(tmp_path, capsys):
    assert main(["train", "gan2014-digits", "--steps", "20", "--out", "r", *TINY]) == 0
    with RunLock("r"):  # "still training": locked, with a checkpoint being written
        partial = tmp_path / "r" / "checkpoints" / ".step-0000030.tmp"
        partial.mkdir()
        (partial / "G.safetensors").write_bytes(b"half")
        (tmp_path / "r" / "checkpoints" / "step-0000030").mkdir()  # no manifest yet
        capsys.readouterr()
        assert main(["sample", "r", "--n", "5", "--out", "s.npy"]) == 0
        captured = capsys.readouterr()
        assert "from step 20" in captured.out
        assert captured.err.strip() == (f"ganforge: note: r is still being trained (process {os.getpid()}); using its "
                                        f"newest complete checkpoint, step-0000020")
        assert main(["train", "gan2014-digits", "--steps", "30", "--out", "r", "--resume", *TINY]) == 2
        assert f"process {os.getpid()}" in capsys.readouterr().err


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted (Ctrl-C)"),
                                             (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_signal_during_sample_leaves_no_partial_file(tmp_path, sig, code, word):
    assert main(["train", "gan2014-ring8", "--steps", "10", "--out", "r", *TINY]) == 0
    (tmp_path / "s.npy").write_bytes(b"old")
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    # A suite started as a background job (`pytest ... &`) inherits SIGINT ignored, and Python then leaves it
    # ignored: give the child the default disposition, as a terminal would, so that Ctrl-C is what is tested.
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "sample", "r", "--n", "20000000", "--out", "s.npy",
                             "--force"], env=env, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60  # a hang guard only: sampling starts within a second or two
    while not [p for p in tmp_path.iterdir() if "partial" in p.name]:  # the memory map exists: sampling
        if proc.poll() is not None:
            pytest.fail(f"sample exited (rc={proc.returncode}) before writing its output: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail("sample had not started writing its output after 60 s")
        time.sleep(0.05)
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1].strip()
    assert proc.returncode == code and err == f"ganforge: {word}; no output file was written (an existing one " \
                                              f"is unchanged)"
    assert (tmp_path / "s.npy").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "gfdata") == ["r", "s.npy"]


def test_figures_with_a_wrong_checkpoint_write_nothing(tmp_path, capsys):
    assert main(["train", "gan2014-digits", "--steps", "10", "--out", "r", *TINY]) == 0
    assert main(["figures", "r", "--checkpoint", "r/checkpoints/step-9999999"]) == 2
    assert "--checkpoint r/checkpoints/step-9999999 does not exist (r's are step-0000010)" in capsys.readouterr().err
    assert not (tmp_path / "r" / "figures").exists()


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`ganforge presets | head -1`: the pipe closes under the command; it stops quietly with 141 (128 + SIGPIPE)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has already left: the first write fails
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.run([sys.executable, "-m", "ganforge", "presets"], stdout=write_end, stderr=subprocess.PIPE,
                          env=env, text=True, timeout=120)
    os.close(write_end)
    assert proc.returncode == 141 and proc.stderr == ""
