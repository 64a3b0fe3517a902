"""``ganforge translate`` and ``sample`` on translation runs: .npy, image and folder in and out, and every
bad input of issue 12 as one line with exit code 2 and nothing overwritten."""

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))
from translation_data import QUIET, TINY_D, TINY_G, digits16, edges_npz  # noqa: E402

SETTINGS = [f"--set={s}" for s in ["recipe=paired-translation", *TINY_G, *TINY_D, *QUIET]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny pix2pix run (grey -> grey, 16 px) and one tiny noise-to-image run, trained once."""
    root = tmp_path_factory.mktemp("runs")
    data = edges_npz(root)
    assert main(["train", "gan2014-digits", "--steps", "2", "--out", str(root / "noise"), "--set=log.progress=false",
                 "--set=log.tensorboard=false", "--set=model.g.hidden=[16]", "--set=model.d.hidden=[8]"]) == 0
    assert main(["train", "gan2014-digits", "--steps", "2", "--out", str(root / "pix2pix"), *SETTINGS,
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


def test_sample_writes_an_input_output_target_sheet(runs, tmp_path, capsys):
    assert main(["sample", str(runs / "pix2pix"), "--n", "12", "--out", str(tmp_path / "s.npy"), "--grid",
                 str(tmp_path / "s.png")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (12, 1, 16, 16)
    assert Image.open(tmp_path / "s.png").width > 3 * 4 * 16  # 4 triples a row


@pytest.mark.parametrize("case", ["rgb-to-grey", "bad-size", "sample-class", "noise-run", "direction"])
def test_bad_input_is_one_line_and_writes_nothing(runs, tmp_path, capsys, case):
    out = tmp_path / "out.npy"
    out.write_bytes(b"keep")
    if case == "rgb-to-grey":
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "rgb.png")
        argv, want = ["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "rgb.png")], "3 channel(s) (RGB)"
    elif case == "bad-size":
        np.save(tmp_path / "odd.npy", np.zeros((2, 1, 12, 12), np.uint8))
        argv, want = ["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "odd.npy")], \
            "nearest valid size is 16x16"
    elif case == "sample-class":
        argv, want = ["sample", str(runs / "pix2pix"), "--n", "4", "--class", "3"], "--class does not apply"
    elif case == "noise-run":
        np.save(tmp_path / "in.npy", np.zeros((2, 1, 8, 8), np.uint8))
        argv, want = ["translate", str(runs / "noise"), "--input", str(tmp_path / "in.npy")], "has no input to translate"
    else:
        np.save(tmp_path / "in.npy", np.zeros((2, 1, 16, 16), np.uint8))
        argv, want = ["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "in.npy"), "--direction", "BA"], \
            "no B -> A generator"
    assert main([*argv, "--out", str(out), "--force"]) == 2
    assert want in err(capsys)
    assert out.read_bytes() == b"keep"


def test_mismatched_pairs_are_counted_and_no_match_is_one_line(tmp_path, capsys):
    x, _ = digits16(4)
    for d in ("A", "B"):
        (tmp_path / d).mkdir()
    for i, im in enumerate(x):
        Image.fromarray(im[0]).save(tmp_path / "A" / f"{i}.png")
        Image.fromarray(im[0]).save(tmp_path / "B" / f"{i + 2}.png")  # only 2 and 3 have partners
    run = tmp_path / "run"
    with pytest.warns(UserWarning, match="2 in A .* no partner"):  # unmatched files are reported with a count
        assert main(["train", "gan2014-digits", "--steps", "1", "--out", str(run), *SETTINGS,
                     f"--set=data.name=pairs:{tmp_path / 'A'},{tmp_path / 'B'}", "--set=train.batch_size=2"]) == 0
    capsys.readouterr()
    for f in (tmp_path / "B").iterdir():
        f.rename(f.with_name("x" + f.name))
    assert main(["train", "gan2014-digits", "--steps", "1", "--out", str(tmp_path / "run2"), *SETTINGS,
                 f"--set=data.name=pairs:{tmp_path / 'A'},{tmp_path / 'B'}"]) == 2
    assert "pairs" in err(capsys) and not (tmp_path / "run2").exists()
