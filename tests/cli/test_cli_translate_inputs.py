"""``ganforge translate`` on inputs the nets and readers once got wrong: a side too small for a ResNet
translator (a traceback, with size_policy=pad too), sizes written height x width, and a grey palette PNG
refused as colour. Uses test_cli_translate's trained runs."""

import numpy as np
from PIL import Image

from ganforge.cli import main
from ganforge.runs.run import load_run
from test_cli_translate import digits16, err, runs, task_runs  # noqa: F401 (fixtures)


def test_a_side_too_small_for_a_resnet_translator_is_one_line_or_padded(task_runs, tmp_path, monkeypatch, capsys):
    """At 4 px with 2 downsamplings the ResNet translator's bottleneck was 1 px, and translate ended in a
    traceback from instance norm, with size_policy=pad too. It is one line naming the smallest side and the
    nearest valid size (width x height); with size_policy=pad, a 1x1 image is padded and cropped back."""
    run = str(task_runs / "cycle")  # cyclegan-inverted: 2 downsamplings, so sides of at least 8
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "g4.png")
    Image.fromarray(np.zeros((17, 23), np.uint8)).save(tmp_path / "g23x17.png")  # 23 wide, 17 high
    np.save(tmp_path / "odd.npy", np.zeros((1, 1, 4, 4), np.uint8))
    cases = [("g4.png", "o.png", "4x4 (width x height) images do not fit this ResNet translator (2 downsamplings): "
                                 "height and width must be multiples of 4 and at least 8; the nearest valid size "
                                 "is 8x8"),
             ("odd.npy", "o.npy", "at least 8; the nearest valid size is 8x8"),
             ("g23x17.png", "o.png", "23x17 (width x height) images do not fit")]
    for name, out, want in cases:
        capsys.readouterr()
        assert main(["translate", run, "--input", str(tmp_path / name), "--out", str(tmp_path / out)]) == 2
        line = err(capsys)
        assert want in line, line
        assert name != "g23x17.png" or "the nearest valid size is 24x16" in line, line
        assert not (tmp_path / out).exists()

    def padding(*args, **kwargs):  # the same run as if trained with model.g.size_policy=pad
        opened = load_run(*args, **kwargs)
        opened.model.generator.size_policy = "pad"
        return opened
    monkeypatch.setattr("ganforge.cli.translate.load_run", padding)
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(tmp_path / "g1.png")
    for name in ("g1.png", "g4.png", "g23x17.png"):
        assert main(["translate", run, "--input", str(tmp_path / name), "--out", str(tmp_path / f"out-{name}")]) == 0
        assert Image.open(tmp_path / f"out-{name}").size == Image.open(tmp_path / name).size


def test_a_grey_palette_image_is_grey_to_a_grey_model(runs, tmp_path, capsys):
    """PNG optimisers store grey images as palettes: one whose entries are all grey was refused as "a colour (P)
    image" by a grey model. It is translated as its grey image is; a colour palette is still refused."""
    x, _ = digits16(1)
    grey = Image.fromarray(x[0, 0])
    grey.save(tmp_path / "grey.png")
    grey.convert("P").save(tmp_path / "palette.png")
    assert Image.open(tmp_path / "palette.png").mode == "P"
    for name in ("grey.png", "palette.png"):
        assert main(["translate", str(runs / "pix2pix"), "--input", str(tmp_path / name), "--out",
                     str(tmp_path / f"out-{name}")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out-palette.png")),
                          np.asarray(Image.open(tmp_path / "out-grey.png")))
    colour = np.stack([x[0, 0], x[0, 0] // 2, 255 - x[0, 0]], -1)
    Image.fromarray(colour).convert("P").save(tmp_path / "colour.png")
    capsys.readouterr()
    assert main(["translate", str(runs / "pix2pix"), "--input", str(tmp_path / "colour.png"), "--out",
                 str(tmp_path / "out-colour.png")]) == 2
    assert "colour.png is a colour (P) image but this model takes 1 channel(s) (grey)" in err(capsys)
    assert not (tmp_path / "out-colour.png").exists()
