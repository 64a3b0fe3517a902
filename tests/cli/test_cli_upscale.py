"""``ganforge upscale``: tiled equals untiled (exactly with the model's overlap, away from the seams
without it), any size, images / folders / .npy, the bicubic baseline under the same command, and every
bad input as one line."""

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import config, presets
from ganforge.cli import main
from one_line import fails  # tests/cli/one_line.py: the one-line refusal check
from ganforge.config import NetSpec
from ganforge.data.superres import bicubic_up
from ganforge.errors import GanforgeError
from ganforge.engine.loop import Trainer
from ganforge.nets import NetContext, build_generator
from ganforge.runs.run import load_run
from ganforge.upscaling import tiled

TINY = ["data.name=digits", "data.channels=3", "superres.hr_crop=8", "model.g.channels=8", "model.g.blocks=1",
        "train.batch_size=8", "train.steps=2", "log.tensorboard=false", "log.progress=false"]


@pytest.fixture(scope="module")
def sr_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("up") / "sr"
    Trainer(config.resolve(presets.load_preset("srresnet-x4")[0], [*TINY, "model.g.scale=2"]), path).fit()
    return path


def _rgb(path, w, h, seed=0):
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def _png_rgb16(path, w, h):
    """A 48-bit RGB PNG, written by hand (Pillow opens these as 8-bit RGB without a word)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + np.full((w, 3), 40000, ">u2").tobytes() for _ in range(h))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


def test_tiles_with_the_models_overlap_equal_the_whole_image():
    torch.manual_seed(0)
    G = build_generator(NetSpec("srresnet", {"channels": 8, "blocks": 1, "scale": 2}),
                        NetContext((3, 16, 16), 1)).eval()
    lr = torch.rand(1, 3, 61, 80)
    whole = tiled(lambda x: G(x), lr, 2, None, 0).int()
    exact = tiled(lambda x: G(x), lr, 2, 24, G.receptive_radius).int()
    assert whole.shape == (1, 3, 122, 160)
    assert (exact - whole).abs().max() <= 1  # float summation order only, then rounding to uint8
    seams = tiled(lambda x: G(x), lr, 2, 24, 0).int()
    diff = (seams - whole).abs().amax(1)[0]
    near = torch.zeros_like(diff, dtype=torch.bool)
    reach = 2 * G.receptive_radius  # in output pixels
    for edge in range(48, 122, 48):
        near[max(edge - reach, 0):edge + reach] = True
    for edge in range(48, 160, 48):
        near[:, max(edge - reach, 0):edge + reach] = True
    assert (~near).sum() > 1000 and diff.max() > 1  # there is a far region, and the seams do differ
    assert diff[~near].max() <= 1  # away from the seams: the same pixels
    assert diff[near].float().mean() < 8  # at the seams: close (mean difference in grey levels)


def test_upscale_an_image_a_folder_and_an_npy(sr_run, tmp_path, capsys):
    model = load_run(sr_run).model
    _rgb(tmp_path / "a.png", 13, 9)
    assert main(["upscale", str(sr_run), "--input", str(tmp_path / "a.png"), "--out", str(tmp_path / "a2.png"),
                 "--tile", "4"]) == 0
    out = np.asarray(Image.open(tmp_path / "a2.png"))
    lr = torch.from_numpy(np.asarray(Image.open(tmp_path / "a.png")).copy()).permute(2, 0, 1)[None].float() / 255
    want = (model.upscale(lr)[0].permute(1, 2, 0) * 255).round().numpy()
    assert out.shape == (18, 26, 3) and np.abs(out - want).max() <= 1
    (tmp_path / "in" / "sub").mkdir(parents=True)
    _rgb(tmp_path / "in" / "x.jpg", 8, 8)
    _rgb(tmp_path / "in" / "sub" / "y.png", 5, 7)
    assert main(["upscale", str(sr_run), "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    assert Image.open(tmp_path / "out" / "sub" / "y.png").size == (10, 14)
    assert Image.open(tmp_path / "out" / "x.png").size == (16, 16)
    np.save(tmp_path / "x.npy", np.random.default_rng(1).integers(0, 256, (3, 3, 6, 5), dtype=np.uint8))
    assert main(["upscale", str(sr_run), "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")]) == 0
    assert np.load(tmp_path / "y.npy").shape == (3, 3, 12, 10)
    capsys.readouterr()
    fails(capsys, ["upscale", sr_run, "--input", tmp_path / "a.png", "--out", tmp_path / "a2.png"], "already exists")


def test_bicubic_baseline_under_the_same_command(sr_run, tmp_path):
    _rgb(tmp_path / "a.png", 11, 6)
    for argv in (["upscale", str(sr_run), "--bicubic"], ["upscale", "--bicubic", "--scale", "2"]):
        out = tmp_path / f"b{len(argv)}.png"
        assert main([*argv, "--input", str(tmp_path / "a.png"), "--out", str(out), "--tile", "4"]) == 0
        lr = torch.from_numpy(np.asarray(Image.open(tmp_path / "a.png")).copy()).permute(2, 0, 1)[None].float() / 255
        want = (bicubic_up(lr, 2)[0].permute(1, 2, 0) * 255).round().numpy()
        assert np.abs(np.asarray(Image.open(out)) - want).max() <= 1


def test_an_image_smaller_than_the_tile_is_upscaled_whole_with_a_note(sr_run, tmp_path, capsys):
    _rgb(tmp_path / "s.png", 3, 2)
    assert main(["upscale", str(sr_run), "--input", str(tmp_path / "s.png"), "--out", str(tmp_path / "o.png"),
                 "--tile", "64"]) == 0
    assert "fits in one --tile 64; upscaled whole" in capsys.readouterr().err
    assert Image.open(tmp_path / "o.png").size == (6, 4)


def test_bad_inputs_are_one_line(sr_run, tmp_path, capsys):
    grey16 = tmp_path / "g16.png"
    Image.fromarray(np.full((6, 6), 40000, np.uint16)).save(grey16)
    fails(capsys, ["upscale", sr_run, "--input", grey16, "--out", tmp_path / "o.png"], "16-bit image")
    fails(capsys, ["upscale", sr_run, "--input", _png_rgb16(tmp_path / "c16.png", 5, 4), "--out", tmp_path / "o.png"],
           "16-bit image")
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(tmp_path / "grey.png")
    fails(capsys, ["upscale", sr_run, "--input", tmp_path / "grey.png", "--out", tmp_path / "o.png"],
           "greyscale image and the run's model takes RGB", "convert it to RGB")
    np.save(tmp_path / "f.npy", np.zeros((1, 3, 4, 4), np.float32))
    fails(capsys, ["upscale", sr_run, "--input", tmp_path / "f.npy", "--out", tmp_path / "o.npy"], "takes uint8")
    fails(capsys, ["upscale", sr_run, "--input", tmp_path / "none.png", "--out", tmp_path / "o.png"], "does not exist")
    fails(capsys, ["upscale", "--bicubic", "--input", tmp_path / "grey.png", "--out", tmp_path / "o.png"], "--scale")
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.npy").exists()


def test_a_noise_to_image_run_is_refused(tmp_path, capsys):
    gan = tmp_path / "gan"
    Trainer(config.resolve(presets.load_preset("gan2014-digits")[0],
                           ["train.steps=1", "model.g.hidden=[8]", "model.d.hidden=[8]", "log.tensorboard=false",
                            "log.progress=false"]), gan).fit()
    _rgb(tmp_path / "a.png", 4, 4)
    fails(capsys, ["upscale", gan, "--input", tmp_path / "a.png", "--out", tmp_path / "o.png"],
           "is a noise-to-image run, which does not upscale images", "srresnet or srgan run")


def test_train_suggests_upscale_not_sample_for_an_sr_run(tmp_path, capsys):
    argv = ["train", "srresnet-x4", "--out", str(tmp_path / "r"), "--steps", "1",
            *[a for s in [*TINY, "model.g.scale=2"] if not s.startswith("train.steps") for a in ("--set", s)]]
    assert main(argv) == 0
    next_line = [line for line in capsys.readouterr().out.splitlines() if line.startswith("next: ")]
    assert next_line == [f"next: ganforge upscale {tmp_path / 'r'} --input IMAGE --out OUT.png   "
                         "(or --eval skimage-photos for an RGB run)"]


def test_ganforge_eval_sends_an_sr_run_to_upscale_eval(sr_run, capsys):
    """eval's noise-sample metrics would score the decoded noise of an SR run: refused, naming the command."""
    fails(capsys, ["eval", sr_run], f"{sr_run} is a srresnet run: measure it with ganforge upscale {sr_run} "
                                     f"--eval skimage-photos")
    assert not (sr_run / "eval").exists()


def _bomb_png(path, side=20000):
    """A PNG whose header claims side x side pixels (over Pillow's decompression-bomb limit at 20000) and
    holds no pixel data: Pillow refuses it at open, from the header alone."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                     + chunk(b"IEND", b""))
    return path


def test_two_inputs_with_one_output_name_are_refused_before_any_work(tmp_path, capsys):
    """a.png and a.jpg both become out/a.png: one would replace the other (and with --force the first was left
    behind under a message saying nothing was written). Refused up front, naming both."""
    (tmp_path / "in").mkdir()
    _rgb(tmp_path / "in" / "a.png", 4, 4)
    _rgb(tmp_path / "in" / "a.jpg", 4, 4)
    _rgb(tmp_path / "in" / "b.png", 4, 4)
    for force in ([], ["--force"]):
        fails(capsys, ["upscale", "--bicubic", "--scale", "2", "--input", tmp_path / "in", "--out", tmp_path / "out",
                       *force], "a.jpg and ", "a.png would both be written to", "rename one")
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
        (tmp_path / "out").mkdir(exist_ok=True)


def test_a_decompression_bomb_is_one_line_naming_its_pixels_and_the_limit(tmp_path, capsys):
    bomb = _bomb_png(tmp_path / "bomb.png")
    fails(capsys, ["upscale", "--bicubic", "--scale", "2", "--input", bomb, "--out", tmp_path / "o.png"],
          "bomb.png is too large to decode safely", "400000000 pixels", "limit of", "give a smaller image")
    (tmp_path / "in").mkdir()
    _rgb(tmp_path / "in" / "a.png", 4, 4)
    _bomb_png(tmp_path / "in" / "b.png")
    fails(capsys, ["upscale", "--bicubic", "--scale", "2", "--input", tmp_path / "in", "--out", tmp_path / "out"],
          "b.png is too large to decode safely")
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "out").exists()


def test_an_output_too_large_for_memory_is_refused_before_it_is_allocated(tmp_path, capsys):
    """--scale 1000000 on a 5x3 image asks for 5000000x3000000 pixels (hundreds of TB): one line, not a
    RuntimeError from torch.empty."""
    from ganforge.upscaling import check_output_memory

    _rgb(tmp_path / "a.png", 5, 3)
    fails(capsys, ["upscale", "--bicubic", "--scale", "1000000", "--input", tmp_path / "a.png", "--out",
                   tmp_path / "o.png"], "upscaled x1000000 is 5000000x3000000 pixels", "of memory",
          "give a smaller --scale")
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 4, 4), np.uint8))
    fails(capsys, ["upscale", "--bicubic", "--scale", "1000000", "--input", tmp_path / "x.npy", "--out",
                   tmp_path / "o.npy"], "of memory")
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.npy").exists()
    check_output_memory("a.png", 3, 100, 100, 4, 0, 0, fix="-", available=10 ** 9)  # 5.1 MB of 1 GB: fine
    with pytest.raises(GanforgeError, match="needs about 5.1 MB of memory, and 1.0 MB is available"):
        check_output_memory("a.png", 3, 100, 100, 4, 0, 0, fix="-", available=2 ** 20)


def test_bicubic_refuses_a_checkpoint_it_would_ignore(sr_run, tmp_path, capsys):
    _rgb(tmp_path / "a.png", 4, 4)
    for argv in (["upscale", "--bicubic", "--scale", "2"], ["upscale", sr_run, "--bicubic"]):
        fails(capsys, [*argv, "--checkpoint", "best", "--input", tmp_path / "a.png", "--out", tmp_path / "o.png"],
              "--bicubic takes no weights, so --checkpoint would be ignored")
    assert not (tmp_path / "o.png").exists()


def test_a_folder_is_read_for_the_suffixes_every_folder_reader_takes(tmp_path):
    """One list of image suffixes (data.folder.IMAGE_SUFFIXES) for upscale, translate and folder: — a GIF or
    WebP in the folder is upscaled, not skipped without a word."""
    (tmp_path / "in").mkdir()
    _rgb(tmp_path / "in" / "a.gif", 4, 3)
    _rgb(tmp_path / "in" / "b.webp", 5, 2)
    assert main(["upscale", "--bicubic", "--scale", "2", "--input", str(tmp_path / "in"), "--out",
                 str(tmp_path / "out")]) == 0
    assert {p.name: Image.open(p).size for p in (tmp_path / "out").iterdir()} == {"a.png": (8, 6), "b.png": (10, 4)}
