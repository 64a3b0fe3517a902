"""ganforge dataset's store: conversions, the report's reasons, the folder cache key, streamed batches."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import load_dataset
from ganforge.data.base import LoadRequest
from ganforge.data.store import open_store
from ganforge.data.store_build import BuildOptions, build_store
from ganforge.data.store_loaders import cache_key, folder_options
from ganforge.data.folder import EXTENSIONS, find_images
from ganforge.errors import DataError
from ganforge.training.batches import real_batches

CPU = torch.device("cpu")


def _noise(path, size=(16, 16), seed=0, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    a = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(a).convert(mode).save(path)
    return a


def test_every_skip_reason_is_reported_by_name(tmp_path):
    src = tmp_path / "src"
    for i in range(3):
        _noise(src / f"ok{i}.png", seed=i)
    _noise(src / "copy.png", seed=1)  # the same bytes as ok1.png
    (src / "notes.txt").write_text("not an image")
    good = io.BytesIO()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(good, format="JPEG")
    (src / "cut.jpg").write_bytes(good.getvalue()[:200])  # truncated: identified, then fails to decode
    _noise(src / "tiny.png", size=(4, 4), seed=5)
    Image.fromarray(np.ones((16, 16), np.float32)).save(src / "float.tif")  # mode F: no 8-bit meaning
    _noise(src / "huge.png", size=(40, 40), seed=6)
    (src / "mem.png").symlink_to("/proc/self/mem")  # opens, then the read is an I/O error
    (src / "link.png").symlink_to(src / "gone.png")
    report = build_store(src, tmp_path / "out", BuildOptions(resolution=8, crop="center", max_pixels=1000))
    assert report.skipped == {"not an image": ["notes.txt"], "corrupt": ["cut.jpg"], "too small": ["tiny.png"],
                              "wrong mode": ["float.tif"], "decompression bomb": ["huge.png"],
                              "unreadable": ["mem.png"], "broken link": ["link.png"]}
    assert report.duplicates == [("ok1.png", "copy.png")]  # sorted order: copy.png is read first, and kept
    assert report.written == 3 and report.sizes["4x4"] == 1 and report.sizes["16x16"] >= 4
    text = "\n".join(report.lines())
    for name in ("notes.txt", "cut.jpg", "tiny.png", "float.tif", "huge.png", "mem.png", "link.png"):
        assert name in text
    meta = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert meta["shape"] == [3, 3, 8, 8] and meta["counts"]["skipped"]["corrupt"] == 1


def test_modes_and_exif_rotation_are_converted(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(np.full((8, 8), 65535 // 2, np.uint16)).save(src / "a16.png")  # 16-bit grey
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))  # fully transparent red: white once composited
    rgba.save(src / "b_rgba.png")
    pal = Image.new("RGB", (8, 8), (0, 0, 255)).convert("P", palette=Image.Palette.ADAPTIVE)
    pal.save(src / "c_pal.png")
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(src / "d_cmyk.jpg", quality=100)  # red in CMYK
    tall = Image.new("RGB", (8, 16), (0, 0, 0))
    tall.paste((255, 255, 255), (0, 0, 8, 8))  # white top half as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise when shown: the white half ends on the right
    tall.save(src / "e_exif.jpg", exif=exif, quality=100)
    build_store(src, tmp_path / "out", BuildOptions(resolution=8, crop="center", channels=3))
    x = open_store(tmp_path / "out", "s").x.numpy().astype(int)
    assert abs(x[0, :, 4, 4] - 128).max() <= 1  # 16-bit mid grey scaled, not clipped to 255
    assert x[1, :, 4, 4].tolist() == [255, 255, 255]
    assert x[2, 2, 4, 4] > 240 and x[2, :2, 4, 4].max() < 15
    assert x[3, 0, 4, 4] > 230 and x[3, 1:, 4, 4].max() < 40
    assert x[4, :, 4, 6].min() > 200 and x[4, :, 4, 1].max() < 50  # rotated by EXIF before the crop


def test_wide_crop_letterboxes(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(2):
        Image.new("L", (32, 16), 200).save(src / f"{i}.png")
    build_store(src, tmp_path / "out", BuildOptions(resolution=16, crop="wide", dedupe=False))
    x = open_store(tmp_path / "out", "s").x[0, 0]
    assert x[:4].max() == 0 and x[12:].max() == 0 and x[5:11].min() > 190


def test_cache_key_follows_every_file_and_option(tmp_path):
    src = tmp_path / "src"
    _noise(src / "a.png")
    _noise(src / "b.png", seed=1)

    def key(**req):
        files = find_images(src, EXTENSIONS)
        return cache_key(files, src, folder_options(LoadRequest(name="folder:x", **req)))

    base = key(resolution=8)
    assert key(resolution=8) == base
    assert len({base, key(resolution=4), key(resolution=8, channels=1), key()}) == 4
    _noise(src / "b.png", seed=2)  # same size, new content and mtime
    import os
    os.utime(src / "b.png", ns=(1, 1))
    changed = key(resolution=8)
    assert changed != base
    _noise(src / "c.png", seed=3)
    assert key(resolution=8) != changed


def test_folder_reuses_its_store_until_a_file_changes(tmp_path, monkeypatch):
    import ganforge.data.store_loaders as loaders
    builds = []
    real = loaders.build_store
    monkeypatch.setattr(loaders, "build_store", lambda *a, **k: builds.append(1) or real(*a, **k))
    src = tmp_path / "src"
    _noise(src / "a.png")
    _noise(src / "b.png", seed=1)
    first = load_dataset(f"folder:{src}", resolution=8)
    again = load_dataset(f"folder:{src}", resolution=8)
    assert len(builds) == 1 and torch.equal(first.x, again.x)
    _noise(src / "c.png", seed=2)
    assert len(load_dataset(f"folder:{src}", resolution=8)) == 3 and len(builds) == 2


def _indexed_store(tmp_path, n=24):
    """Image i is filled with i and labelled i: a batch says which rows it read."""
    x = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None, None], 4 * 4, 1).reshape(n, 1, 4, 4)
    np.savez(tmp_path / "idx.npz", x=x, y=np.arange(n))
    build_store(tmp_path / "idx.npz", tmp_path / "store", BuildOptions(dedupe=False))
    return load_dataset(f"store:{tmp_path / 'store'}")


def test_streamed_batches_equal_in_memory_ones_and_resume_bitwise(tmp_path):
    ds = _indexed_store(tmp_path)
    streamed = real_batches(ds.x, ds.y, 5, seed=3, device=CPU, output_range=(-1, 1), workers=1)
    memory = real_batches(ds.x.clone(), ds.y, 5, seed=3, device=CPU, output_range=(-1, 1))
    assert type(streamed).__name__ == "StreamedBatches" and type(memory).__name__ == "RealBatches"
    for _ in range(6):  # over an epoch boundary (4 batches per epoch)
        (xs, ys), (xm, ym) = streamed.next(), memory.next()
        assert torch.equal(xs, xm) and torch.equal(ys, ym)
    resumed = real_batches(ds.x, ds.y, 5, seed=99, device=CPU, output_range=(-1, 1), workers=0)
    resumed.load_state_dict(streamed.state_dict())
    for _ in range(5):
        assert torch.equal(resumed.next()[1], streamed.next()[1])


def test_two_ranks_read_disjoint_shares_of_each_global_batch(tmp_path):
    ds = _indexed_store(tmp_path)
    one = real_batches(ds.x, ds.y, 6, seed=1, device=CPU, output_range=None, workers=0)
    ranks = [real_batches(ds.x, ds.y, 6, seed=1, device=CPU, output_range=None, rank=r, world_size=2, workers=0)
             for r in range(2)]
    for _ in range(5):
        a, b = (set(r.next()[1].tolist()) for r in ranks)
        assert len(a) == len(b) == 3 and not a & b and a | b == set(one.next()[1].tolist())


def test_a_store_refuses_another_resolution_naming_a_build_from_its_source(tmp_path):
    _indexed_store(tmp_path)
    from ganforge.errors import DataError
    with pytest.raises(DataError) as e:
        load_dataset(f"store:{tmp_path / 'store'}", resolution=8)
    assert "data.resolution=8 but the store" in str(e.value) and "has resolution 4" in str(e.value)
    assert f"ganforge dataset {tmp_path / 'idx.npz'} --out store-resolution8 --resolution 8" in str(e.value)


def test_a_store_keeps_its_mean_image(tmp_path):
    ds = _indexed_store(tmp_path)
    assert torch.allclose(ds.mean_image(), ds.x.float().mean(0) / 255.0, atol=1e-6)


def test_rows_are_read_into_the_batch_not_mapped_and_a_short_file_is_named(tmp_path):
    ds = _indexed_store(tmp_path)
    files = ds.x._ganforge_store
    x, y = files.rows(np.array([5, 2, 9]))
    assert x[:, 0, 0, 0].tolist() == [5, 2, 9] and y.tolist() == [5, 2, 9]
    assert not isinstance(x, np.memmap) and x.base is None  # its own buffer: nothing of the file stays mapped
    images = tmp_path / "store" / "images.u8"
    images.write_bytes(images.read_bytes()[:-16])  # the last row cut short
    from ganforge.errors import DataError
    with pytest.raises(DataError, match="ended before row 23"):
        files.rows(np.array([23]))


# -- a store: or folder: pointed at the wrong kind of thing is told which prefix it is for -------------------

def test_a_wrong_prefix_gets_the_prefix_that_fits(tmp_path, one_line):
    src = tmp_path / "photos"
    _noise(src / "a.png")
    _noise(src / "b.png", seed=1)
    with pytest.raises(DataError) as e:
        load_dataset(f"store:{src}")
    assert f"is a folder of images, not a ganforge store (no dataset.json); train on it with " \
           f"--set data.name=folder:{src}" in one_line(e)
    build_store(src, tmp_path / "st", BuildOptions())
    with pytest.raises(DataError) as e:
        load_dataset(f"folder:{tmp_path / 'st'}", data_dir=tmp_path / "cache")
    assert f"is a ganforge store, not a folder of images; train on it with --set data.name=store:{tmp_path / 'st'}" \
        in one_line(e)
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DataError) as e:
        load_dataset(f"store:{tmp_path / 'x.npz'}")
    assert f"train on it with --set data.name=npz:{tmp_path / 'x.npz'}" in one_line(e)
    (tmp_path / "st.partial-99999").mkdir()
    with pytest.raises(DataError) as e:
        load_dataset(f"store:{tmp_path / 'st.partial-99999'}")
    msg = one_line(e)
    assert "interrupted build" in msg and msg.endswith(f"ganforge dataset SRC --out {tmp_path / 'st'}")


# -- a store missing one of its files is damaged, and says how to rebuild it ------------------------------

@pytest.mark.parametrize("missing", ["labels.i64", "mean.npy"])
def test_a_store_missing_a_file_is_named_damaged(tmp_path, missing, one_line):
    _indexed_store(tmp_path)
    (tmp_path / "store" / missing).unlink()
    with pytest.raises(DataError) as e:
        load_dataset(f"store:{tmp_path / 'store'}")
    assert f"has no {missing}; the store is damaged, rebuild it with ganforge dataset {tmp_path / 'idx.npz'} " \
           f"--out {tmp_path / 'store'} --force" in one_line(e)


def test_a_damaged_folder_cache_is_to_be_deleted_not_rebuilt_by_hand(tmp_path, one_line):
    _noise(tmp_path / "src" / "a.png")
    load_dataset(f"folder:{tmp_path / 'src'}", data_dir=tmp_path / "cache")
    (cached,) = (tmp_path / "cache" / "stores").iterdir()
    (cached / "mean.npy").unlink()
    with pytest.raises(DataError) as e:
        load_dataset(f"folder:{tmp_path / 'src'}", data_dir=tmp_path / "cache")
    assert f"the store is damaged, delete {cached} (folder:'s cache) and the next run builds it again" in one_line(e)


@pytest.mark.parametrize("edit", [lambda m: m.pop("shape"), lambda m: m.update(shape=[24, 1, 8]),
                                  lambda m: m.update(shape=[24, 1, "8", 8]), lambda m: m.pop("labels")])
def test_a_manifest_without_a_shape_or_labels_flag_is_named_damaged(tmp_path, edit, one_line):
    _indexed_store(tmp_path)
    manifest = tmp_path / "store" / "dataset.json"
    meta = json.loads(manifest.read_text())
    edit(meta)
    manifest.write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"gives no image shape \(N, C, H, W\) or labels flag; the store is "
                                        r"damaged") as e:
        load_dataset(f"store:{tmp_path / 'store'}")
    one_line(e)


def test_a_cut_off_labels_file_is_named_damaged(tmp_path, one_line):
    _indexed_store(tmp_path)
    labels = tmp_path / "store" / "labels.i64"
    labels.write_bytes(labels.read_bytes()[:-8])
    with pytest.raises(DataError, match="labels.i64 has 184 bytes, expected 192; the store is damaged") as e:
        load_dataset(f"store:{tmp_path / 'store'}")
    one_line(e)


def test_a_store_and_a_folder_dataset_are_named_as_given(tmp_path):
    """open_store reused its ``name`` argument as a loop variable: every store was named mean.npy or labels.i64,
    the name every message about the data (resume's "data changed", translation's) then showed."""
    for i in range(3):
        _noise(tmp_path / "src" / "a" / f"{i}.png", seed=i)  # in a class folder: labelled, labels.i64 checked last
    build_store(tmp_path / "src", tmp_path / "st", BuildOptions())
    assert load_dataset(f"store:{tmp_path / 'st'}").name == f"store:{tmp_path / 'st'}"
    assert open_store(tmp_path / "st", "mine").name == "mine"
    folder = load_dataset(f"folder:{tmp_path / 'src'}", data_dir=tmp_path / "cache")
    assert folder.name == f"folder:{tmp_path / 'src'}"
