"""What a build takes from a source: labels from the usable images only, no phantom class, every bad file named
in the report (unreadable, broken links), the wide crop's aspect, zips (opened once, a common top folder),
duplicate labels refused. Each test is one finding of a probe of ``ganforge dataset`` (its item number)."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.data import load_dataset, sources
from ganforge.data.base import LoadRequest
from ganforge.data.folder import read_folder
from ganforge.data.store import open_store, read_manifest
from ganforge.data.store_build import BuildOptions, build_store
from ganforge.errors import DataError


def _noise(path, size=(16, 16), seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def _classes(tmp_path, root="s"):
    """Class folders a and b, three distinct images each."""
    src = tmp_path / root
    for k, c in enumerate("ab"):
        for i in range(3):
            _noise(src / c / f"{i}.png", seed=10 * k + i)
    return src


def _truncated(path):
    _noise(path, seed=99)
    path.write_bytes(path.read_bytes()[:200])  # the header reads, the pixels do not: skipped in the decode pass


# -- 1: files that are no images decide no labels ----------------------------------------------------------

def test_a_readme_beside_the_class_folders_leaves_the_classes(tmp_path):
    src = _classes(tmp_path)
    (src / "README.txt").write_text("my photos")
    report = build_store(src, tmp_path / "auto", BuildOptions())
    assert report.classes == {"a": 3, "b": 3} and report.skipped["not an image"] == ["README.txt"]
    report = build_store(src, tmp_path / "sub", BuildOptions(labels="subfolders"))
    assert report.classes == {"a": 3, "b": 3}


def test_a_stylegan2_ada_labels_file_inside_the_source_needs_no_label_of_its_own(tmp_path):
    src = _classes(tmp_path)
    (src / "dataset.json").write_text(json.dumps({"labels": [[f"{c}/{i}.png", k] for k, c in enumerate("ab")
                                                             for i in range(3)]}))
    report = build_store(src, tmp_path / "st", BuildOptions(labels=str(src / "dataset.json")))
    assert report.classes == {"0": 3, "1": 3} and report.written == 6
    assert not any(report.skipped.values())  # the labels file is no file of the source


# -- 2: no class without an image ----------------------------------------------------------------------------

def test_a_store_inside_its_source_is_no_class_and_no_file_of_it(tmp_path):
    src = _classes(tmp_path)
    build_store(src, src / "store", BuildOptions())
    report = build_store(src, src / "store", BuildOptions(), force=True)
    assert report.classes == {"a": 3, "b": 3} and not any(report.skipped.values())
    assert read_manifest(src / "store")["classes"] == ["a", "b"]


def test_a_class_whose_every_image_is_skipped_is_no_class(tmp_path):
    clean = _classes(tmp_path, "clean")
    build_store(clean, tmp_path / "want", BuildOptions())
    src = _classes(tmp_path)
    _truncated(src / "c" / "cut.png")  # the whole of class c fails to decode
    build_store(src, tmp_path / "st", BuildOptions())
    meta, want = read_manifest(tmp_path / "st"), read_manifest(tmp_path / "want")
    assert meta["classes"] == ["a", "b"] and meta["skipped_files"]["corrupt"] == ["c/cut.png"]
    assert open_store(tmp_path / "st", "s").y.tolist() == [0, 0, 0, 1, 1, 1]
    assert meta["content_sha256"] == want["content_sha256"]  # hashed as a build of the images kept


def test_folder_data_with_a_class_of_unreadable_files_only_has_the_other_classes(tmp_path):
    src = _classes(tmp_path)
    _truncated(src / "c" / "cut.png")
    ds = load_dataset(f"folder:{src}", skip_unreadable=True, data_dir=tmp_path / "cache")
    assert ds.num_classes == 2 and ds.meta["classes"] == ["a", "b"]
    req = LoadRequest(name=f"pairs:{src}", path=str(src), split="train", skip_unreadable=True)
    found = read_folder(str(src), req)
    assert found.classes == ["a", "b"] and found.y.tolist() == [0, 0, 0, 1, 1, 1]


# -- 3 and 9: an unreadable file, a file gone between the passes, broken links: named, never a traceback ---

def test_unreadable_files_and_broken_links_are_named_in_the_report(tmp_path):
    src = _classes(tmp_path)
    os.symlink("/proc/self/mem", src / "a" / "mem.png")  # opens, then every read is an I/O error
    os.symlink(src / "nothing.png", src / "a" / "gone.png")
    os.symlink("loop.png", src / "loop.png")
    report = build_store(src, tmp_path / "st", BuildOptions())
    assert report.skipped["unreadable"] == ["a/mem.png"]
    assert report.skipped["broken link"] == ["a/gone.png", "loop.png"]
    assert report.classes == {"a": 3, "b": 3}
    text = "\n".join(report.lines())
    assert "skipped, unreadable: 1\n  a/mem.png" in text and "skipped, broken link: 2" in text


def test_a_file_deleted_between_the_passes_is_unreadable(tmp_path, monkeypatch):
    src = _classes(tmp_path)
    header = sources.read_header

    def then_delete(item, max_pixels):
        h = header(item, max_pixels)
        if item.name == "b/2.png":
            (src / "b" / "2.png").unlink()
        return h

    monkeypatch.setattr(sources, "read_header", then_delete)
    report = build_store(src, tmp_path / "st", BuildOptions())
    assert report.skipped["unreadable"] == ["b/2.png"] and report.written == 5


# -- 4: a name that is not UTF-8, printed where the output is strict UTF-8 -------------------------------

def test_the_report_prints_a_name_that_is_not_utf8(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = _classes(tmp_path)
    with open(os.fsencode(src) + b"/b/dup\xfe.png", "wb") as f:
        f.write((src / "a" / "0.png").read_bytes())
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # errors="strict", as PYTHONIOENCODING=utf-8 makes
    monkeypatch.setattr("sys.stdout", out)
    assert main(["dataset", "s", "--out", "st"]) == 0
    out.flush()
    printed = out.buffer.getvalue().decode("utf-8")
    assert "  b/dup\\xfe.png (same bytes as a/0.png)" in printed and "store: st" in printed


# -- 5: the wide crop keeps the aspect ------------------------------------------------------------------------

def test_the_wide_crop_crops_an_image_wider_than_2_to_1_and_skips_a_low_one(tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    Image.new("L", (4000, 3), 200).save(src / "a_band.png")  # 3 rows would be stretched to 8
    wide = np.zeros((8, 40), np.uint8)
    wide[:, 10:30] = 100  # the centre 16x8 (2:1) of a 40x8 image is all 100
    Image.fromarray(wide).save(src / "b_wide.png")
    Image.new("L", (16, 16), 50).save(src / "c_square.png")
    report = build_store(src, tmp_path / "st", BuildOptions(resolution=16, crop="wide"))
    assert report.skipped["too small"] == ["a_band.png"] and report.written == 2
    x = open_store(tmp_path / "st", "s").x[:, 0].numpy().astype(int)
    assert x[0, :4].max() == 0 and x[0, 12:].max() == 0  # letterboxed: rows 4..11 hold the band
    assert np.abs(x[0, 5:11, 2:14] - 100).max() <= 2  # the centre of the image, not the black sides squeezed in
    assert np.abs(x[1, 5:11] - 50).max() <= 1


def test_the_wide_crop_skips_a_low_image_without_a_resolution_too(tmp_path):
    src = tmp_path / "s"
    src.mkdir()
    for i in range(2):
        _noise(src / f"{i}.png", size=(16, 16), seed=i)
    _noise(src / "low.png", size=(16, 4), seed=5)  # the one width, but 4 rows for a band of 8
    report = build_store(src, tmp_path / "st", BuildOptions(crop="wide"))
    assert report.skipped["too small"] == ["low.png"] and report.written == 2


# -- 6 and 8: a zip is opened once per process, and its one top folder is not a class ----------------------

def _zip(tmp_path, top="photos"):
    src = _classes(tmp_path, f"z/{top}")
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in sorted(src.rglob("*.png")):
            z.write(f, f.relative_to(tmp_path / "z").as_posix())
        z.writestr("README.txt", "not in the top folder")
    return path


def test_a_zip_is_opened_once_for_all_its_members(tmp_path, monkeypatch):
    path = _zip(tmp_path)
    opened = []
    real = zipfile.ZipFile

    class Counting(real):
        def __init__(self, *args, **kwargs):
            opened.append(args[0] if args else kwargs.get("file"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(zipfile, "ZipFile", Counting)
    report = build_store(path, tmp_path / "st", BuildOptions())
    assert report.written == 6 and len(opened) <= 3, opened  # is_zipfile aside: the listing and one for reads


def test_the_one_top_folder_of_a_zip_is_left_out_of_the_classes(tmp_path):
    report = build_store(_zip(tmp_path), tmp_path / "st", BuildOptions())
    assert report.classes == {"a": 3, "b": 3} and report.skipped["not an image"] == ["README.txt"]
    assert read_manifest(tmp_path / "st")["skipped_files"]["not an image"] == ["README.txt"]


# -- 7: a path given twice in a labels file ----------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    (json.dumps({"labels": [["a/0.png", 0], ["a/1.png", 0], ["a/0.png", 1]]}),
     re.escape('"a/0.png" is in "labels" twice (entries 0 and 2); keep one entry for it')),
    ('{"a/0.png": "cat", "a/1.png": "cat", "a/0.png": "dog"}', 'gives "a/0.png" twice; keep one entry for it'),
])
def test_a_labels_file_giving_a_path_twice_is_refused(tmp_path, text, message, one_line):
    src = _classes(tmp_path)
    (tmp_path / "labels.json").write_text(text)
    with pytest.raises(DataError, match=message) as e:
        build_store(src, tmp_path / "st", BuildOptions(labels=str(tmp_path / "labels.json")))
    one_line(e)
    assert not (tmp_path / "st").exists()


# -- 10: a mode mistyped ------------------------------------------------------------------------------------

def test_a_mistyped_labels_mode_names_the_modes(tmp_path, one_line):
    src = _classes(tmp_path)
    with pytest.raises(DataError) as e:
        build_store(src, tmp_path / "st", BuildOptions(labels="subfolder"))
    assert one_line(e) == ("--labels subfolder is neither a labels file (there is no such file) nor one of the "
                           "modes auto, subfolders, none; give one of those or the path of a JSON file of labels")


def test_a_zip_with_two_members_of_one_name_keeps_both(tmp_path, capsys):
    """Members were opened by name, which gives the last of a repeated name each time: one image was lost and
    the report called the pair duplicates. Each is read by its entry; the later one is named a.png#2."""
    path = tmp_path / "dup.zip"
    pngs = []
    for seed in range(3):
        _noise(tmp_path / f"{seed}.png", size=(8, 8), seed=seed)
        pngs.append((tmp_path / f"{seed}.png").read_bytes())
    with zipfile.ZipFile(path, "w") as z, pytest.warns(UserWarning, match="Duplicate name"):
        z.writestr("a.png", pngs[0])
        z.writestr("b.png", pngs[1])
        z.writestr("a.png", pngs[2])
        z.writestr("a.png#2", pngs[1])  # a member really so named: the repeat takes the next free name
    report = build_store(path, tmp_path / "st", BuildOptions())
    assert report.written == 3 and report.duplicates == [("b.png", "a.png#2")], report.lines()
    assert sum(report.sizes.values()) == 4
    x = load_dataset(f"store:{tmp_path / 'st'}").x.numpy()
    expect = [np.asarray(Image.open(io.BytesIO(b))).transpose(2, 0, 1) for b in pngs]
    # a.png, a.png#3 (the second a.png: a member is already named a.png#2), a.png#2; b.png is a.png#2's bytes
    assert [(x[k] == expect[i]).all() for k, i in enumerate((0, 2, 1))] == [True] * 3
    err = capsys.readouterr().err
    assert "holds 1 name(s) given to more than one member, e.g. a.png" in err and "e.g. a.png#3" in err
