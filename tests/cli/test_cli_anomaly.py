"""``ganforge anomaly score`` and ``eval`` from the command line: files by the output rule, one line
(exit 2) for every input they cannot take."""

import errno
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "anomaly"))
from blob_case import ANOMALY_AT, NORMAL_AT, blob_folder, blob_runs, blobs  # noqa: E402,F401  (tests/anomaly)

from ganforge.anomaly import Scorer  # noqa: E402
from ganforge.cli import main  # noqa: E402
from one_line import fails  # noqa: E402  (tests/cli/one_line.py: the one-line refusal check)


def test_score_writes_scores_and_overlays_and_refuses_to_overwrite(blob_runs, tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = np.concatenate([blobs(3, NORMAL_AT, rng), blobs(3, ANOMALY_AT, rng)])[:, None]
    np.save(tmp_path / "x.npy", x)
    run = str(blob_runs("ganomaly"))
    out, maps = tmp_path / "s.npy", tmp_path / "maps"
    assert main(["anomaly", "score", run, "--input", str(tmp_path / "x.npy"), "--out", str(out),
                 "--maps", str(maps)]) == 0
    scores = np.load(out)
    assert scores.shape == (6,) and scores[3:].min() > scores[:3].max()
    pngs = sorted(maps.glob("*.png"))
    assert len(pngs) == 6 and Image.open(pngs[0]).size == (2 * 128, 128)  # image | overlay, enlarged
    before = out.read_bytes()
    fails(capsys, ["anomaly", "score", run, "--input", str(tmp_path / "x.npy"), "--out", str(out)],
           "already exists", "--force")
    assert out.read_bytes() == before
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, img in enumerate(x[:, 0]):
        Image.fromarray(img).save(folder / f"{i}.png")
    assert main(["anomaly", "score", run, "--input", str(folder), "--out", str(tmp_path / "f.npy")]) == 0
    assert np.allclose(np.load(tmp_path / "f.npy"), scores)  # a folder of PNGs scores as the array does


def test_eval_prints_the_table_and_writes_json(blob_runs, tmp_path, capsys):
    assert main(["anomaly", "eval", str(blob_runs("ganomaly")), "--out", str(tmp_path / "r.json")]) == 0
    printed = capsys.readouterr().out
    assert "| shifted | anomalous | 40 |" in printed
    assert json.loads((tmp_path / "r.json").read_text())["method"] == "ganomaly"


def test_bad_input_is_one_line(blob_runs, tmp_path, capsys):
    run = str(blob_runs("ganomaly"))
    np.save(tmp_path / "rgb.npy", np.zeros((2, 3, 16, 16), np.uint8))
    fails(capsys, ["anomaly", "score", run, "--input", str(tmp_path / "rgb.npy"), "--out", str(tmp_path / "o.npy")],
           "3x16x16", "trained on 1x16x16")
    np.save(tmp_path / "big.npy", np.zeros((2, 1, 28, 28), np.uint8))
    fails(capsys, ["anomaly", "score", run, "--input", str(tmp_path / "big.npy"), "--out", str(tmp_path / "o.npy")],
           "1x28x28")
    fails(capsys, ["anomaly", "score", run, "--method", "anogan", "--input", str(tmp_path / "big.npy"),
                    "--out", str(tmp_path / "o.npy")], "'ganomaly' run", "--method ganomaly")
    fails(capsys, ["anomaly", "eval", run, "--protocol", "mnist-one-normall"], "unknown anomaly protocol",
           "did you mean 'mnist-one-normal'")
    fails(capsys, ["anomaly", "eval", run, "--protocol", "mnist"], "has no anomaly labels")
    fails(capsys, ["anomaly", "score", run, "--input", str(tmp_path / "none.npy"), "--out", str(tmp_path / "o.npy")],
           "does not exist")
    assert not (tmp_path / "o.npy").exists()


def test_ganforge_eval_sends_a_ganomaly_run_to_anomaly_eval(blob_runs, capsys):
    run = str(blob_runs("ganomaly"))
    fails(capsys, ["eval", run], f"{run} is a ganomaly run: measure it with ganforge anomaly eval {run}")


def _score_must_not_run(*args, **kwargs):
    raise AssertionError("scored before the outputs were checked")


def test_maps_folder_is_checked_before_scoring(blob_runs, tmp_path, capsys, monkeypatch):
    """A --maps folder that holds earlier maps (no --force) or a file ganforge did not write is refused before
    the scoring (minutes with AnoGAN), not after it."""
    run = str(blob_runs("ganomaly"))
    np.save(tmp_path / "x.npy", blobs(2, NORMAL_AT, np.random.default_rng(0))[:, None])
    maps = tmp_path / "maps"
    assert main(["anomaly", "score", run, "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "s.npy"),
                 "--maps", str(maps)]) == 0
    monkeypatch.setattr(Scorer, "score", _score_must_not_run)
    fails(capsys, ["anomaly", "score", run, "--input", tmp_path / "x.npy", "--out", tmp_path / "t.npy", "--maps",
                   maps], "already holds residual maps", "--force")
    (tmp_path / "mine").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "mine" / "00000.png")
    fails(capsys, ["anomaly", "score", run, "--input", tmp_path / "x.npy", "--out", tmp_path / "t.npy", "--maps",
                   tmp_path / "mine"], "holds 00000.png, which ganforge did not write there")
    assert not (tmp_path / "t.npy").exists()


def test_maps_never_appear_without_their_scores(blob_runs, tmp_path, capsys, monkeypatch):
    """The scores and the maps are put in place in one step: if the scores cannot be written, no map is left."""
    run = str(blob_runs("ganomaly"))
    np.save(tmp_path / "x.npy", blobs(2, NORMAL_AT, np.random.default_rng(0))[:, None])

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", disk_full)
    fails(capsys, ["anomaly", "score", run, "--input", tmp_path / "x.npy", "--out", tmp_path / "s.npy", "--maps",
                   tmp_path / "maps"], "no space left", "nothing was written")
    assert not (tmp_path / "s.npy").exists() and not list(tmp_path.glob("maps/*.png"))


def _nan_copy(run, dest, net):
    """A copy of ``run`` whose last checkpoint has every bias of ``net`` NaN, rewritten by runs/checkpoint.py's
    own writer (its manifest holds, so the run opens): a run whose weights diverged."""
    import shutil

    from ganforge.runs import checkpoint

    shutil.copytree(run, dest)
    last = checkpoint.list_checkpoints(dest / "checkpoints")[-1]
    tensors, state = checkpoint.load(last)
    for key, value in tensors[net].items():
        if key.endswith("bias"):
            value.fill_(float("nan"))
    checkpoint.save(last.parent, int(state["step"]), tensors, state)
    return dest


def test_nan_weights_are_one_line_and_write_nothing(blob_runs, tmp_path, capsys):
    """An f-AnoGAN run whose encoder turned NaN: `anomaly score` wrote NaN scores with exit 0, and `anomaly
    eval` ended in scikit-learn's traceback ("Input contains NaN")."""
    run = _nan_copy(blob_runs("fanogan"), tmp_path / "fnan", "E")
    np.save(tmp_path / "x.npy", blobs(3, NORMAL_AT, np.random.default_rng(0))[:, None])
    fails(capsys, ["anomaly", "score", run, "--input", tmp_path / "x.npy", "--out", tmp_path / "s.npy", "--maps",
                   tmp_path / "maps"], "3 of 3 fanogan scores", "NaN or infinite", "at step 300",
          "score an earlier checkpoint with --checkpoint")
    assert not (tmp_path / "s.npy").exists() and not list(tmp_path.glob("maps/*"))
    fails(capsys, ["anomaly", "eval", run, "--limit", "10", "--out", tmp_path / "r.json"], "NaN or infinite",
          "--checkpoint")
    assert not (tmp_path / "r.json").exists()


def test_a_folder_input_is_read_at_the_runs_resolution(blob_folder, tmp_path, capsys):
    """`anomaly score --input DIR` reads the folder as training and `anomaly eval` do, at the run's
    data.resolution and data.channels (it read the images at their own size and refused them)."""
    run = tmp_path / "r8"
    assert main(["train", "ganomaly-mnist", "--out", str(run), "--steps", "2", "--set",
                 f"data.name=anomaly-folder:{blob_folder}", "--set", "data.digit=null", "--set", "data.resolution=8",
                 "--set", "data.channels=1", "--set", "model.g.base_channels=4", "--set", "model.d.base_channels=4",
                 "--set", "model.z_dim=4", "--set", "train.batch_size=16", "--set", "log.tensorboard=false",
                 "--set", "log.progress=false"]) == 0
    folder = blob_folder / "test" / "shifted"  # 16x16 PNGs
    assert main(["anomaly", "score", str(run), "--input", str(folder), "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (40,)


def test_maps_force_never_removes_another_commands_output(blob_runs, tmp_path, capsys):
    """`--maps DIR --force` took any ganforge-manifest.json for earlier residual maps and removed every file it
    listed: an export folder lost its samples and datasheets. Only the maps' own manifest counts now; another
    command's folder is refused, with or without --force, and left byte for byte."""
    run = str(blob_runs("fanogan"))
    export = tmp_path / "exp"
    assert main(["export", run, "--n", "3", "--out", str(export)]) == 0
    before = {p.name: p.read_bytes() for p in export.iterdir()}
    assert len(before) >= 5 and "ganforge-manifest.json" in before  # 3 samples, the datasheets, the manifest
    np.save(tmp_path / "x.npy", blobs(2, NORMAL_AT, np.random.default_rng(0))[:, None])
    for force in ([], ["--force"]):
        fails(capsys, ["anomaly", "score", run, "--input", tmp_path / "x.npy", "--out", tmp_path / "s.npy",
                       "--maps", export, *force], f"--maps {export} holds 'ganforge export of {run}'",
              "not residual maps", "choose another --maps")
        assert {p.name: p.read_bytes() for p in export.iterdir()} == before
        assert not (tmp_path / "s.npy").exists()


def _save_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def test_a_folder_input_is_read_at_the_trained_shape_and_its_file_order_written(blob_runs, tmp_path, capsys):
    """A run whose data.resolution and data.channels are null (as in every MNIST preset) refused a folder of RGB
    PNGs of its own size ("holds 3x16x16 images ... trained on 1x16x16"); the folder is read at the shape the
    run was trained at now, converted as training converts. Its scores came with no file names: the order is
    written beside --out, one path per line, by the output rule."""
    run = str(blob_runs("ganomaly"))
    x = np.concatenate([blobs(2, NORMAL_AT, np.random.default_rng(3)), blobs(2, ANOMALY_AT, np.random.default_rng(4))])
    names = ["b/10.png", "b/2.png", "a/z.png", "a/1.png"]  # scored in path order: a/1, a/z, b/10, b/2
    folder = tmp_path / "rgb"
    for name, image in zip(names, x):
        _save_png(folder / name, np.repeat(image[..., None], 3, axis=2))  # grey values saved as RGB
    np.save(tmp_path / "x.npy", x[[3, 2, 0, 1], None])
    assert main(["anomaly", "score", run, "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "a.npy")]) == 0
    assert not (tmp_path / "a.files.txt").exists()  # an array's rows are their own order
    out = tmp_path / "s.npy"
    assert main(["anomaly", "score", run, "--input", str(folder), "--out", str(out), "--maps",
                 str(tmp_path / "maps")]) == 0
    assert (tmp_path / "s.files.txt").read_text().splitlines() == ["a/1.png", "a/z.png", "b/10.png", "b/2.png"]
    assert np.allclose(np.load(out), np.load(tmp_path / "a.npy"))
    big = tmp_path / "big"  # another size: resized as training resizes a folder
    for name, image in zip(names, x):
        _save_png(big / name, np.asarray(Image.fromarray(image).resize((32, 32))))
    assert main(["anomaly", "score", run, "--input", str(big), "--out", str(tmp_path / "big.npy")]) == 0
    assert np.load(tmp_path / "big.npy").shape == (4,)
    out.unlink()  # the order file alone is an earlier output too: refused without --force, and kept
    listing = (tmp_path / "s.files.txt").read_bytes()
    fails(capsys, ["anomaly", "score", run, "--input", folder, "--out", out], "s.files.txt already exists",
          "--force")
    assert not out.exists() and (tmp_path / "s.files.txt").read_bytes() == listing
    assert main(["anomaly", "score", run, "--input", str(folder), "--out", str(out), "--force"]) == 0
    assert (tmp_path / "s.files.txt").read_bytes() == listing and np.allclose(np.load(out), np.load(tmp_path / "a.npy"))



def test_an_array_input_never_leaves_an_earlier_folder_listing_beside_its_scores(blob_runs, tmp_path, capsys):
    """`--force` replaced a folder's scores with an array's and kept the folder's s.files.txt beside them: it named
    images the new scores were not of. The listing is part of the output now: refused without --force (as
    --out is), removed with it. A folder's cache goes in --data-dir (score had no such flag, while the cache
    refusal told users to pass it)."""
    run = str(blob_runs("ganomaly"))
    x = blobs(3, NORMAL_AT, np.random.default_rng(5))
    folder = tmp_path / "imgs"
    for i, image in enumerate(x):
        _save_png(folder / f"{i}.png", image)
    np.save(tmp_path / "x.npy", x[:, None])
    out, listing = tmp_path / "s.npy", tmp_path / "s.files.txt"
    cache = tmp_path / "data-dir"
    assert main(["anomaly", "score", run, "--input", str(folder), "--out", str(out), "--data-dir", str(cache)]) == 0
    assert listing.read_text().splitlines() == ["0.png", "1.png", "2.png"]
    assert [p.name for p in (cache / "stores").iterdir()][0].startswith("folder-")  # the cache went where asked
    out.unlink()
    before = listing.read_bytes()
    fails(capsys, ["anomaly", "score", run, "--input", tmp_path / "x.npy", "--out", out], "s.files.txt already exists",
          "--force")
    assert not out.exists() and listing.read_bytes() == before
    assert main(["anomaly", "score", run, "--input", str(tmp_path / "x.npy"), "--out", str(out), "--force"]) == 0
    assert np.load(out).shape == (3,) and not listing.exists()
    assert "s.files.txt: removed" in capsys.readouterr().out

def test_eval_of_a_run_trained_on_the_test_split_is_one_line(blob_runs, tmp_path, capsys):
    """A run made before data.split was checked on a protocol, trained on the test images it would be measured
    on, was measured (AUROC 0.82 in a probe); opening it is refused now, naming the fix."""
    import shutil

    run = shutil.copytree(blob_runs("ganomaly"), tmp_path / "on-test")
    text = (run / "config.yaml").read_text()
    assert "split: train" in text
    (run / "config.yaml").write_text(text.replace("split: train", "split: test"))
    fails(capsys, ["anomaly", "eval", run, "--limit", "10", "--out", tmp_path / "r.json"],
          "data.split=test would train on images that anomaly eval then uses", "set data.split=train")
    assert not (tmp_path / "r.json").exists()
