"""One test per row of docs/errors.md: exit code 2, one line naming problem and fix, no traceback,
nothing already written lost."""

import difflib
import errno
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from ganforge import config, presets, recipes
from ganforge.cli import main
from ganforge.download import sha256_file
from ganforge.recipes import translation_model

TINY = ["--set", "log.tensorboard=false", "--set", "model.g.hidden=[16]", "--set", "model.d.hidden=[8]",
        "--set", "log.checkpoint_every=10", "--set", "log.every=10"]
DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
QUOTED_SHARE = 0.8  # of a row's quoted words the printed line holds in order (example values may differ)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]{2,}", text.lower())


def _row_messages() -> dict[str, list[list[str]]]:
    """Each row's quoted messages (the backticked spans of its last cell), as their words."""
    found = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\| `([a-z-]+)` \|", line)
        if m:
            found[m.group(1)] = [_words(span) for span in re.findall(r"`([^`]+)`", line.rstrip(" |").rsplit(" | ", 1)[-1])]
    return found


def quoted_share(quoted: list[str], err: str) -> float:
    """The share of a quoted message's words that the printed line holds in the same order: example values
    (paths, numbers) may differ and ``...`` may stand for a clause, but a reworded message falls short."""
    matcher = difflib.SequenceMatcher(None, quoted, _words(err), autojunk=False)
    return sum(b.size for b in matcher.get_matching_blocks()) / max(1, len(quoted))


ROW_MESSAGES = _row_messages()
_SEEN: list[str] = []  # the error lines _fails saw in the running test


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch, request):
    monkeypatch.chdir(tmp_path)
    _SEEN.clear()
    yield
    row = request.node.name.removeprefix("test_").split("[")[0].replace("_", "-")
    quoted = ROW_MESSAGES.get(row)
    if quoted and _SEEN:  # the row's quoted text is what the command prints (five rows had drifted from it)
        best = max(quoted_share(q, err) for q in quoted for err in _SEEN)
        if os.environ.get("SHOW_SHARE"):
            print(f"\nSHARE {best:.2f} {row}")
        assert best >= QUOTED_SHARE, (row, best, quoted, _SEEN)


def _fails(capsys, argv, *expected):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    _SEEN.append(err)
    assert len(err.splitlines()) == 1, err
    assert err.startswith("ganforge: ") and "Traceback" not in err
    for text in expected:
        assert text in err, (text, err)
    return err


def _train(*extra):
    return ["train", "gan2014-digits", "--steps", "10", *TINY, *extra]


def _snapshot(path):
    return {p: p.read_bytes() for p in sorted(Path(path).rglob("*")) if p.is_file()}


def _images(folder, n=4, size=(8, 8), mode="L"):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new(mode, size, color=40 * i if mode == "L" else (40 * i, 0, 0)).save(folder / f"img{i}.png")
    return folder


def test_every_row_has_a_test():
    rows = re.findall(r"^\| `([a-z-]+)` \|", DOC.read_text(), flags=re.M)
    tests = {name[len("test_"):].replace("_", "-") for name in globals() if name.startswith("test_")}
    assert rows and set(rows) <= tests, set(rows) - tests


def test_unknown_preset(capsys):
    _fails(capsys, ["train", "gan2014-mnsit"], "unknown preset 'gan2014-mnsit'", "did you mean 'gan2014-mnist'",
           "gan2014-digits")


def test_unknown_key(capsys):
    _fails(capsys, _train("--set", "train.batchsize=64"), "unknown config key 'train.batchsize'",
           "did you mean 'batch_size'")


def test_unknown_net_option(capsys):
    _fails(capsys, _train("--set", "model.d.piece=3"), "'model.d.piece'", "did you mean 'pieces'")


def test_unread_key(capsys):
    _fails(capsys, ["train", "cyclegan-inverted", "--set", "reg.gp=10", "--dry-run"], "reg.gp (from --set reg.gp=10)",
           "not read by recipe 'cycle-translation'", "the reg keys cycle-translation reads: none")
    _fails(capsys, ["train", "srresnet-x4", "--set", "superres.adversarial=relativistic", "--dry-run"],
           "superres.adversarial", "the superres keys srresnet reads: hr_crop, augment, pixel_loss, pixel_weight,")


def test_auto_arch(capsys):
    _fails(capsys, ["train", "gan2014-mnist", "--set", "auto=true", "--dry-run"], "auto=true sizes",
           "choose a dcgan- or stylegan2- preset")


def test_auto_resolution(capsys):
    Path("photos").mkdir()
    _fails(capsys, ["train", "dcgan-mnist", "--set", "auto=true", "--set", "data.name=folder:photos", "--dry-run"],
           "not known before its images are read", "set data.resolution=R")


def test_g_loss_needs_real_logits(capsys, tmp_path):
    x = np.random.RandomState(0).randint(0, 256, (8, 1, 16, 16)).astype(np.uint8)
    np.savez(tmp_path / "ab.npz", a=x, b=255 - x, paired=False)
    _fails(capsys, ["train", "cyclegan-inverted", "--out", "r", "--steps", "1", "--set", "data.name=npz:ab.npz",
                    "--set", "model.g.blocks=1", "--set", "model.g.base_channels=4", "--set", "model.d.base_channels=4",
                    "--set", "train.batch_size=4", "--set", "log.tensorboard=false", "--set", "loss.g=relativistic"],
           "loss.g=relativistic compares G's samples with D's view of real data", "cycle-translation",
           "non-saturating")
    assert not list((tmp_path / "r" / "checkpoints").glob("step-*"))  # refused before the first step


def test_unknown_dataset(capsys):
    _fails(capsys, _train("--set", "data.name=mnsit"), "unknown dataset 'mnsit'", "did you mean 'mnist'")


def test_wrong_type(capsys):
    _fails(capsys, _train("--set", "train.d_steps=abc"), "train.d_steps must be an integer, got 'abc'")


def test_out_of_range(capsys):
    _fails(capsys, _train("--set", "train.batch_size=0"), "train.batch_size must be >= 1")


def test_bad_data_dir(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    _fails(capsys, ["train", "gan2014-mnist", "--steps", "1", "--data-dir", "notes.txt"],
           "--data-dir points at", "notes.txt, which is a file")
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_missing_folder(capsys):
    _fails(capsys, _train("--set", "data.name=folder:/no/such/dir"), "/no/such/dir does not exist")


def test_empty_folder(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    _fails(capsys, _train("--set", "data.name=folder:empty"), "no .png/.jpg/.jpeg images found")


def test_corrupt_image(capsys, tmp_path):
    folder = _images(tmp_path / "imgs")
    (folder / "broken.png").write_bytes(b"not a png")
    _fails(capsys, _train("--set", "data.name=folder:imgs"), "1 of 5", "broken.png", "data.skip_unreadable=true")


def test_mixed_sizes(capsys, tmp_path):
    folder = _images(tmp_path / "mixed", n=2)
    Image.new("RGB", (12, 10), (200, 0, 0)).save(folder / "wide.jpg")
    Image.new("RGBA", (8, 8)).save(folder / "alpha.png")
    _fails(capsys, _train("--set", "data.name=folder:mixed"), "differ in size", "data.resolution")
    # With a resolution, mixed sizes and modes (L, RGB, RGBA) are converted and train.
    assert main(_train("--set", "data.name=folder:mixed", "--set", "data.resolution=8",
                       "--set", "train.batch_size=2", "--out", "ok")) == 0


def test_non_finite_data(capsys, tmp_path):
    np.savez(tmp_path / "bad.npz", x=np.array([[0.1, np.nan], [0.2, 0.3]], dtype=np.float32))
    _fails(capsys, _train("--set", "data.name=npz:bad.npz"), "NaN or infinite")


def test_batch_too_large(capsys, tmp_path):
    _images(tmp_path / "four")
    _fails(capsys, _train("--set", "data.name=folder:four", "--set", "train.batch_size=64"),
           "train.batch_size=64 is larger than the dataset (4 samples)")


def test_output_exists(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    before = _snapshot(tmp_path / "r")
    _fails(capsys, _train("--out", "r"), "already exists", "--resume", "--force")
    assert _snapshot(tmp_path / "r") == before
    # --force replaces it, but a --force whose new config is bad leaves the old run in place
    _fails(capsys, _train("--out", "r", "--force", "--set", "data.name=mnsit"), "unknown dataset")
    assert _snapshot(tmp_path / "r") == before


def test_resume_not_a_run(capsys, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    _fails(capsys, _train("--out", "elsewhere", "--resume"), "not a run directory")


def test_resume_no_checkpoint(capsys, tmp_path):
    assert main(_train("--out", "r", "--steps", "0")) == 0
    for ckpt in (tmp_path / "r" / "checkpoints").iterdir():
        for f in ckpt.iterdir():
            f.unlink()
        ckpt.rmdir()
    _fails(capsys, _train("--out", "r", "--resume"), "no checkpoint", "without --resume")


def test_resume_changed_config(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    before = _snapshot(tmp_path / "r")
    _fails(capsys, _train("--out", "r", "--resume", "--steps", "20", "--set", "optim.d.lr=0.002"),
           "optim.d.lr: 0.001 -> 0.002", "--allow-config-change")
    assert _snapshot(tmp_path / "r") == before
    assert main(_train("--out", "r", "--resume", "--steps", "20", "--set", "optim.d.lr=0.002",
                       "--allow-config-change")) == 0
    assert "optim.d.lr: 0.001 -> 0.002" in capsys.readouterr().out
    assert "config_changes" in (tmp_path / "r" / "options.json").read_text()


def test_resume_steps_behind(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    before = _snapshot(tmp_path / "r")
    _fails(capsys, _train("--out", "r", "--resume", "--steps", "4"), "r is already at step 10, past --steps 4",
           "--steps above 10")
    assert _snapshot(tmp_path / "r") == before


def test_resume_records_damaged(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    (tmp_path / "r" / "options.json").unlink()
    before = _snapshot(tmp_path / "r")
    _fails(capsys, _train("--out", "r", "--resume", "--steps", "20"), "its options.json is missing",
           "restore it from a backup, or start a new run without --resume")
    (tmp_path / "r" / "options.json").write_text("{not json")
    before = _snapshot(tmp_path / "r")
    _fails(capsys, _train("--out", "r", "--resume", "--steps", "20"), "options.json is not valid JSON")
    assert _snapshot(tmp_path / "r") == before  # config.yaml kept its train.steps


def test_force_set_aside_left(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    shutil.copytree(tmp_path / "r", tmp_path / ".r.replaced")
    before = _snapshot(tmp_path / ".r.replaced"), _snapshot(tmp_path / "r")
    for dry in (["--dry-run"], []):
        _fails(capsys, _train("--out", "r", "--force", *dry), ".r.replaced exists",
               "move it back to r or delete it")
    assert (_snapshot(tmp_path / ".r.replaced"), _snapshot(tmp_path / "r")) == before


def test_resume_data_reshaped(capsys, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (20, 1, 8, 8)).astype(np.uint8))
    assert main(_train("--out", "r", "--set", "data.name=npz:d.npz", "--set", "train.batch_size=4")) == 0
    before = _snapshot(tmp_path / "r")
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (20, 1, 6, 6)).astype(np.uint8))  # re-saved smaller
    err = _fails(capsys, _train("--out", "r", "--resume", "--steps", "20", "--set", "data.name=npz:d.npz", "--set",
                                "train.batch_size=4"), "training data changed", "from 1x8x8 to 1x6x6")
    assert "resume with the config" not in err
    assert _snapshot(tmp_path / "r") == before


def test_foreign_checkpoint(capsys, tmp_path):
    assert main(_train("--out", "a")) == 0
    assert main(_train("--out", "b", "--set", "model.g.hidden=[24]")) == 0
    foreign = next((tmp_path / "b" / "checkpoints").iterdir())
    _fails(capsys, ["sample", "a", "--n", "4", "--out", "s.npy", "--checkpoint", str(foreign)],
           f"is one of the run {tmp_path / 'b'}'s, not in a/checkpoints", "give that run as RUN_DIR")
    assert not (tmp_path / "s.npy").exists()
    # the same architecture: sampled and labelled as run a's (one of b's checkpoints), now refused the same way
    assert main(_train("--out", "c")) == 0
    same = next((tmp_path / "c" / "checkpoints").iterdir())
    _fails(capsys, ["sample", "a", "--n", "4", "--out", "s.npy", "--checkpoint", str(same)], "not in a/checkpoints")
    assert not (tmp_path / "s.npy").exists()


def test_corrupt_checkpoint(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    g = next((tmp_path / "r" / "checkpoints").iterdir()) / "G.safetensors"
    data = bytearray(g.read_bytes())
    data[-3] ^= 0xFF
    g.write_bytes(bytes(data))
    _fails(capsys, _train("--out", "r", "--resume", "--steps", "20"), "is damaged", "G.safetensors")


def test_disk_full(capsys, tmp_path, monkeypatch):
    from ganforge.runs import checkpoint

    real_save = checkpoint.save_file
    calls = {"n": 0}

    def save_file(tensors, path):
        calls["n"] += 1
        if "step-0000020" in path:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(tensors, path)

    monkeypatch.setattr(checkpoint, "save_file", save_file)
    _fails(capsys, _train("--out", "r", "--steps", "30"), "No space left on device",
           "step-0000010 is intact", "--resume")
    names = sorted(p.name for p in (tmp_path / "r" / "checkpoints").iterdir())
    assert names == ["step-0000010"]  # no half-written step-0000020 left behind
    monkeypatch.setattr(checkpoint, "save_file", real_save)
    assert main(_train("--out", "r", "--steps", "30", "--resume")) == 0


def test_sample_count(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    _fails(capsys, ["sample", "r", "--n", "0", "--out", "s.npy"], "--n must be a positive number")


def test_sample_not_a_run(capsys):
    _fails(capsys, ["sample", "nowhere", "--n", "5", "--out", "s.npy"], "nowhere does not exist")


def test_sample_out_exists(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    (tmp_path / "s.npy").write_bytes(b"precious")
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "s.npy"], "already exists", "--force")
    assert (tmp_path / "s.npy").read_bytes() == b"precious"


def test_diverged(capsys, monkeypatch):
    import torch

    from ganforge.objectives import losses

    monkeypatch.setitem(losses.D_LOSSES, "minimax",
                        losses.DLoss(lambda r, f, real_label=1.0: (r.mean() + f.mean()) * torch.tensor(float("nan"))))
    _fails(capsys, _train("--out", "r"), "training diverged at step 10", "loss_D", "guard.action=rollback")


def test_sync_batchnorm_cpu(capsys):
    _fails(capsys, _train("--out", "r", "--device", "cpu", "--set", "train.sync_batchnorm=true"),
           "train.sync_batchnorm needs CUDA", "train.sync_batchnorm=false")
    assert not Path("r").exists() or not any(Path("r").rglob("*.safetensors"))


def test_speed_choice(capsys):
    _fails(capsys, _train("--set", "speed.optimizer=fusd"), "speed.optimizer must be one of", "did you mean 'fused'")


def test_force_not_a_run(capsys, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("four years")
    err = _fails(capsys, _train("--out", "mine"), "already exists", "not a ganforge run")
    assert "--force" not in err  # never suggested for a folder --force would refuse
    _fails(capsys, _train("--out", "mine", "--force"), "--force will not delete mine", "thesis.txt")
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "four years"
    # a run with a file of the user's added, and a parent of runs, are not runs either
    assert main(_train("--out", "runs/r")) == 0
    (tmp_path / "runs" / "r" / "notes.txt").write_text("keep")
    _fails(capsys, _train("--out", "runs/r", "--force"), "notes.txt")
    _fails(capsys, _train("--out", "runs", "--force"), "did not write (r)")
    assert (tmp_path / "runs" / "r" / "notes.txt").read_text() == "keep"
    (tmp_path / "runs" / "r" / "notes.txt").unlink()  # one level down counts too
    (tmp_path / "runs" / "r" / "samples" / "my_notes.txt").write_text("keep")
    _fails(capsys, _train("--out", "runs/r", "--force"), "did not write (samples/my_notes.txt)")
    assert (tmp_path / "runs" / "r" / "samples" / "my_notes.txt").read_text() == "keep"


def test_force_cwd(capsys, tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("keep me")
    monkeypatch.setenv("HOME", str(tmp_path))
    for out in (".", str(tmp_path), "~"):
        _fails(capsys, _train("--out", str(Path(out).expanduser()), "--force"), "--force will not delete",
               "current, home or a parent directory")
    _fails(capsys, _train("--out", "..", "--force"), "--force will not delete")
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_out_is_a_file(capsys, tmp_path):
    (tmp_path / "r").write_text("not a folder")
    _fails(capsys, _train("--out", "r"), "--out r is a file, not a directory")
    _fails(capsys, _train("--out", "r/sub"), "r is a file, so r/sub cannot be a folder")
    assert (tmp_path / "r").read_text() == "not a folder"


def test_run_locked(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    hold = "import sys, time; from ganforge.runs.lock import RunLock; RunLock('r').acquire(); print('ok', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert proc.stdout.readline().strip() == "ok"
        before = _snapshot(tmp_path / "r")
        _fails(capsys, _train("--out", "r", "--resume", "--steps", "20"), f"being trained by process {proc.pid}")
        _fails(capsys, _train("--out", "r", "--force"), f"process {proc.pid}")
        assert _snapshot(tmp_path / "r") == before
    finally:
        proc.kill()
        proc.wait()
    assert main(_train("--out", "r", "--resume", "--steps", "20")) == 0  # a dead holder's lock is stale
    assert "no longer running" in capsys.readouterr().err


def test_npz_not_a_zip(capsys, tmp_path):
    (tmp_path / "d.npz").write_text("x,y\n1,2\n")
    _fails(capsys, _train("--set", "data.name=npz:d.npz"), "d.npz is not an .npz file", "numpy.savez")


def test_bad_net_value(capsys):
    _fails(capsys, ["train", "gan2014-digits", "--dry-run", "--set", "model.g.hidden=[256,-3]"],
           "model.g.hidden must be a list of layer widths, each an integer >= 1, got [256, -3]")
    assert not Path("runs").exists()


def test_read_only_out(capsys, tmp_path, read_only):
    ro = read_only(tmp_path / "ro")
    _fails(capsys, _train("--out", "ro/run"), "cannot write in", "ro")
    assert list(ro.iterdir()) == []


def test_figures_out_exists(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    (tmp_path / "figs").mkdir()
    (tmp_path / "figs" / "curves.png").write_bytes(b"my own figure")
    _fails(capsys, ["figures", "r", "--n", "20", "--out", "figs"], "curves.png already exists", "--force")
    assert (tmp_path / "figs" / "curves.png").read_bytes() == b"my own figure"


def test_grid_extension(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "s.npy", "--grid", "s.gif"], "--grid must name a .png file")
    assert not (tmp_path / "s.npy").exists()  # checked before anything was written


def test_grid_exists(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    (tmp_path / "s.png").write_bytes(b"precious")
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "s.npy", "--grid", "s.png"], "s.png already exists",
           "--force")
    assert (tmp_path / "s.png").read_bytes() == b"precious" and not (tmp_path / "s.npy").exists()
    assert main(["sample", "r", "--n", "5", "--out", "s.npy", "--grid", "s.png", "--force"]) == 0
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_labels_exist(capsys, tmp_path):
    narrow = ["--set", "model.g.base_channels=8", "--set", "model.d.base_channels=8", "--set", "data.name=digits",
              "--set", "train.batch_size=16", "--set", "log.tensorboard=false"]
    assert main(["train", "cgan-mnist", "--steps", "1", "--out", "c", *narrow]) == 0
    (tmp_path / "s.labels.npy").write_bytes(b"precious")
    _fails(capsys, ["sample", "c", "--n", "4", "--out", "s.npy"], "s.labels.npy already exists", "--force")
    assert (tmp_path / "s.labels.npy").read_bytes() == b"precious" and not (tmp_path / "s.npy").exists()


def test_json_exists(capsys, tmp_path):
    np.save(tmp_path / "p.npy", np.zeros((20, 2), np.float32))
    (tmp_path / "r.json").write_text("my report")
    _fails(capsys, ["eval", "--samples", "p.npy", "--dataset", "ring8", "--n", "20", "--json", "r.json"],
           "r.json already exists", "--force")
    assert (tmp_path / "r.json").read_text() == "my report"


def test_sample_no_cuda(capsys, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(_train("--out", "r")) == 0
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "s.npy", "--device", "cuda"], "no CUDA GPU", "--device cpu")
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "s.npy", "--device", "tpu"], "not a device")
    assert not (tmp_path / "s.npy").exists()


def test_sample_too_large(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    _fails(capsys, ["sample", "r", "--n", "100000000000", "--out", "s.npy"], "needs", "is free on",
           "fewer samples")
    assert not (tmp_path / "s.npy").exists()


def test_eval_zero_samples(capsys, tmp_path):
    np.save(tmp_path / "none.npy", np.zeros((0, 2), np.float32))
    _fails(capsys, ["eval", "--samples", "none.npy", "--dataset", "ring8"], "none.npy holds no samples")


def test_eval_non_finite_samples(capsys, tmp_path):
    x = np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32)
    x[3, 1] = np.nan
    np.save(tmp_path / "diverged.npy", x)
    _fails(capsys, ["eval", "--samples", "diverged.npy", "--dataset", "ring8"], "(1 of 100 rows)", "--checkpoint")


def test_eval_read_only(capsys, tmp_path, read_only):
    assert main(["train", "gan2014-ring8", "--steps", "10", *TINY, "--out", "r"]) == 0
    capsys.readouterr()
    read_only(tmp_path / "r" / "eval")
    assert main(["eval", "r", "--n", "50"]) == 2
    captured = capsys.readouterr()
    assert "modes50_3std" in captured.out  # the metrics are shown before the write fails
    assert captured.err.count("\n") == 1 and "cannot write in" in captured.err and "--json" in captured.err
    _SEEN.append(captured.err.strip())


def test_sample_stale_labels(capsys):
    assert main(_train("--out", "r")) == 0
    np.save("s.labels.npy", np.ones(5, np.int64))
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "s.npy"], "holds the classes of earlier samples", "--force")
    assert np.load("s.labels.npy").tolist() == [1] * 5 and not Path("s.npy").exists()


def test_figures_force_without_out(capsys):
    assert main(_train("--out", "r")) == 0
    _fails(capsys, ["figures", "r", "--force"], "--force needs --out", "drop --force")
    assert not Path("r/figures").exists()


def test_eval_force_without_json(capsys):
    assert main(_train("--out", "r")) == 0
    _fails(capsys, ["eval", "r", "--force", "--n", "50"], "--force needs --json", "drop --force")
    assert not Path("r/eval").exists()


def test_sample_read_only(capsys, tmp_path, read_only):
    assert main(_train("--out", "r")) == 0
    read_only(tmp_path / "ro")
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "ro/s.npy"], "cannot write in", "ro")


def test_figures_read_only(capsys, tmp_path, read_only):
    assert main(_train("--out", "r")) == 0
    read_only(tmp_path / "r" / "figures")
    _fails(capsys, ["figures", "r", "--n", "20"], "cannot write in", "figures", "--out")


def test_usage_error(capsys):
    _fails(capsys, ["sample", "r", "--n", "lots", "--out", "s.npy"], "argument --n: invalid int value: 'lots'",
           "ganforge sample --help")
    _fails(capsys, ["train", "--bogus"], "unrecognized arguments: --bogus")


def test_interrupted(capsys, tmp_path, monkeypatch):
    from ganforge import outputs

    assert main(_train("--out", "r")) == 0
    (tmp_path / "s.npy").write_bytes(b"old")
    real = outputs.stream_npy

    def interrupted(*args, **kwargs):
        def chunks():
            yield from ()
            raise KeyboardInterrupt

        return real(*args[:4], chunks(), **kwargs)

    monkeypatch.setattr(outputs, "stream_npy", interrupted)
    assert main(["sample", "r", "--n", "5", "--out", "s.npy", "--force"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: interrupted") and len(err.splitlines()) == 1
    assert (tmp_path / "s.npy").read_bytes() == b"old"
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]  # no half-written file left


# --- synthetic data: export, audit, DP-SGD (issue 17) ---------------------------------------------

DIGITS_CGAN = ["--set", "model.g.arch=dcgan", "--set", "model.g.base_channels=8", "--set", "model.g.conditioning=cbn",
               "--set", "model.d.arch=dcgan", "--set", "model.d.base_channels=8", "--set", "model.d.norm=layer",
               "--set", "model.z_dim=8"]


def test_export_class_balanced(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    _fails(capsys, ["export", "r", "--n", "10", "--out", "s.npz", "--class-balanced"],
           "--class-balanced needs a class-conditional run", "leave --class-balanced out")
    assert not list(tmp_path.glob("s*"))


def test_export_class_balanced_count(capsys, tmp_path, tiny_runs):
    _fails(capsys, ["export", str(tiny_runs / "cgan"), "--n", "7", "--out", "r7.npz", "--class-balanced"],
           "--n 7 is not a multiple of the 10 classes", "use e.g. --n 10")
    assert not list(tmp_path.glob("r7*"))


def test_export_count(capsys, tmp_path):
    _fails(capsys, ["export", "r", "--n", "0", "--out", "s.npz"], "--n must be a positive number of samples")


def test_export_disk_full(capsys, tmp_path, monkeypatch):
    from ganforge.synthetic import export as ex

    assert main(_train("--out", "r")) == 0
    calls = []

    def full(image, path):
        calls.append(path)
        if len(calls) > 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        Image.fromarray(image[0]).save(path, format="PNG")

    monkeypatch.setattr(ex, "save_png", full)
    _fails(capsys, ["export", "r", "--n", "50", "--out", "pngs"], "no space left", "partial export was removed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no folder that looks complete, no partial one


def test_audit_no_training_data(capsys, tmp_path):
    x = (np.arange(40 * 64) % 251).astype(np.uint8).reshape(40, 1, 8, 8)
    np.savez(tmp_path / "d.npz", x=x)
    assert main(_train("--out", "r", "--set", f"data.name=npz:{tmp_path / 'd.npz'}", "--set",
                       "train.batch_size=8")) == 0
    (tmp_path / "d.npz").unlink()
    _fails(capsys, ["audit", "r", "--holdout-data", "digits", "--holdout-split", "test"],
           "needs the run's training data", "d.npz")


def test_dp_batch_norm(capsys, tmp_path):
    _fails(capsys, ["train", "gan2014-digits", "--out", "r", "--steps", "2", *DIGITS_CGAN, "--set",
                    "recipe=dp-noise-to-image", "--set", "model.d.norm=batch", "--set", "data.resolution=16"],
           "batch norm", "set model.d.norm=layer")
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_dp_real_outside_d(capsys, tmp_path):
    _fails(capsys, ["train", "gan2014-digits", "--out", "r", "--steps", "2", *DIGITS_CGAN, "--set",
                    "recipe=dp-noise-to-image", "--set", "reg.feature_matching=1", "--set", "dp.delta=1e-4"],
           "reg.feature_matching does not", "set reg.feature_matching=0")
    assert not (tmp_path / "r").exists()


def test_dp_resume_shuffled(capsys, tmp_path):
    """A private image run of a ganforge before round 20 checkpointed a shuffled stream (an epoch position): its
    checkpoint is made so here (the state rewritten, the manifest's checksum with it), and resuming it is one line
    that leaves the run as it was."""
    argv = ["train", "gan2014-digits", "--out", "r", "--steps", "2", *DIGITS_CGAN, "--set", "recipe=dp-noise-to-image",
            "--set", "dp.delta=1e-4", "--set", "log.checkpoint_every=2", "--set", "log.tensorboard=false"]
    assert main(argv) == 0
    last = sorted((tmp_path / "r" / "checkpoints").glob("step-*"))[-1]
    state = json.loads((last / "state.json").read_text())
    state["real"] = {"epoch": 0, "position": 2, "epoch_rng": state["real"]["rng"]}
    (last / "state.json").write_text(json.dumps(state))
    manifest = json.loads((last / "manifest.json").read_text())
    manifest["files"]["state.json"] = sha256_file(last / "state.json")
    (last / "manifest.json").write_text(json.dumps(manifest))
    before = _snapshot(tmp_path / "r")
    capsys.readouterr()
    _fails(capsys, [*argv[:5], "4", *argv[6:], "--resume"], "drawn as shuffled fixed-size batches",
           "start a new run, or export this one as it is")
    assert _snapshot(tmp_path / "r") == before


def test_pairs_no_match(capsys, tmp_path):
    _images(tmp_path / "edges")
    for i in range(4):
        Image.new("L", (8, 8)).save(_images(tmp_path / "photos", n=0) / f"other{i}.png")
    _fails(capsys, _train("--set", "data.name=pairs:edges,photos"), "has a partner of the same name",
           "extension ignored")


def test_cifar10_jpeg_missing(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("GANFORGE_CIFAR10_JPEG", raising=False)
    _fails(capsys, _train("--data-dir", str(tmp_path / "data"), "--set", "data.name=cifar10-jpeg"),
           "cifar10-jpeg archive was not found", "GANFORGE_CIFAR10_JPEG=")


def test_net_does_not_fit_data(capsys):
    _fails(capsys, ["train", "biggan-cifar", "--steps", "1", "--set", "log.tensorboard=false",
                    "--set", "data.name=digits", "--set", "data.channels=3", "--set", "data.resolution=32",
                    "--set", "model.g.channels=4", "--set", "model.d.channels=4", "--set", "model.z_dim=30"],
           "z_dim 30 is not a multiple of 4", "model.g.hierarchical=false")


def test_path_length_needs_styles(capsys):
    _fails(capsys, _train("--out", "r", "--set", "reg.path_length=2"), "reg.path_length needs a style-based generator",
           "set reg.path_length=0")


def test_recipe_needs_its_nets(capsys):
    _fails(capsys, _train("--out", "r", "--set", "recipe=progressive"), "networks that grow", "noise-to-image")
    _fails(capsys, _train("--out", "s", "--set", "recipe=style-based"), "style-based generator", "noise-to-image")


def test_sample_no_such_option(capsys, tmp_path):
    assert main(_train("--out", "r")) == 0
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "s.npy", "--mix-seed", "3"], "has no --mix-seed option",
           "drop it")
    assert not (tmp_path / "s.npy").exists()


STYLE = ["train", "stylegan2-mnist", "--steps", "2", "--set", "data.name=digits", "--set", "model.g.channels=4",
         "--set", "model.g.w_dim=8", "--set", "model.d.channels=4", "--set", "model.z_dim=8", "--set",
         "train.batch_size=4", "--set", "log.tensorboard=false"]


def test_sample_bad_style_option(capsys, tmp_path):
    assert main([*STYLE, "--out", "r"]) == 0
    (tmp_path / "s.npy").write_bytes(b"old")
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "s.npy", "--force", "--mix-seed", "7", "--mix-layer", "99"],
           "mix layer must be in 1..3", "got 99")
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "t.npy", "--mix-layer", "2"], "--mix-layer needs --mix-seed")
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "t.npy", "--truncation", "-1"], "psi must be a number >= 0")
    for value in ("nan", "inf"):  # they passed `psi < 0` and drew all-black images
        _fails(capsys, ["sample", "r", "--n", "5", "--out", "t.npy", "--truncation", value],
               f"psi must be a number >= 0 (1 = off, 0 = the mean image), got {value}")
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "t.npy", "--truncation-centres", "8"],
           "--truncation-centres needs --truncation PSI")
    _fails(capsys, ["sample", "r", "--n", "5", "--out", "t.npy", "--truncation", "0.5", "--truncation-centres", "0"],
           "truncation centres must be between 2 and 1000", "got 0")
    assert (tmp_path / "s.npy").read_bytes() == b"old" and not (tmp_path / "t.npy").exists()


def test_mbstd_group_split(capsys, tmp_path):
    """Refused before the run directory exists, naming a group size that fits (the layer checks the batches
    it is given as well, for builders' defaults and per-process batches: tests/nets/test_nets_layers.py)."""
    _fails(capsys, [*STYLE, "--out", "r", "--set", "model.d.mbstd_group=3"],
           "train.batch_size=4 does not split into groups of model.d.mbstd_group=3", "model.d.mbstd_group to 2")
    _fails(capsys, [*STYLE, "--out", "r", "--set", "log.diversity_n=130"],
           "log.diversity_n=130 does not split into groups of model.d.mbstd_group=4", "multiple of 4 (e.g. 128)")
    assert not (tmp_path / "r").exists()


# --- super-resolution (issue 13): `ganforge upscale` and the srgan recipe's inputs ---------------------------

SR_TINY = ["--set", "data.name=digits", "--set", "data.channels=3", "--set", "superres.hr_crop=8", "--set",
           "model.g.channels=8", "--set", "model.g.blocks=1", "--set", "train.batch_size=8", "--set",
           "log.tensorboard=false"]


def _sr_run(path):
    assert main(["train", "srresnet-x4", "--out", str(path), "--steps", "1", *SR_TINY]) == 0
    return path


def test_upscale_16_bit(capsys, tmp_path):
    run = _sr_run(tmp_path / "sr")
    Image.fromarray(np.full((6, 6), 40000, np.uint16)).save(tmp_path / "scan16.png")
    _fails(capsys, ["upscale", str(run), "--input", str(tmp_path / "scan16.png"), "--out", "o.png"],
           "is a 16-bit image", "convert it to 8 bits")
    assert not Path("o.png").exists()


def test_upscale_grey_to_rgb(capsys, tmp_path):
    run = _sr_run(tmp_path / "sr")
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(tmp_path / "camera.png")
    _fails(capsys, ["upscale", str(run), "--input", str(tmp_path / "camera.png"), "--out", "o.png"],
           "greyscale image and the run's model takes RGB", "convert it to RGB")


def test_upscale_wrong_run(capsys, tmp_path):
    assert main(_train("--out", str(tmp_path / "gan"))) == 0
    Image.fromarray(np.zeros((6, 6, 3), np.uint8)).save(tmp_path / "a.png")
    _fails(capsys, ["upscale", str(tmp_path / "gan"), "--input", str(tmp_path / "a.png"), "--out", "b.png"],
           "is a noise-to-image run, which does not upscale images", "srresnet or srgan run")


def test_upscale_npy_dtype(capsys, tmp_path):
    run = _sr_run(tmp_path / "sr")
    np.save(tmp_path / "floats.npy", np.zeros((1, 3, 4, 4), np.float32))
    _fails(capsys, ["upscale", str(run), "--input", str(tmp_path / "floats.npy"), "--out", "o.npy"],
           "holds float32 (1, 3, 4, 4); upscale takes uint8 images")


def test_vgg19_wrong_hash(capsys, tmp_path):
    weights = tmp_path / "vgg19-dcbb9e9d.pth"
    weights.write_bytes(b"not the weights")
    _fails(capsys, ["train", "srgan-x4", "--out", "r", "--steps", "1", *SR_TINY, "--set", "superres.feature_loss=vgg19",
                    "--set", f"superres.vgg19_weights={weights}"], "not the expected dcbb9e9d", "download")


def test_sr_init_not_super_resolution(capsys, tmp_path):
    """A pix2pix run as init_g: the line names the run to give, not model.g.arch=unet (which cannot build)."""
    other = tmp_path / "p2p"
    (other / "checkpoints" / "step-0000020").mkdir(parents=True)
    (other / "checkpoints" / "step-0000020" / "manifest.json").write_text('{"files": {}}')
    cfg = config.resolve(presets.load_preset("pix2pix-edges")[0], [], reads=recipes.reads_of)
    (other / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    err = _fails(capsys, ["train", "srgan-x4", "--out", "r", "--steps", "1", *SR_TINY, "--set",
                          f"superres.init_g={other}"],
                 "is from a paired-translation run (model.g.arch=unet)", "give a srresnet (or srgan) run")
    assert "model.g.arch=unet;" not in err and not Path("r").exists()


def test_sr_init_damaged(capsys, tmp_path):
    run = _sr_run(tmp_path / "sr")
    g = next((run / "checkpoints").glob("step-*")) / "G.safetensors"
    data = bytearray(g.read_bytes())
    data[-1] ^= 0xFF
    g.write_bytes(bytes(data))
    _fails(capsys, ["train", "srgan-x4", "--out", "r", "--steps", "1", *SR_TINY, "--set", f"superres.init_g={run}"],
           "does not match its checksum", "give another checkpoint as superres.init_g")


def test_speed_graphs(capsys):
    _fails(capsys, _train("--set", "speed.graphs=sometimes"), "speed.graphs must be true, false or auto, got 'sometimes'")


# --- translation (issue 12) ------------------------------------------------------------------------

# on pix2pix-edges: a noise-to-image preset states keys (model.z_dim, ...) the translation recipe never reads
TRANSLATION = ["--set", "recipe=paired-translation", "--set", "model.g.arch=unet", "--set", "model.g.depth=3",
               "--set", "model.g.base_channels=4", "--set", "model.d.arch=patchgan", "--set", "model.d.layers=1",
               "--set", "model.d.base_channels=4", "--set", "train.batch_size=4", "--set", "log.tensorboard=false"]


def _translation_run(tmp_path, channels=1, paired=True):
    """A 2-step pix2pix run on random 8x8 pairs with `channels` channels."""
    a = np.random.RandomState(0).randint(0, 256, (8, channels, 8, 8)).astype(np.uint8)
    np.savez(tmp_path / "pairs.npz", a=a, b=a, paired=paired)
    assert main(["train", "pix2pix-edges", "--steps", "2", "--out", "tr", *TRANSLATION,
                 "--set", f"data.name=npz:{tmp_path / 'pairs.npz'}"]) == 0
    return "tr"


def test_translate_wrong_channels(tmp_path, capsys):
    run = _translation_run(tmp_path, channels=3)
    Image.new("L", (8, 8)).save("grey.png")
    capsys.readouterr()
    _fails(capsys, ["translate", run, "--input", "grey.png", "--out", "c.png"], "grey.png is a grey image",
           "takes 3 channel(s) (RGB)")
    np.save("grey.npy", np.zeros((2, 1, 8, 8), np.uint8))
    _fails(capsys, ["translate", run, "--input", "grey.npy", "--out", "c.npy"], "1 channel(s) (grey)",
           "takes 3 (RGB)")
    assert not Path("c.png").exists() and not Path("c.npy").exists()


def test_translate_16_bit(tmp_path, capsys):
    run = _translation_run(tmp_path)
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save("scan16.png")
    Path("o.png").write_bytes(b"keep")
    capsys.readouterr()
    _fails(capsys, ["translate", run, "--input", "scan16.png", "--out", "o.png", "--force"], "is a 16-bit image",
           "translate reads 8-bit images", "convert it to 8 bits")
    assert Path("o.png").read_bytes() == b"keep"


def test_translate_not_a_multiple(tmp_path, capsys):
    run = _translation_run(tmp_path)
    np.save("odd.npy", np.zeros((2, 1, 10, 10), np.uint8))
    capsys.readouterr()
    _fails(capsys, ["translate", run, "--input", "odd.npy", "--out", "y.npy"], "multiples of 8",
           "nearest valid size is 8x8")
    np.savez("odd.npz", a=np.zeros((8, 1, 10, 10), np.uint8), b=np.zeros((8, 1, 10, 10), np.uint8))
    _fails(capsys, ["train", "pix2pix-edges", "--out", "odd", *TRANSLATION, "--set", "data.name=npz:odd.npz"],
           "size_policy=pad")


def test_translate_over_memory(tmp_path, capsys, monkeypatch):
    """With 1 MB free, a 256x256 input's pass needs more than half of it: one line naming the need and a size that
    fits, before any work; nothing is written."""
    run = _translation_run(tmp_path)
    np.save("big.npy", np.zeros((1, 1, 256, 256), np.uint8))
    monkeypatch.setattr(translation_model, "available_memory", lambda: 2 ** 20)
    capsys.readouterr()
    _fails(capsys, ["translate", run, "--input", "big.npy", "--out", "y.npy"], "256x256 images need about",
           "1.0 MB is free", "resize the input to about")
    assert not Path("y.npy").exists()


def test_sample_class_translation(tmp_path, capsys):
    run = _translation_run(tmp_path)
    capsys.readouterr()
    _fails(capsys, ["sample", run, "--n", "4", "--out", "s.npy", "--class", "3"], "--class does not apply")
    assert not Path("s.npy").exists()


def test_translate_noise_run(capsys):
    assert main(_train("--out", "noise")) == 0
    np.save("x.npy", np.zeros((2, 1, 8, 8), np.uint8))
    capsys.readouterr()
    _fails(capsys, ["translate", "noise", "--input", "x.npy", "--out", "y.npy"], "has no input to translate",
           "ganforge sample")
    assert not Path("y.npy").exists()
    _fails(capsys, ["translate", "noise", "--eval", "--json", "m.json"], "measure it with ganforge eval noise")
    sr = _sr_run(Path("sr"))
    _fails(capsys, ["translate", str(sr), "--eval"], "srresnet run, which has no input to translate",
           "measure it with ganforge upscale sr --eval skimage-photos")
    assert not Path("m.json").exists()


def test_pix2pix_unpaired_data(tmp_path, capsys):
    rng = np.random.RandomState(0)
    np.savez("u.npz", a=rng.randint(0, 256, (8, 1, 8, 8)).astype(np.uint8),
             b=rng.randint(0, 256, (6, 1, 8, 8)).astype(np.uint8), paired=False)
    _fails(capsys, ["train", "pix2pix-edges", "--out", "u", *TRANSLATION, "--set", "data.name=npz:u.npz"],
           "needs paired data", "cycle-translation")


def test_translate_eval_or_files(tmp_path, capsys):
    run = _translation_run(tmp_path)
    np.save("x.npy", np.zeros((2, 1, 8, 8), np.uint8))
    capsys.readouterr()
    _fails(capsys, ["translate", run, "--eval", "--input", "x.npy"], "takes no --input", "give either --eval or")
    _fails(capsys, ["translate", run], "give --input and --out", "or --eval")
    _fails(capsys, ["translate", run, "--input", "x.npy", "--out", "y.npy", "--json", "m.json"],
           "--json goes with --eval")
    assert not Path("y.npy").exists() and not Path("m.json").exists()


def test_translate_eval_no_test_split(tmp_path, capsys):
    run = _translation_run(tmp_path)
    capsys.readouterr()
    _fails(capsys, ["translate", run, "--eval", "--json", "m.json"], "which has no test split", "--input/--out")
    assert not Path("m.json").exists()


def test_eval_wrong_recipe(tmp_path, capsys):
    run = _translation_run(tmp_path)
    capsys.readouterr()
    _fails(capsys, ["eval", run], "tr is a paired-translation run: measure it with ganforge translate tr --eval")
    sr = _sr_run(tmp_path / "sr")
    _fails(capsys, ["eval", str(sr)], f"srresnet run: measure it with ganforge upscale {sr} --eval skimage-photos")
    assert not Path("tr/eval").exists() and not (sr / "eval").exists()


def test_train_eval_every_without_noise_samples(tmp_path, capsys):
    _fails(capsys, ["train", "srresnet-x4", "--out", "sr", "--steps", "1", *SR_TINY, "--set", "eval.every=1"],
           "eval.every scores samples drawn from noise (and keeps checkpoints/best by that score), which does not "
           "measure this run: sr is a srresnet run; set eval.every=0 and measure the run after training with "
           "`ganforge upscale sr --eval skimage-photos`")
    assert not Path("sr/checkpoints").exists()


# ---- anomaly detection (ganforge anomaly; docs/anomaly.md) ---------------------------------------

ANOMALY_TINY = ["--set", "data.name=digits", "--set", "data.digit=null", "--set", "model.g.base_channels=4",
                "--set", "model.d.base_channels=4", "--set", "model.z_dim=4", "--set", "log.tensorboard=false",
                "--set", "train.batch_size=16"]


def _ganomaly_run(tmp_path):
    run = tmp_path / "gano"
    assert main(["train", "ganomaly-mnist", "--steps", "2", "--out", str(run), *ANOMALY_TINY]) == 0
    return str(run)


def test_protocol_needs_digit(capsys):
    _fails(capsys, ["train", "ganomaly-mnist", "--steps", "2", "--set", "data.digit=null"],
           "dataset 'mnist-one-normal' needs the digit", "set data.digit")
    _fails(capsys, ["train", "dcgan-mnist", "--steps", "2", "--set", "data.digit=3"], "remove data.digit")


def test_anomaly_image_shape(capsys, tmp_path):
    run = _ganomaly_run(tmp_path)
    np.save(tmp_path / "rgb.npy", np.zeros((2, 3, 32, 32), np.uint8))
    _fails(capsys, ["anomaly", "score", run, "--input", str(tmp_path / "rgb.npy"), "--out", "s.npy"],
           "holds 3x32x32 images", "trained on 1x8x8")
    assert not Path("s.npy").exists()


def test_anomaly_wrong_method(capsys, tmp_path):
    run = _ganomaly_run(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 8, 8), np.uint8))
    _fails(capsys, ["anomaly", "score", run, "--method", "anogan", "--input", str(tmp_path / "x.npy"),
                    "--out", "s.npy"], "'ganomaly' run", "use --method ganomaly")


def test_anomaly_unknown_protocol(capsys, tmp_path):
    _fails(capsys, ["anomaly", "eval", _ganomaly_run(tmp_path), "--protocol", "mnist-one-normall"],
           "unknown anomaly protocol", "did you mean 'mnist-one-normal'")


def test_run_cannot_classify(capsys):
    assert main(_train("--out", "r")) == 0
    np.save("x.npy", np.zeros((2, 1, 8, 8), np.uint8))
    capsys.readouterr()
    _fails(capsys, ["classify", "r", "--input", "x.npy", "--out", "p.npy"], "its D does not classify",
           "ganforge train ssgan-mnist-100")
    assert not Path("p.npy").exists()


def test_anomaly_eval_no_labels(capsys, tmp_path):
    _fails(capsys, ["anomaly", "eval", _ganomaly_run(tmp_path)], "'digits' has no anomaly labels")


def _poison(run, *groups):
    """Write the run's last checkpoint again, through runs/checkpoint.py's own writer (so its manifest holds),
    with every bias of the named nets NaN: a run whose weights diverged."""
    from ganforge.runs import checkpoint

    last = checkpoint.list_checkpoints(Path(run) / "checkpoints")[-1]
    tensors, state = checkpoint.load(last)
    for group in groups:
        for key, value in tensors[group].items():
            if value.is_floating_point() and (key.endswith("bias") or key.endswith(".b")):
                value.fill_(float("nan"))
    checkpoint.save(last.parent, int(state["step"]), tensors, state)


def _protocol_run(tmp_path):
    """A tiny GANomaly run on an MVTec-style folder protocol: normal images dark, anomalies bright."""
    root = tmp_path / "parts"
    _images(root / "train", n=20)
    _images(root / "test" / "good", n=4)
    for i in range(4):
        Image.new("L", (8, 8), color=250).save(_images(root / "test" / "bright", n=0) / f"b{i}.png")
    run = tmp_path / "proto"
    assert main(["train", "ganomaly-mnist", "--steps", "2", "--out", str(run), *ANOMALY_TINY,
                 "--set", f"data.name=anomaly-folder:{root}"]) == 0
    return str(run)


def test_train_eval_every_test_split(capsys):
    for dry in (["--dry-run"], []):  # the dry run resolves in-training eval's names too (an unknown one as well)
        _fails(capsys, _train("--out", "te", "--set", "eval.every=5", "--set", "eval.metrics=[fid_test]", *dry),
               "eval.every keeps checkpoints/best by fid10k_test_lenet8, measured against the test split",
               "name a metric on train first (e.g. fid_train)")
    _fails(capsys, _train("--out", "te", "--set", "eval.every=5", "--set", "eval.metrics=[fidd]", "--dry-run"),
           "unknown metric 'fidd' (did you mean 'fid'?)")
    assert not Path("te").exists()


def test_train_eval_every_anomaly_protocol(capsys):
    _fails(capsys, ["train", "anogan-mnist", "--out", "ano", "--steps", "10", "--set", "eval.every=5"],
           "which does not measure this run: ano was trained on the anomaly protocol mnist-one-normal, whose test "
           "split is mostly anomalies, so sample quality against it means nothing; set eval.every=0 and measure "
           "the run after training with `ganforge anomaly eval ano`")
    assert not Path("ano/checkpoints").exists() and not Path("ano/config.yaml").exists()


def test_anomaly_eval_best_checkpoint(capsys, tmp_path):
    run = _protocol_run(tmp_path)
    shutil.copytree(next(Path(run, "checkpoints").glob("step-*")), Path(run, "checkpoints", "best"))
    capsys.readouterr()
    _fails(capsys, ["anomaly", "eval", run, "--checkpoint", "best", "--out", "r.json"],
           "chosen by the in-training evaluation (eval.every)", "--checkpoint latest")
    assert not Path("r.json").exists()


def test_anomaly_non_finite_scores(capsys, tmp_path):
    run = _protocol_run(tmp_path)
    _poison(run, "G")
    np.save("x.npy", np.zeros((3, 1, 8, 8), np.uint8))
    capsys.readouterr()
    _fails(capsys, ["anomaly", "score", run, "--input", "x.npy", "--out", "s.npy", "--maps", "maps"],
           "3 of 3 ganomaly scores", "NaN or infinite", "score an earlier checkpoint with --checkpoint")
    assert not Path("s.npy").exists() and not (Path("maps").exists() and any(Path("maps").iterdir()))
    _fails(capsys, ["anomaly", "eval", run, "--out", "r.json"], "NaN or infinite", "--checkpoint")
    assert not Path("r.json").exists()


SEMI_TINY = ["--steps", "2", "--set", "model.g.hidden=[16]", "--set", "model.d.hidden=[32,16]",
             "--set", "train.batch_size=20", "--set", "log.tensorboard=false"]


def test_semi_supervised_missing_class(capsys):
    np.savez("miss.npz", x=np.zeros((60, 1, 8, 8), np.uint8), y=np.array([0, 1, 3] * 20))
    _fails(capsys, ["train", "ssgan-mnist-100", "--out", "sm", "--set", "data.name=npz:miss.npz",
                    "--set", "data.labels_per_class=null", *SEMI_TINY],
           "needs training images of every class", "has none of class 2", "choose a dataset")
    assert not Path("sm/config.yaml").exists() and not Path("sm/checkpoints").exists()
    _images(Path("parts/train"), n=20)
    _images(Path("parts/test/good"), n=2)
    _fails(capsys, ["train", "ssgan-mnist-100", "--out", "sp", "--set", "data.name=anomaly-folder:parts",
                    "--set", "data.labels_per_class=null", *SEMI_TINY], "is an anomaly protocol",
           "--set data.name=mnist")
    assert not Path("sp/config.yaml").exists()
    _fails(capsys, ["train", "ssgan-mnist-100", "--out", "sl", "--set", "data.name=digits",
                    "--set", "data.labels_per_class=160", *SEMI_TINY], "the smallest", "at most")
    assert not Path("sl/config.yaml").exists()


def test_classify_non_finite_logits(capsys):
    assert main(["train", "ssgan-mnist-100", "--out", "r", "--set", "data.name=digits",
                 "--set", "data.labels_per_class=3", *SEMI_TINY]) == 0
    _poison("r", "D", "D_ema")
    np.save("x.npy", np.zeros((4, 1, 8, 8), np.uint8))
    capsys.readouterr()
    _fails(capsys, ["classify", "r", "--input", "x.npy", "--out", "p.npy", "--probs"],
           "gives NaN or infinite class logits for 4 of 4 images", "--checkpoint")
    assert not Path("p.npy").exists() and not Path("p.probs.npy").exists()
    _fails(capsys, ["eval", "r"], "NaN or infinite class logits", "--checkpoint")
    assert not Path("r/eval").exists() or not any(Path("r/eval").iterdir())


def test_d_input_non_finite(capsys):
    assert main(["train", "ssgan-mnist-100", "--out", "r", "--set", "data.name=digits",
                 "--set", "data.labels_per_class=3", *SEMI_TINY]) == 0
    x = np.full((2, 1, 8, 8), 0.5, np.float32)
    x[1, 0, 2, 2] = np.nan
    np.save("x.npy", x)
    capsys.readouterr()
    _fails(capsys, ["classify", "r", "--input", "x.npy", "--out", "p.npy"], "holds NaN or infinite values (1 of 128)",
           "pass finite images")
    assert not Path("p.npy").exists()


def test_dataset_unusable_source(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    _fails(capsys, ["dataset", "empty", "--out", "st"], "no usable images")
    mixed = _images(tmp_path / "mixed", n=2)
    Image.new("RGB", (8, 8), (9, 9, 9)).save(mixed / "colour.png")
    _fails(capsys, ["dataset", "mixed", "--out", "st"], "mixes grey and colour", "pass --channels 1 or --channels 3")
    _fails(capsys, ["dataset", str(_images(tmp_path / "one", n=1)), "--out", "st"], "a dataset needs at least 2")
    _fails(capsys, ["dataset", str(_images(tmp_path / "wide", size=(12, 8))), "--out", "st"],
           "not square; pass --crop center")
    assert not Path("st").exists()


def test_store_unfinished(capsys, tmp_path):
    (tmp_path / "st.partial-123").mkdir()
    _fails(capsys, _train("--set", f"data.name=store:{tmp_path / 'st.partial-123'}"), "not a finished ganforge store",
           "interrupted build", "ganforge dataset SRC --out")
    (tmp_path / "empty").mkdir()
    _fails(capsys, _train("--set", f"data.name=store:{tmp_path / 'empty'}"), "(it is empty); build one with "
           f"ganforge dataset SRC --out {tmp_path / 'empty'}")
    _fails(capsys, _train("--set", f"data.name=store:{tmp_path / 'nosuch'}"), "nosuch does not exist; build a store "
           f"there with ganforge dataset SRC --out {tmp_path / 'nosuch'}")


def test_run_lacks_capability(capsys):
    assert main(_train("--out", "r")) == 0
    capsys.readouterr()
    _fails(capsys, ["sample", "r", "--n", "4", "--out", "s.npy", "--class", "3"], "has no --class option",
           "it offers generate, truncation, score")
    assert not Path("s.npy").exists()


def test_serve_bad_limit(capsys):
    _fails(capsys, ["serve", "r", "--max-batch", "0"], "--max-batch must be a positive number, got 0")
    _fails(capsys, ["serve", "r", "--port", "70000"], "--port must be in 0..65535")
    _fails(capsys, ["explore", "no-such-run"], "is not a directory")
    assert main(_train("--out", "r")) == 0
    capsys.readouterr()
    _fails(capsys, ["serve", "r", "--truncation-centres", "8"], "noise-to-image run, which cannot fit truncation centres")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        _fails(capsys, ["serve", "r", "--port", str(port)], f"cannot listen on 127.0.0.1:{port}", "--port 0")


def test_export_force_foreign_files(capsys):
    assert main(_train("--out", "r")) == 0
    assert main(["export", "r", "--n", "6", "--out", "out"]) == 0
    Path("out/mine.txt").write_text("mine")
    capsys.readouterr()
    _fails(capsys, ["export", "r", "--n", "4", "--out", "out", "--force"], "--force will not delete", "mine.txt")
    assert Path("out/mine.txt").read_text() == "mine"


def test_out_empty_or_dot(capsys):
    assert main(_train("--out", "r")) == 0
    capsys.readouterr()
    for out in ("", "."):
        err = _fails(capsys, ["export", "r", "--n", "4", "--out", out, "--force"], "--out")
        assert "already exists" not in err
    assert sorted(p.name for p in Path(".").iterdir()) == ["r"]


def test_n_over_memory(capsys):
    assert main(_train("--out", "r")) == 0
    capsys.readouterr()
    _fails(capsys, ["audit", "r", "--judge", "none", "--n", "1000000000"], "of memory",
           "the most this machine takes now is --n")



def test_audit_points_run(capsys):
    assert main(["train", "gan2014-ring8", "--steps", "10", *TINY, "--out", "r"]) == 0
    _fails(capsys, ["audit", "r", "--judge", "none"], "r draws 2D points", "the audit measures images",
           "ganforge figures r")

def test_audit_of_another_run(capsys):
    assert main(_train("--out", "a")) == 0 and main(_train("--out", "b", "--seed", "1")) == 0
    assert main(["audit", "a", "--n", "40", "--members", "40", "--judge", "none", "--out", "a.json"]) == 0
    capsys.readouterr()
    _fails(capsys, ["export", "b", "--n", "4", "--out", "b.npz", "--audit", "a.json"], "a.json")
    assert not Path("b.npz").exists()


def test_translate_not_4d(tmp_path, capsys):
    run = _translation_run(tmp_path)
    np.save("flat.npy", np.zeros((2, 8, 8), np.uint8))
    capsys.readouterr()
    err = _fails(capsys, ["translate", run, "--input", "flat.npy", "--out", "y.npy"], "3 dimensions, not 4",
                 "add the channel axis")
    assert "convert them to uint8" not in err
    assert not Path("y.npy").exists()


def test_bad_table(capsys):
    cases = {"empty.csv": (b"", "is empty"), "ragged.csv": (b"a,b\n1,2\n3,4,5\n6,7\n", "line 3 has 3 fields"),
             "nulls.csv": (b"a,b\n1,\n2,\n3,\n", "only nulls"), "one.csv": (b"a,b\n1,2\n", "has 1 row"),
             "latin1.csv": ("t\nM\u00e1laga\nYork\n".encode("latin-1"), "is not UTF-8")}
    for name, (content, message) in cases.items():
        Path(name).write_bytes(content)
        # the streamed check of a column names the column, the others the file
        named = "column 'b'" if name == "nulls.csv" else name
        _fails(capsys, ["train", "ctgan-fast", "--set", f"data.name=csv:{name}", "--out", "run"], message, named)
        assert not Path("run").exists()


def test_table_report_columns_differ(capsys):
    Path("real.csv").write_text("age,town\n" + "".join(f"{20 + i},{'ab'[i % 2]}\n" for i in range(20)))
    Path("syn.csv").write_text("years,town\n" + "".join(f"{30 + i},{'ab'[i % 2]}\n" for i in range(20)))
    _fails(capsys, ["table-report", "real.csv", "syn.csv", "--out", "r.json"], "missing: age", "not in REAL: years")
    assert not Path("r.json").exists()


def test_table_non_finite(capsys):
    rows = "".join(f"{20 + i},{'inf' if i == 3 else 40.5 + i}\n" for i in range(20))
    Path("inf.csv").write_text("age,income\n" + rows)
    _fails(capsys, ["train", "ctgan-fast", "--set", "data.name=csv:inf.csv", "--out", "run"],
           "column 'income' holds inf at row 4", "replace it with a finite number")
    assert not Path("run").exists()


def test_table_separator(capsys):
    Path("semi.csv").write_text("age;town\n" + "".join(f"{20 + i};{'ab'[i % 2]}\n" for i in range(20)))
    _fails(capsys, ["table-report", "semi.csv", "semi.csv", "--out", "r.json"], "one column named 'age;town'",
           "it looks ';'-separated: save it comma-separated")
    assert not Path("r.json").exists()
    _fails(capsys, ["train", "ctgan-fast", "--set", "data.name=csv:semi.csv", "--out", "run"], "';'-separated")
    assert not Path("run").exists()


def test_out_is_input(capsys):
    np.save("x.npy", np.zeros((2, 1, 8, 8), np.uint8))
    _images(Path("pics"))
    before = _snapshot(".")
    _fails(capsys, ["classify", "r", "--input", "x.npy", "--out", "x.npy", "--force"], "--out is the --input file",
           "choose another --out")
    _fails(capsys, ["translate", "r", "--input", "pics", "--out", "pics", "--force"], "--out is the --input folder")
    assert _snapshot(".") == before


def test_folder_input_file_out(capsys):
    _images(Path("pics"))
    _fails(capsys, ["translate", "r", "--input", "pics", "--out", "td.npy"], "a folder --input needs a folder --out")
    _fails(capsys, ["upscale", "r", "--input", "pics", "--out", "up.png"], "got up.png")
    assert not Path("td.npy").exists() and not Path("up.png").exists()


def _copied(tiny_runs, name="digits"):

    return Path(shutil.copytree(tiny_runs / name, "r"))


def test_checkpoint_no_manifest(capsys, tiny_runs):
    run = _copied(tiny_runs)
    for manifest in run.glob("checkpoints/step-*/manifest.json"):
        manifest.unlink()
    capsys.readouterr()
    err = _fails(capsys, ["sample", "r", "--n", "2", "--out", "s.npy"], "is damaged (no manifest.json",
                 "move that folder out of checkpoints/")
    assert "train longer" not in err and not Path("s.npy").exists()


def test_empty_config(capsys, tiny_runs):
    run = _copied(tiny_runs)
    (run / "config.yaml").write_text("")
    capsys.readouterr()
    _fails(capsys, ["sample", "r", "--n", "2", "--out", "s.npy"], "r/config.yaml is empty", "restore it")


def test_figures_no_noise_samples(capsys, tiny_runs):
    run = tiny_runs / "pix2pix"
    capsys.readouterr()
    _fails(capsys, ["figures", str(run), "--out", "f"], "draws no samples from noise", "nothing was written")
    assert not Path("f").exists()


def test_holdout_data_image_run(capsys, tiny_runs):
    run = tiny_runs / "cgan"
    capsys.readouterr()
    _fails(capsys, ["downstream", str(run), "--holdout-data", "csv:h.csv", "--n", "20"],
           "--holdout-data is for table runs")


def test_table_header(capsys):
    Path("dup.csv").write_text("a,a,c\n" + "".join(f"{i},{i + 1},{i % 2}\n" for i in range(20)))
    _fails(capsys, ["train", "ctgan-fast", "--set", "data.name=csv:dup.csv", "--out", "run"],
           "table dup.csv: columns 1 and 2 are both named 'a'; give every column its own name")
    assert not Path("run").exists()
    Path("idx.csv").write_text(",a,c\n" + "".join(f"{i},{i + 1},{i % 2}\n" for i in range(20)))
    _fails(capsys, ["table-report", "idx.csv", "idx.csv", "--out", "r.json"], "column 1 of the header has no name",
           "index=False")
    assert not Path("r.json").exists()


def test_table_datetime_offsets(capsys):
    import pandas as pd

    stamps = pd.date_range("2020-03-20", periods=30, freq="D", tz="Europe/London").strftime("%Y-%m-%d %H:%M:%S%z")
    pd.DataFrame({"when": stamps, "x": range(30)}).to_csv("local.csv", index=False)
    _fails(capsys, ["train", "ctgan-fast", "--set", "data.name=csv:local.csv", "--out", "run"],
           "column 'when' holds datetimes in more than one UTC offset (+0000, +0100")
    assert not Path("run").exists()


def _table_run(capsys):
    rows = lambda seed, n: "x,y,label\n" + "".join(  # noqa: E731
        f"{v:.3f},{seed * 1000 + i},{'pq'[i % 2]}\n" for i, v in enumerate(np.random.default_rng(seed).normal(size=n)))
    Path("pt.csv").write_text(rows(0, 150))
    Path("hold.csv").write_text(rows(1, 50))
    assert main(["train", "ctgan-fast", "--set", "data.name=csv:pt.csv", "--set", "data.target=label", "--steps", "10",
                 "--set", "log.tensorboard=false", "--out", "runs/pt"]) == 0
    capsys.readouterr()
    return rows


def test_table_changed(capsys):
    rows = _table_run(capsys)
    Path("pt.csv").write_text(rows(7, 50))
    _fails(capsys, ["audit", "runs/pt", "--holdout-data", "csv:hold.csv", "--out", "a.json"],
           "the table loaded as csv:pt.csv differs from the one runs/pt was trained on (fingerprint mismatch)")
    _fails(capsys, ["downstream", "runs/pt", "--holdout-data", "csv:hold.csv"], "(fingerprint mismatch)")
    assert not Path("a.json").exists()


def test_holdout_is_training(capsys):
    _table_run(capsys)
    for verb in ("downstream", "audit"):
        _fails(capsys, [verb, "runs/pt", "--holdout-data", "csv:pt.csv"],
               "150 of its 150 rows (100%) are rows of the training table csv:pt.csv", "never saw")
    _fails(capsys, ["table-report", "pt.csv", "hold.csv", "--holdout", "pt.csv"], "is REAL itself")


def test_split_holds_training_images(capsys, tiny_runs):
    run = tiny_runs / "cgan"  # trained on digits' train split, which `all` holds
    _fails(capsys, ["audit", str(run), "--n", "20", "--judge", "none", "--holdout-split", "all"],
           "the held-out split digits (all): 1500 of its 1797 images (83%) are images", "pass another --holdout-split")
    _fails(capsys, ["downstream", str(run), "--what", "cas", "--n", "20", "--test-split", "all", "--out", "c.json"],
           "the test split digits (all): 1500 of its 1797 images (83%) are images", "pass another --test-split")
    assert not Path("c.json").exists()


def test_duplicate_key(capsys):
    Path("my.yaml").write_text("extends: gan2014-digits\ntrain: {steps: 10}\ntrain: {batch_size: 5}\n")
    _fails(capsys, ["train", "./my.yaml", "--dry-run"], "the key 'train' is stated twice (lines 2 and 3)", "keep one")


def test_invalid_yaml(capsys):
    for text, problem in [
            ("train:\n  steps: 3\n\t batch: 2\n", "found character '\\t' that cannot start any token (line 3, column 1)"),
            ("train: {steps: 3\n", "expected ',' or '}', but got '<stream end>' (line 2, column 1)"),
            ("train:\n  steps: 3\n  ? [a, b]\n  : 1\n", "found unhashable key (line 3, column 5)")]:
        Path("my.yaml").write_text(text)
        _fails(capsys, ["train", "my.yaml", "--dry-run"], f"preset 'my.yaml' is not valid YAML: {problem}")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_preset(capsys, text):
    Path("my.yaml").write_text(text)
    _fails(capsys, ["train", "my.yaml", "--out", "rr"], "preset 'my.yaml' is empty",
           "state at least one key, e.g. extends: gan2014-digits")
    assert not Path("rr").exists()


def test_augment_not_images(capsys):
    _fails(capsys, ["train", "gan2014-ring8", "--steps", "2", "--set", "augment.policy=color", "--out", "rr"],
           "augment.policy augments images, and 'ring8' is points data", "--set augment.policy=")
    assert not Path("rr/checkpoints").exists()


def test_speed_switch_does_nothing(capsys):
    _fails(capsys, ["train", "gan2014-ring8", "--steps", "2", "--set", "speed.channels_last=true", "--out", "rr"],
           "speed.channels_last=true lays out images, and 'ring8' is points data", "--set speed.channels_last=auto")
    _fails(capsys, _train("--set", "speed.tf32=true", "--set", "train.device=cpu", "--out", "rr"),
           "speed.tf32=true is a CUDA setting", "device is cpu", "--set speed.tf32=auto")
    _fails(capsys, _train("--set", "speed.cudnn_benchmark=true", "--set", "train.device=cpu", "--out", "rr"),
           "speed.cudnn_benchmark=true is a CUDA setting")
    assert not Path("rr").exists()  # refused before the run directory is written


def test_aux_without_classifier(capsys):
    _fails(capsys, _train("--set", "reg.aux_weight=7", "--out", "rr"), "reg.aux_weight=7.0 sets ACGAN's classifier",
           "has no classifier head", "set model.d.aux_classifier=true, or remove reg.aux_weight")
    _fails(capsys, _train("--set", "reg.aux_on_fake=false", "--out", "rr"), "reg.aux_on_fake=false sets ACGAN's")
    assert not Path("rr").exists()


SWITCHED_OFF = [("optim.g.momentum=0.9", "optim.g.name=adam"), ("optim.d.momentum_final=0.9", "optim.d.name=adam"),
                ("optim.d.momentum_ramp_epochs=5", "optim.d.name=adam"),
                ("augment.ada_kimg=100", "augment.ada_target=null"), ("augment.ada_interval=8", "augment.ada_target=null"),
                ("guard.max_retries=5", "guard.action=stop"), ("guard.lr_factor=0.3", "guard.action=stop"),
                ("guard.reseed=false", "guard.action=stop"), ("guard.collapse_d_loss=0.1", "guard.collapse_d_fake=null")]


def test_key_switched_off(capsys):
    for setting, switch in SWITCHED_OFF:
        _fails(capsys, ["train", "gan2014-digits", "--set", setting, "--dry-run", "--out", "rr"],
               f"{setting.split('=')[0]}=", f"(from --set {setting}) is read only when",
               f"this run has {switch}, so it would change nothing")
    _fails(capsys, ["train", "gan2014-mnist", "--set", "optim.g.betas=[0.9, 0.99]", "--dry-run"],
           "optim.g.betas=[0.9, 0.99]", "optim.g.name=sgd", "set optim.g.name=adam")
    _fails(capsys, ["train", "cyclegan-inverted", "--set", "translation.pool_size=0", "--set", "translation.pool_swap=0.2",
                    "--dry-run"], "translation.pool_swap=0.2", "translation.pool_size=0")
    for setting in ("superres.vgg19_weights=w.pth", "superres.feature_weight=0.1"):  # srresnet: feature_loss none
        _fails(capsys, ["train", "srresnet-x4", "--set", setting, "--dry-run"], f"(from --set {setting})",
               "this run has superres.feature_loss=none")
    # pix2pix's L1-alone ablation inherits its parent's D settings; a D setting the user gives it is refused
    for setting in ("optim.d.lr=0.01", "train.d_steps=2", "loss.d=hinge", "translation.conditional_d=false"):
        _fails(capsys, ["train", "pix2pix-edges-l1", "--set", setting, "--dry-run"], f"(from --set {setting})",
               "this run has translation.gan=0")
    assert main(["train", "pix2pix-edges-l1", "--dry-run", "--out", "rr"]) == 0
    # a preset's key whose switch the user turns off is inherited, not stated: srgan-x4 sets feature_weight
    assert main(["train", "srgan-x4", "--set", "superres.feature_loss=none", "--dry-run", "--out", "rr"]) == 0
    # the same key with its switch on is taken, and so is the default with the switch off
    assert main(["train", "gan2014-mnist", "--set", "optim.g.momentum=0.9", "--dry-run", "--out", "rr"]) == 0
    assert main(["train", "gan2014-digits", "--set", "guard.action=rollback", "--set", "guard.lr_factor=0.3",
                 "--dry-run", "--out", "rr"]) == 0
    assert main(["train", "gan2014-digits", "--set", "optim.g.momentum=0.5", "--dry-run", "--out", "rr"]) == 0
    assert not Path("rr").exists()


def test_output_is_run_record(capsys, tiny_runs):
    run = _copied(tiny_runs)
    before = _snapshot(run)
    capsys.readouterr()
    _fails(capsys, ["eval", "r", "--metrics", "parzen", "--n", "20", "--json", "r/options.json", "--force"],
           "is part of the run", "write it outside the run's records")
    assert _snapshot(run) == before


def test_eval_n_over_memory(capsys):
    assert main(_train("--out", "r")) == 0
    capsys.readouterr()
    for verb in ("eval", "figures"):
        _fails(capsys, [verb, "r", "--n", "1000000000"], "--n 1000000000 needs about", "of memory",
               "the most this machine takes now is --n")
    assert not Path("r/eval").exists() and not Path("r/figures").exists()


def test_judge_cannot_read_data(capsys):
    assert main(_train("--out", "r")) == 0
    capsys.readouterr()
    _fails(capsys, ["eval", "r", "--metrics", "fid_lenet"], "judge 'lenet' reads 1x28x28 images",
           "write fid_lenet8 (the judge for digits)")
    assert not Path("r/eval").exists()


def test_eval_labels_not_classes(capsys):
    np.save("s.npy", np.zeros((30, 1, 8, 8), np.uint8))
    np.save("y.npy", np.full(30, 3.7))
    np.save("z.npy", np.full(30, 3))
    capsys.readouterr()
    base = ["eval", "--samples", "s.npy", "--dataset", "digits"]
    _fails(capsys, [*base, "--metrics", "acc", "--labels", "y.npy"], "must hold whole class numbers", "3.7")
    _fails(capsys, [*base, "--metrics", "fid", "--labels", "z.npy"], "--labels is read by the acc metric only",
           "drop --labels")


def test_checkpoint_bare_name(capsys):
    assert main(_train("--out", "r")) == 0
    capsys.readouterr()
    for verb in ("eval", "figures"):
        _fails(capsys, [verb, "r", "--checkpoint", "step-0000010"], "--checkpoint step-0000010 does not exist here",
               "pass --checkpoint r/checkpoints/step-0000010")
