from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import load_dataset, sources
from ganforge.data.base import LoadRequest
from ganforge.data.folder import decode_image, read_folder
from ganforge.errors import DataError
from ganforge.serve.images import decode_upload
from ganforge.upscaling import image_size, read_image


def _img(path, size=(8, 8), colour=(200, 30, 90), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour if mode != "L" else colour[0]).save(path)
    return path


@pytest.fixture
def classes(tmp_path):
    root = tmp_path / "imgs"
    _img(root / "cat" / "b.png", colour=(10, 10, 10))
    _img(root / "cat" / "a.png", colour=(20, 20, 20))
    _img(root / "dog" / "nested" / "c.jpg", colour=(250, 250, 250))
    _img(root / "dog" / "d.PNG", colour=(40, 40, 40))
    (root / "dog" / "notes.txt").write_text("not an image")
    _img(root / ".hidden" / "e.png")
    (root / "empty_class").mkdir()
    return root


def test_subfolders_are_classes_in_sorted_order(classes):
    ds = load_dataset(f"folder:{classes}", channels=1)
    assert ds.kind == "image" and ds.x.dtype == torch.uint8 and ds.x.shape == (4, 1, 8, 8)
    assert ds.meta["classes"] == ["cat", "dog"] and ds.num_classes == 2
    assert ds.y.tolist() == [0, 0, 1, 1]
    # sorted by relative path: cat/a, cat/b, dog/d.PNG, dog/nested/c.jpg
    assert [int(v) for v in ds.x[:, 0, 0, 0]][:3] == [20, 10, 40] and ds.x[3, 0, 0, 0] > 240
    again = load_dataset(f"folder:{classes}", channels=1)
    assert torch.equal(ds.x, again.x) and ds.meta["files_sha256"] == again.meta["files_sha256"]


def test_loose_images_are_unlabelled(tmp_path):
    _img(tmp_path / "x.png")
    _img(tmp_path / "sub" / "y.png")
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.y is None and ds.num_classes is None and "classes" not in ds.meta and len(ds) == 2


def test_rgb_to_grey_uses_pillow_luma(tmp_path):
    _img(tmp_path / "a.png", colour=(200, 30, 90))
    ds = load_dataset(f"folder:{tmp_path}", channels=1)
    expected = np.asarray(Image.new("RGB", (8, 8), (200, 30, 90)).convert("L"))
    assert ds.x.shape == (1, 1, 8, 8) and np.array_equal(ds.x[0, 0].numpy(), expected)


def test_channels_default_follows_the_images(tmp_path):
    _img(tmp_path / "g.png", colour=(77, 0, 0), mode="L")
    assert load_dataset(f"folder:{tmp_path}").x.shape[1] == 1
    _img(tmp_path / "c.png", colour=(1, 2, 3))
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.x.shape == (2, 3, 8, 8)
    assert ds.x[1, :, 0, 0].tolist() == [77, 77, 77]  # grey image replicated into RGB


def test_resize_short_side_then_centre_crop(tmp_path):
    img = Image.new("L", (60, 30), 0)
    img.paste(255, (15, 0, 45, 30))  # only the centred 30x30 square is white
    img.save(tmp_path / "wide.png")
    ds = load_dataset(f"folder:{tmp_path}", resolution=10)
    assert ds.x.shape == (1, 1, 10, 10)
    assert ds.x[0, 0, :, 1:-1].min().item() >= 250 and ds.x.min().item() > 200  # edges feel the filter's reach
    # identical to the literal recipe when the crop offset is a whole pixel: 60x30 -> 20x10 -> crop 5..15
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 60), dtype=np.uint8))
    noise.save(tmp_path / "wide.png")
    ref = noise.resize((20, 10), Image.Resampling.LANCZOS).crop((5, 0, 15, 10))
    assert np.array_equal(load_dataset(f"folder:{tmp_path}", resolution=10).x[0, 0].numpy(), np.asarray(ref))


def test_tall_image_keeps_its_centre(tmp_path):
    img = Image.new("RGB", (20, 40), (0, 0, 255))
    img.paste((255, 0, 0), (0, 10, 20, 30))
    img.save(tmp_path / "tall.png")
    x = load_dataset(f"folder:{tmp_path}", resolution=20).x[0]
    assert x[0, 1:-1].min().item() >= 250 and x[2, 1:-1].max().item() <= 5


def test_mixed_sizes_need_a_resolution(tmp_path, one_line):
    _img(tmp_path / "a.png", size=(8, 8))
    _img(tmp_path / "b.png", size=(16, 12))
    with pytest.raises(DataError, match="data.resolution=64") as e:
        load_dataset(f"folder:{tmp_path}")
    assert "16x12" in one_line(e)
    assert load_dataset(f"folder:{tmp_path}", resolution=4).x.shape == (2, 3, 4, 4)


def test_transparent_pixels_become_white(tmp_path):
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "t.png")
    assert load_dataset(f"folder:{tmp_path}").x.min().item() == 255


def _with_corrupt(root, n_bad=1):
    _img(root / "good1.png")
    _img(root / "good2.jpg")
    for i in range(n_bad):
        (root / f"bad{i:02d}.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root


def test_corrupt_file_is_named(tmp_path, one_line):
    _with_corrupt(tmp_path)
    with pytest.raises(DataError) as e:
        load_dataset(f"folder:{tmp_path}")
    msg = one_line(e)
    assert "1 of 3 files could not be read: bad00.png" in msg and "data.skip_unreadable=true" in msg


def test_many_corrupt_files_are_summarised(tmp_path, one_line):
    _with_corrupt(tmp_path, n_bad=12)
    with pytest.raises(DataError) as e:
        load_dataset(f"folder:{tmp_path}")
    msg = one_line(e)
    assert "12 of 14" in msg and "bad09.png" in msg and "bad10.png" not in msg and "+2 more" in msg


def test_skip_unreadable_warns_in_one_line_and_keeps_the_rest(tmp_path, capsys):
    _with_corrupt(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a Python warning prints its source line: never for a user
        ds = load_dataset(f"folder:{tmp_path}", skip_unreadable=True)
    assert len(ds) == 2 and ds.meta["skipped"] == ["bad00.png"]
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: warning: 1 of 3 files could not be read: bad00.png") and "\n" not in err, err


@pytest.mark.parametrize("case", ["empty", "only_text", "missing", "file"])
def test_unusable_paths(tmp_path, case, one_line):
    target = tmp_path / "d"
    if case in ("empty", "only_text"):
        target.mkdir()
    if case == "only_text":
        (target / "a.txt").write_text("x")
    if case == "file":
        target.write_text("x")
    with pytest.raises(DataError) as e:
        load_dataset(f"folder:{target}")
    one_line(e)


def test_folder_has_only_train_split(tmp_path):
    _img(tmp_path / "a.png")
    assert len(load_dataset(f"folder:{tmp_path}", split="all")) == 1
    with pytest.raises(DataError, match="valid splits: train, all"):
        load_dataset(f"folder:{tmp_path}", split="test")


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    a = np.array([[0, 257 * 100], [65535, 257 * 7]], dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "deep.png")
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.x.shape == (1, 1, 2, 2) and ds.x[0, 0].tolist() == [[0, 100], [255, 7]]


def test_symlinked_class_folders_are_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "cats"
    _img(elsewhere / "c0.png")
    _img(elsewhere / "c1.png")
    root = tmp_path / "data"
    _img(root / "dogs" / "d0.png")
    (root / "cats").symlink_to(elsewhere, target_is_directory=True)
    ds = load_dataset(f"folder:{root}")
    assert ds.num_classes == 2 and ds.meta["classes"] == ["cats", "dogs"] and len(ds.x) == 3
    assert ds.y.tolist() == [0, 0, 1]


def test_symlink_loops_are_walked_once(tmp_path):
    root = tmp_path / "data"
    _img(root / "a" / "x.png")
    _img(root / "b" / "y.png")
    (root / "a" / "up").symlink_to(root, target_is_directory=True)  # a loop to the top
    (root / "a" / "tob").symlink_to(root / "b", target_is_directory=True)
    (root / "b" / "toa").symlink_to(root / "a", target_is_directory=True)  # a <-> b
    ds = load_dataset(f"folder:{root}")
    # a/x, a/tob/y, b/y, b/toa/x: every link into a folder already on the path is left out
    assert ds.meta["num_files"] == 4 and ds.meta["classes"] == ["a", "b"]


def test_folder_reads_every_suffix_the_store_build_reads(tmp_path, one_line):
    """One list of image suffixes: a folder of only .webp/.bmp/.gif/.tif is not "empty" (it used to be, while
    the same files beside one .png were used), and the message for an empty one names the whole list."""
    for suffix in (".webp", ".bmp", ".gif", ".tif", ".TIFF"):
        _img(tmp_path / "only" / f"a{suffix}", colour=(200, 200, 200))
    ds = load_dataset(f"folder:{tmp_path / 'only'}", data_dir=tmp_path / "cache")
    assert len(ds) == 5
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "a.txt").write_text("x")
    with pytest.raises(DataError) as e:
        load_dataset(f"folder:{tmp_path / 'none'}", data_dir=tmp_path / "cache")
    msg = one_line(e)
    assert "no .png/.jpg/.jpeg images found" in msg and all(s in msg for s in (".webp", ".bmp", ".gif", ".tiff"))


def test_mixed_sizes_name_two_that_differ_in_read_folder(tmp_path, one_line):
    """read_folder (pairs:, unpaired:) names the first image of each size, so two that differ."""
    for name, size in (("a", (8, 8)), ("b", (8, 8)), ("c", (12, 12))):
        _img(tmp_path / f"{name}.png", size=size)
    with pytest.raises(DataError) as e:
        read_folder(str(tmp_path), LoadRequest(name="pairs:x"))
    assert "(a.png is 8x8, c.png is 12x12)" in one_line(e)


def test_every_image_reader_turns_a_photo_by_its_exif_orientation(tmp_path):
    """A phone stores a portrait photo as landscape pixels and an EXIF rotation. The dataset builder turned it,
    while translate (decode_image), upscale (read_image, and its size check) and serve read it as stored: the
    same photo came out on its side from some commands. All read it as shown now, through one helper."""
    stored = np.zeros((16, 32, 3), np.uint8)
    stored[:, :16] = 255  # white on the left as stored, on top once turned (orientation 6: 90 degrees clockwise)
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=100)
    data = (tmp_path / "phone.jpg").read_bytes()
    shown = np.asarray(Image.open(tmp_path / "phone.jpg").transpose(Image.Transpose.ROTATE_270)).transpose(2, 0, 1)
    assert shown.shape == (3, 32, 16) and shown[:, :8].min() > 200 and shown[:, 24:].max() < 50
    item = sources.Item("phone.jpg", None, lambda: io.BytesIO(data))
    readers = {"decode_image": decode_image(data, None, None)[0],
               "read_image": read_image(tmp_path / "phone.jpg", 3)[0],
               "serve": decode_upload(data, 3, 10_000),
               "sources": sources.decode(item, 10_000, 3, 16, "none")}
    for name, x in readers.items():
        if name == "sources":  # resized to a square: only which way up it is can be compared
            assert x[:, :4].min() > 200 and x[:, 12:].max() < 50, name
        else:
            assert np.abs(x.astype(int) - shown).max() <= 2, name  # JPEG
    assert decode_image(data, None, None)[1] == (16, 32) and image_size(tmp_path / "phone.jpg") == (16, 32)
    assert sources.read_header(item, 10_000).size == (16, 32)
