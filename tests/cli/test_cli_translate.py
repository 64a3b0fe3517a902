"""``ganforge translate`` and ``sample`` on translation runs: .npy, image and folder in and out, ``--eval``
on the run's own test split, and every bad input of issue 12 as one line with exit code 2 and nothing
overwritten; ``ganforge eval`` sends translation runs to ``translate --eval``."""

import json
import re
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.cli import main
from ganforge.data import Dataset, load_dataset, translation_tasks as tt
from ganforge.errors import WrongCommandError
from ganforge.metrics import translation as tm, translation_eval
from ganforge.runs.run import load_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from translation_data import QUIET, TINY_D, TINY_G, digits16, edges_npz  # noqa: E402
from translation_digits import fake_mnist, stand_in_lenet  # noqa: E402

# with pix2pix-edges (a noise-to-image preset states model keys the translation recipe never reads, refused)
SETTINGS = [f"--set={s}" for s in ["recipe=paired-translation", *TINY_G, *TINY_D, *QUIET]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny pix2pix run (grey -> grey, 16 px) and one tiny noise-to-image run, trained once."""
    root = tmp_path_factory.mktemp("runs")
    data = edges_npz(root)
    assert main(["train", "gan2014-digits", "--steps", "2", "--out", str(root / "noise"), "--set=log.progress=false",
                 "--set=log.tensorboard=false", "--set=model.g.hidden=[16]", "--set=model.d.hidden=[8]"]) == 0
    assert main(["train", "pix2pix-edges", "--steps", "2", "--out", str(root / "pix2pix"), *SETTINGS,
                 f"--set=data.name={data}"]) == 0
    return root


def err(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


def test_npy_in_npy_out_and_refusal_to_overwrite(runs, tmp_path, capsys):
    x, _ = digits16(10)
    np.save(tmp_path / "in.npy", x)
    out = tmp_path / "out.npy"
    assert main(["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "in.npy"), "--out", str(out)]) == 0
    y = np.load(out)
    assert y.shape == (10, 1, 16, 16) and y.dtype == np.uint8
    capsys.readouterr()
    before = out.read_bytes()
    assert main(["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "in.npy"), "--out", str(out)]) == 2
    assert "already exists; pass --force" in err(capsys) and out.read_bytes() == before


def test_a_folder_keeps_its_file_names(runs, tmp_path):
    x, _ = digits16(3)
    (tmp_path / "in" / "sub").mkdir(parents=True)
    for name, im in zip(["a.png", "b.png", "sub/c.png"], x):
        Image.fromarray(im[0]).save(tmp_path / "in" / name)
    assert main(["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "in"), "--out",
                 str(tmp_path / "out")]) == 0
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["a.png", "b.png", "sub/c.png"]
    assert np.asarray(Image.open(tmp_path / "out" / "sub" / "c.png")).shape == (16, 16)


def test_train_suggests_translate_not_sample_for_a_translation_run(tmp_path, capsys):
    """A translation G maps images to images: `ganforge sample` is not what a user runs next."""
    assert main(["train", "pix2pix-edges", "--steps", "1", "--out", str(tmp_path / "r"), *SETTINGS,
                 f"--set=data.name={edges_npz(tmp_path)}"]) == 0
    next_line = [line for line in capsys.readouterr().out.splitlines() if line.startswith("next: ")]
    assert next_line == [f"next: ganforge translate {tmp_path / 'r'} --input X.npy|IMAGE|DIR --out OUT   "
                         "(or --eval to score its test split)"]


def test_eval_every_on_a_translation_run_is_one_line_naming_translate_eval(tmp_path, capsys):
    """In-training eval scores samples drawn from noise: a translation run draws none, so it is refused."""
    out = tmp_path / "r"
    assert main(["train", "pix2pix-edges", "--steps", "1", "--out", str(out), *SETTINGS,
                 f"--set=data.name={edges_npz(tmp_path)}", "--set=eval.every=1"]) == 2
    assert err(capsys).endswith(f"set eval.every=0 and measure the run after training with "
                                f"`ganforge translate {out} --eval`")
    assert not (out / "checkpoints").exists()


def test_sample_writes_an_input_output_target_sheet(runs, tmp_path, capsys):
    assert main(["sample", str(runs / "pix2pix"), "--n", "12", "--out", str(tmp_path / "s.npy"), "--grid",
                 str(tmp_path / "s.png")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (12, 1, 16, 16)
    assert Image.open(tmp_path / "s.png").width > 3 * 4 * 16  # 4 triples a row


@pytest.mark.parametrize("case", ["rgb-to-grey", "rgba-to-grey", "16-bit", "bad-size", "sample-class", "noise-run",
                                  "direction", "uint8-3d", "float"])
def test_bad_input_is_one_line_and_writes_nothing(runs, tmp_path, capsys, case):
    out = tmp_path / "out.npy"
    out.write_bytes(b"keep")
    if case == "rgb-to-grey":
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "rgb.png")
        argv, want = ["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "rgb.png")], \
            "rgb.png is an RGB image but this model takes 1 channel(s) (grey); convert it to grey first"
    elif case == "rgba-to-grey":  # the file's own mode, not the RGB it was flattened to ("3 channel(s) (RGB)")
        Image.fromarray(np.zeros((16, 16, 4), np.uint8)).save(tmp_path / "rgba.png")
        argv, want = ["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "rgba.png")], \
            "rgba.png is an RGBA image but this model takes 1 channel(s) (grey)"
    elif case == "16-bit":  # was reduced to 8 bits without a word, while upscale refused it: refused as upscale does
        Image.fromarray(np.full((16, 16), 40000, np.uint16)).save(tmp_path / "scan16.png")
        argv, want = ["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "scan16.png")], \
            "scan16.png is a 16-bit image; translate reads 8-bit images and will not drop the low byte silently"
    elif case == "bad-size":
        np.save(tmp_path / "odd.npy", np.zeros((2, 1, 12, 12), np.uint8))
        argv, want = ["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "odd.npy")], \
            "nearest valid size is 16x16"
    elif case == "sample-class":
        argv, want = ["sample", str(runs / "pix2pix"), "--n", "4", "--class", "3"], "--class does not apply"
    elif case == "uint8-3d":  # issue 31: the fix is an axis, not a type
        np.save(tmp_path / "in.npy", np.zeros((2, 16, 16), np.uint8))
        argv, want = ["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "in.npy")], \
            "3 dimensions, not 4; add the channel axis"
    elif case == "float":
        np.save(tmp_path / "in.npy", np.zeros((2, 1, 16, 16), np.float32))
        argv, want = ["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "in.npy")], "convert them to uint8"
    elif case == "noise-run":
        np.save(tmp_path / "in.npy", np.zeros((2, 1, 8, 8), np.uint8))
        argv, want = ["translate", str(runs / "noise"), "--input", str(tmp_path / "in.npy")], "has no input to translate"
    else:
        np.save(tmp_path / "in.npy", np.zeros((2, 1, 16, 16), np.uint8))
        argv, want = ["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "in.npy"), "--direction", "BA"], \
            "no B -> A generator"
    assert main([*argv, "--out", str(out), "--force"]) == 2
    line = err(capsys)
    assert want in line, line
    assert case == "float" or "convert them to uint8" not in line
    assert out.read_bytes() == b"keep"


def test_mismatched_pairs_are_counted_and_no_match_is_one_line(tmp_path, capsys):
    x, _ = digits16(4)
    for d in ("A", "B"):
        (tmp_path / d).mkdir()
    for i, im in enumerate(x):
        Image.fromarray(im[0]).save(tmp_path / "A" / f"{i}.png")
        Image.fromarray(im[0]).save(tmp_path / "B" / f"{i + 2}.png")  # only 2 and 3 have partners
    run = tmp_path / "run"
    assert main(["train", "pix2pix-edges", "--steps", "1", "--out", str(run), *SETTINGS,
                 f"--set=data.name=pairs:{tmp_path / 'A'},{tmp_path / 'B'}", "--set=train.batch_size=2"]) == 0
    assert re.search("ganforge: warning: 2 in A .* no partner", capsys.readouterr().err)  # reported with a count
    for f in (tmp_path / "B").iterdir():
        f.rename(f.with_name("x" + f.name))
    assert main(["train", "pix2pix-edges", "--steps", "1", "--out", str(tmp_path / "run2"), *SETTINGS,
                 f"--set=data.name=pairs:{tmp_path / 'A'},{tmp_path / 'B'}"]) == 2
    assert "pairs" in err(capsys) and not (tmp_path / "run2").exists()


# --- translate --eval: the run's own task, test split ------------------------------------------------

TASK_TINY = ["--set=model.g.base_channels=4", "--set=model.d.base_channels=4", "--set=train.batch_size=4",
             "--set=log.tensorboard=false", "--set=log.progress=false", "--set=log.sample_every=1000",
             "--set=log.checkpoint_every=1000"]
TEST_IMAGES = 80


def _stand_in_mnist(name, req, split):
    """MNIST for the built-in tasks, from scikit-learn's digits (no download)."""
    x, y = fake_mnist(TEST_IMAGES if split == "test" else 40)
    return Dataset("mnist", "image", torch.from_numpy(x), torch.from_numpy(y), 10, {"sha256": "fake"})


@pytest.fixture(scope="module")
def task_runs(tmp_path_factory):
    """Tiny pix2pix-edges and cyclegan-inverted runs (2 steps) on the built-in tasks made from stand-in digits."""
    root = tmp_path_factory.mktemp("task-runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tt, "_source", _stand_in_mnist)
        assert main(["train", "pix2pix-edges", "--steps", "2", "--out", str(root / "pix2pix"), *TASK_TINY]) == 0
        assert main(["train", "cyclegan-inverted", "--steps", "2", "--out", str(root / "cycle"), *TASK_TINY,
                     "--set=model.g.blocks=1"]) == 0
    return root


@pytest.fixture
def stand_ins(monkeypatch):
    """The stand-in MNIST behind the tasks and the stand-in judge behind "lenet"; returns the judge names asked for."""
    monkeypatch.setattr(tt, "_source", _stand_in_mnist)
    judge, asked = stand_in_lenet(), []
    monkeypatch.setattr(translation_eval, "load_judge", lambda name, *a, **k: asked.append(name) or judge)
    return asked


@pytest.mark.parametrize("run,names", [
    ("pix2pix", {"l1_test_truth", "psnr_test_truth", "ssim_test_truth", "labelacc_test_lenet", "fid64_test_lenet"}),
    ("cycle", {"l1_test_truth", "psnr_test_truth", "ssim_test_truth", "labelacc_test_lenet_uninverted",
               "fid64_test_lenet_uninverted", "cycle_l1_test", "ssim_test_input"})])
def test_eval_prints_and_writes_the_protocol_named_metrics(task_runs, stand_ins, tmp_path, capsys, run, names):
    out = tmp_path / "m.json"
    capsys.readouterr()
    assert main(["translate", str(task_runs / run), "--eval", "--n", "64", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "the first 64 test images of mnist-" in printed and "judge lenet" in printed
    assert all(name in printed for name in names)
    report = json.loads(out.read_text())
    v = report["values"]
    assert set(v) == names and stand_ins == ["lenet"]
    assert (report["n"], report["split"], report["direction"], report["step"]) == (64, "test", "AB", 2)
    assert -1 <= v["ssim_test_truth"] <= 1 and 0 <= v["l1_test_truth"] <= 1 and v["psnr_test_truth"] > 0
    assert 0 <= next(v[k] for k in v if k.startswith("labelacc")) <= 1
    assert next(v[k] for k in v if k.startswith("fid64_test_lenet")) >= -1e-6
    if run == "cycle":
        assert -1 <= v["ssim_test_input"] <= 1 and 0 <= v["cycle_l1_test"] <= 1 and report["judge_view"] == "uninverted"


def test_eval_of_a_perfect_translator_is_perfect(task_runs, stand_ins, tmp_path, monkeypatch, capsys):
    """The command's numbers come from the model: one that returns the truth scores L1 0, SSIM 1, and the
    judge's own accuracy on the truth."""
    data = load_dataset("mnist-edges", split="test")
    truth, labels = data.b.x[:64].numpy(), data.y[:64].numpy()

    def perfect(*args, **kwargs):
        opened = load_run(*args, **kwargs)
        monkeypatch.setattr(opened.model, "translate", lambda x, *a, **k: truth[:len(x)])
        return opened
    monkeypatch.setattr("ganforge.cli.translate.load_run", perfect)
    argv = ["translate", str(task_runs / "pix2pix"), "--eval", "--n", "64", "--json", str(tmp_path / "p.json")]
    assert main(argv) == 0
    v = json.loads((tmp_path / "p.json").read_text())["values"]
    judge = stand_in_lenet()
    assert v["l1_test_truth"] == 0 and v["ssim_test_truth"] == 1
    assert v["labelacc_test_lenet"] == pytest.approx(tm.label_accuracy(truth, labels, judge))


def test_eval_and_input_out_are_either_or(task_runs, stand_ins, tmp_path, capsys):
    run = str(task_runs / "pix2pix")
    np.save(tmp_path / "in.npy", np.zeros((2, 1, 32, 32), np.uint8))
    cases = [(["--eval", "--input", str(tmp_path / "in.npy")], "takes no --input"),
             (["--eval", "--out", str(tmp_path / "o.npy")], "takes no --out"),
             ([], "give --input and --out"),
             (["--input", str(tmp_path / "in.npy")], "missing --out"),
             (["--input", str(tmp_path / "in.npy"), "--out", str(tmp_path / "o.npy"), "--json",
               str(tmp_path / "m.json")], "--json goes with --eval"),
             (["--eval", "--n", "1"], "--n must be at least 2")]
    for extra, want in cases:
        capsys.readouterr()
        assert main(["translate", run, *extra]) == 2
        assert want in err(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]


def test_eval_json_is_not_overwritten(task_runs, stand_ins, tmp_path, capsys):
    out = tmp_path / "m.json"
    out.write_text("mine")
    capsys.readouterr()
    assert main(["translate", str(task_runs / "pix2pix"), "--eval", "--n", "8", "--json", str(out)]) == 2
    assert "m.json already exists; pass --force" in err(capsys) and out.read_text() == "mine"
    assert stand_ins == []  # refused before anything was measured
    assert main(["translate", str(task_runs / "pix2pix"), "--eval", "--n", "8", "--json", str(out), "--force"]) == 0
    assert json.loads(out.read_text())["values"]["fid8_test_lenet"] >= -1e-6


def test_eval_of_a_run_without_a_test_split_is_one_line(runs, capsys):
    capsys.readouterr()
    assert main(["translate", str(runs / "pix2pix"), "--eval"]) == 2
    assert "has no test split" in err(capsys)


@pytest.mark.parametrize("run,recipe", [("pix2pix", "paired-translation"), ("cycle", "cycle-translation")])
def test_ganforge_eval_sends_a_translation_run_to_translate_eval(task_runs, tmp_path, capsys, run, recipe):
    path = str(task_runs / run)
    want = f"{path} is a {recipe} run: measure it with ganforge translate {path} --eval"
    capsys.readouterr()
    assert main(["eval", path, "--json", str(tmp_path / "e.json")]) == 2
    assert err(capsys) == f"ganforge: error: {want}"
    assert not (tmp_path / "e.json").exists() and not (task_runs / run / "eval").exists()
    for source in (path, load_run(path)):  # the Python API refuses the same way
        with pytest.raises(WrongCommandError) as e:
            ganforge.evaluate(source)
        assert str(e.value) == want


def _bomb_png(path, side=20000):
    """A PNG whose header claims side x side pixels and holds none: Pillow refuses it at open."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                     + chunk(b"IEND", b""))
    return path


def test_a_folder_is_read_for_every_image_suffix_and_other_formats_are_written_as_png(runs, tmp_path, capsys):
    """.gif/.tif/.bmp/.webp were skipped without a word; they are read as upscale and the folder readers read
    them, and written as .png (a GIF would quantise, a WebP be lossy). Two inputs that would share a name: one
    line naming both."""
    x, _ = digits16(4)
    (tmp_path / "in").mkdir()
    for name, im in zip(["a.png", "b.jpg", "c.tif", "d.bmp"], x):  # grey stays grey in these (a GIF is a palette)
        Image.fromarray(im[0]).save(tmp_path / "in" / name)
    assert main(["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "in"), "--out",
                 str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.jpg", "c.png", "d.png"]
    capsys.readouterr()
    Image.fromarray(x[0, 0]).save(tmp_path / "in" / "c.png")
    assert main(["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "in"), "--out",
                 str(tmp_path / "out2")]) == 2
    line = err(capsys)
    assert "c.png and " in line and "c.tif would both be written to" in line, line
    assert not (tmp_path / "out2").exists()


def test_an_unreadable_or_oversized_image_is_named_in_one_line(runs, tmp_path, capsys):
    """Pillow's own words name an in-memory buffer (<_io.BytesIO object at 0x...>) and a bomb was a traceback:
    the line names the file, and asks a folder's user to fix the file, not to give another format."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.png").write_bytes(b"not an image")
    for source, fix in ((tmp_path / "in" / "bad.png", "give a .png/.jpg"), (tmp_path / "in", "fix or remove it")):
        assert main(["translate", str(runs / "pix2pix"), "--input", str(source), "--out",
                     str(tmp_path / ("o.png" if source.suffix else "out"))]) == 2
        line = err(capsys)
        assert "bad.png is not an image Pillow can read" in line and fix in line and "BytesIO" not in line, line
        assert source.suffix or "give a" not in line
    _bomb_png(tmp_path / "bomb.png")
    assert main(["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "bomb.png"), "--out",
                 str(tmp_path / "o.png")]) == 2
    line = err(capsys)
    assert "bomb.png is too large to decode safely" in line and "400000000 pixels" in line, line
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "out").exists()


def test_a_super_resolution_run_is_refused_with_its_next_command_readable(tmp_path, capsys):
    """The recipe's next command carries an aside, "   (or --eval ...)": not quoted as part of the command."""
    sr = tmp_path / "sr"
    assert main(["train", "srresnet-x4", "--steps", "1", "--out", str(sr), "--set=data.name=digits",
                 "--set=data.channels=3", "--set=superres.hr_crop=8", "--set=model.g.channels=8",
                 "--set=model.g.blocks=1", "--set=model.g.scale=2", "--set=train.batch_size=8",
                 "--set=log.tensorboard=false", "--set=log.progress=false"]) == 0
    capsys.readouterr()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    assert main(["translate", str(sr), "--input", str(tmp_path / "a.png"), "--out", str(tmp_path / "o.png")]) == 2
    assert err(capsys).endswith(f"(it offers upscale); use ganforge upscale {sr} --input IMAGE --out OUT.png (or "
                                f"--eval skimage-photos for an RGB run)")


def test_an_exif_rotated_photo_is_translated_the_way_up_it_is_shown(runs, tmp_path):
    """A phone stores a portrait photo as landscape pixels and an EXIF rotation: translate read it as stored (the
    dataset builder turned it), so the output came out on its side. It reads it as shown now."""
    stored = Image.fromarray(np.zeros((16, 32), np.uint8))  # 32 wide as stored, 16 wide once turned
    exif = stored.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    stored.save(tmp_path / "phone.jpg", exif=exif.tobytes())
    assert main(["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "phone.jpg"), "--out",
                 str(tmp_path / "out.npy")]) == 0
    assert np.load(tmp_path / "out.npy").shape == (1, 1, 32, 16)


def test_transparency_is_composited_on_white_with_one_note(runs, tmp_path, capsys):
    """Alpha was dropped without a word: it still is (a translator knows no alpha), with one note saying so."""
    (tmp_path / "in").mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.zeros((16, 16, 2), np.uint8), "LA").save(tmp_path / "in" / name)  # transparent black
    capsys.readouterr()
    assert main(["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "in" / "a.png"), "--out",
                 str(tmp_path / "a.png")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ganforge: note:")]
    assert notes == [f"ganforge: note: {tmp_path / 'in' / 'a.png'} has transparency: translated composited on "
                     f"white, and the output has no alpha"]
    assert Image.open(tmp_path / "a.png").mode == "L"
    assert main(["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "in"), "--out",
                 str(tmp_path / "out")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ganforge: note:")]
    assert len(notes) == 1 and "2 inputs have (e.g. " in notes[0], notes
    x, _ = digits16(1)
    Image.fromarray(x[0, 0]).save(tmp_path / "opaque.png")
    assert main(["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "opaque.png"), "--out",
                 str(tmp_path / "o.png")]) == 0
    assert "transparency" not in capsys.readouterr().err


def test_sample_notes_training_inputs_only_when_the_data_has_no_test_split(runs, task_runs, stand_ins, tmp_path,
                                                                           capsys):
    """sample translates held-out inputs; npz:/pairs:/unpaired: data have none, and the training inputs it
    translates instead (which flatter the model) were used without a word. One note says so, only then."""
    capsys.readouterr()
    assert main(["sample", str(runs / "pix2pix"), "--n", "4", "--out", str(tmp_path / "a.npy"), "--grid",
                 str(tmp_path / "a.png")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "no test split" in line]
    assert len(notes) == 1 and notes[0].startswith("ganforge: note: ") and "own training inputs" in notes[0], notes
    assert main(["sample", str(task_runs / "pix2pix"), "--n", "4", "--out", str(tmp_path / "b.npy"), "--grid",
                 str(tmp_path / "b.png")]) == 0
    assert "no test split" not in capsys.readouterr().err
