"""Building a store from the user's own files: nothing of the user's lost, bad inputs refused in one line.

Each test is one finding of a probe of the "your own images" path (the item numbers of its report)."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from ganforge.data import load_dataset
from ganforge.data.store_build import BuildOptions, build_store
from ganforge.errors import DataError, GanforgeError


def _noise(path, size=16, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def _source(tmp_path, n=3):
    src = tmp_path / "src"
    for i in range(n):
        _noise(src / f"{i}.png", seed=i)
    return src


def _store(tmp_path, name="st"):
    build_store(_source(tmp_path), tmp_path / name, BuildOptions())
    return tmp_path / name


# -- 2: --force replaces a store only, never a file of the user's inside it ------------------------------

def test_force_refuses_a_store_that_holds_files_of_the_user(tmp_path, one_line):
    st = _store(tmp_path)
    (st / "NOTES.txt").write_text("my notes")
    (st / "originals").mkdir()
    (st / "originals" / "a.png").write_bytes(b"mine")
    with pytest.raises(DataError) as e:
        build_store(tmp_path / "src", st, BuildOptions(), force=True)
    assert "NOTES.txt" in one_line(e) and "--force will not replace" in str(e.value)
    assert (st / "NOTES.txt").read_text() == "my notes" and (st / "originals" / "a.png").read_bytes() == b"mine"
    (st / "NOTES.txt").unlink()
    with pytest.raises(DataError, match="originals/"):  # a folder is not a store file either
        build_store(tmp_path / "src", st, BuildOptions(), force=True)
    (st / "originals" / "a.png").unlink()
    (st / "originals").rmdir()
    assert build_store(tmp_path / "src", st, BuildOptions(), force=True).written == 3  # a plain store: replaced


# -- 20: a stale DEST.partial-<pid> is deleted only when it holds nothing but what a build writes -------

DEAD_PID = 2**30  # above any pid_max: no such process


def test_stale_partial_folders_of_the_user_are_left_with_a_warning(tmp_path, capsys):
    _source(tmp_path)
    leftover = tmp_path / f"st.partial-{DEAD_PID}"
    leftover.mkdir()
    (leftover / "images.u8").write_bytes(b"\0" * 10)  # what an interrupted build leaves
    mine = tmp_path / f"st.partial-{DEAD_PID + 1}"
    mine.mkdir()
    (mine / "keep.txt").write_text("keep")
    build_store(tmp_path / "src", tmp_path / "st", BuildOptions())
    assert not leftover.exists() and (mine / "keep.txt").read_text() == "keep"
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: warning: left ") and "keep.txt" in err and "\n" not in err, err


# -- 4 and 5: where the store goes is checked before anything is read ----------------------------------

def test_a_bad_out_is_refused_before_the_source_is_read(tmp_path, read_only, one_line):
    (tmp_path / "notes.txt").write_text("notes")
    missing = tmp_path / "no-such-source"  # never read: the --out check comes first
    with pytest.raises(GanforgeError, match="notes.txt is a file, so .*notes.txt/sub cannot be a folder") as e:
        build_store(missing, tmp_path / "notes.txt" / "sub", BuildOptions())
    one_line(e)
    ro = read_only(tmp_path / "ro")
    with pytest.raises(GanforgeError, match="cannot write in .*ro .*choose a writable place for --out"):
        build_store(missing, ro / "st", BuildOptions())
    assert list(ro.iterdir()) == [] and (tmp_path / "notes.txt").read_text() == "notes"


def test_folder_with_a_read_only_data_dir_says_so(tmp_path, read_only, one_line):
    src = _source(tmp_path)
    cache = read_only(tmp_path / "cache")
    with pytest.raises(DataError) as e:
        load_dataset(f"folder:{src}", data_dir=cache)
    assert "pass --data-dir or set GANFORGE_DATA to a writable directory" in one_line(e)
    assert list(cache.iterdir()) == []


# -- 6: a file name that is not UTF-8 ------------------------------------------------------------------

def test_folder_reads_a_file_whose_name_is_not_utf8(tmp_path):
    src = _source(tmp_path)
    img = Image.fromarray(np.zeros((16, 16, 3), np.uint8))
    with open(os.fsencode(src) + b"/na\xefve.png", "wb") as f:
        img.save(f, format="PNG")
    assert len(load_dataset(f"folder:{src}", data_dir=tmp_path / "cache")) == 4


# -- 7: an .npz's labels get npz:'s own check ------------------------------------------------------------

@pytest.mark.parametrize("y, message", [
    (np.array(["cat", "dog"] * 3), "labels 'y' must be whole numbers, got dtype <U3"),
    (-np.ones(6, int), "labels 'y' must be >= 0"),
    (np.linspace(0, 1, 6), "labels 'y' must be whole numbers, got dtype float64"),
])
def test_bad_npz_labels_are_refused_as_npz_refuses_them(tmp_path, y, message, one_line):
    x = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3)).astype(np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    for load in (lambda: build_store(tmp_path / "d.npz", tmp_path / "st", BuildOptions()),
                 lambda: load_dataset(f"npz:{tmp_path / 'd.npz'}")):
        with pytest.raises(DataError, match=message) as e:
            load()
        one_line(e)
    assert not (tmp_path / "st").exists()


def test_whole_float_npz_labels_are_class_indices(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (4, 8, 8)).astype(np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([0.0, 1.0, 1.0, 2.0]))
    report = build_store(tmp_path / "d.npz", tmp_path / "st", BuildOptions())
    assert report.classes == {"0": 1, "1": 2, "2": 1}


# -- 8: a labels JSON takes strings or integers, and a malformed entry is named --------------------------

@pytest.mark.parametrize("table, message", [
    ({"labels": [["0.png", 0, 5], ["1.png", 1], ["2.png", 1]]},
     'entry 0 of "labels" must be [path, label], got ["0.png", 0, 5]'),
    ({"labels": [["0.png", 0], ["1.png"], ["2.png", 1]]}, 'entry 1 of "labels" must be [path, label]'),
    ({"labels": [["0.png", 0], "1.png", ["2.png", 1]]}, 'entry 1 of "labels"'),
    ({"0.png": [1], "1.png": 0, "2.png": 0},
     "the label of 0.png must be a class name (a string) or index (an integer), got [1]"),
    ({"0.png": "a", "1.png": None, "2.png": "b"}, "the label of 1.png must be a class name"),
    ({"0.png": "a", "1.png": "b", "2.png": True}, "got true"),
    ({"0.png": 0, "1.png": 1.5, "2.png": 1}, "got 1.5"),
    ({"0.png": {"k": 1}, "1.png": 1, "2.png": 1}, 'got {"k": 1}'),
    # a labels JSON's integers stay class indices: a negative one, or integers mixed with names, is refused
    ({"0.png": 2, "1.png": 10, "2.png": -1}, "labels.json: the label of 2.png is -1, but a class index must be >= 0"),
    ({"0.png": 0, "1.png": -3.0, "2.png": 1}, "the label of 1.png is -3, but a class index must be >= 0"),
    ({"labels": [["0.png", 0], ["1.png", 1], ["2.png", -2]]}, "the label of 2.png is -2"),
    ({"0.png": "cat", "1.png": -1, "2.png": "dog"}, "the label of 1.png is -1"),
    ({"0.png": 2, "1.png": 10, "2.png": "cat"}, 'mixes class indices and class names (0.png is 2, 2.png is "cat")'),
    ({"0.png": "dog", "1.png": 1.0, "2.png": "cat"}, 'mixes class indices and class names (1.png is 1.0, 0.png is "dog")'),
    ({"0.png": 0, "1.png": "3", "2.png": 1}, 'mixes class indices and class names (0.png is 0, 1.png is "3")'),
    ({"0.png": 0, "1.png": 10**9, "2.png": 1}, "the label of 1.png is 1000000000, above the largest class index"),
])
def test_bad_label_entries_are_named_and_nothing_is_written(tmp_path, table, message, one_line):
    _source(tmp_path)
    (tmp_path / "labels.json").write_text(json.dumps(table))
    with pytest.raises(DataError) as e:
        build_store(tmp_path / "src", tmp_path / "st", BuildOptions(labels=str(tmp_path / "labels.json")))
    assert message in one_line(e)
    assert not (tmp_path / "st").exists()


def test_label_names_integers_and_whole_floats_are_accepted(tmp_path):
    _source(tmp_path)
    (tmp_path / "labels.json").write_text(json.dumps({"labels": [["0.png", 1], ["1.png", 0.0], ["2.png", 1]]}))
    report = build_store(tmp_path / "src", tmp_path / "st", BuildOptions(labels=str(tmp_path / "labels.json")))
    assert report.classes == {"0": 1, "1": 2}
    (tmp_path / "names.json").write_text(json.dumps({"0.png": "cat", "1.png": "dog", "2.png": "cat"}))
    report = build_store(tmp_path / "src", tmp_path / "st2", BuildOptions(labels=str(tmp_path / "names.json")))
    assert report.classes == {"cat": 2, "dog": 1}


def test_integer_labels_are_kept_as_class_indices_and_names_are_sorted(tmp_path):
    _source(tmp_path)
    (tmp_path / "ints.json").write_text(json.dumps({"0.png": 2, "1.png": 10, "2.png": 0}))
    build_store(tmp_path / "src", tmp_path / "st", BuildOptions(labels=str(tmp_path / "ints.json")))
    ds = load_dataset(f"store:{tmp_path / 'st'}")
    assert ds.y.tolist() == [2, 10, 0] and ds.meta["classes"] == [str(c) for c in range(11)]
    (tmp_path / "names.json").write_text(json.dumps({"0.png": "2", "1.png": "10", "2.png": "x"}))
    build_store(tmp_path / "src", tmp_path / "st2", BuildOptions(labels=str(tmp_path / "names.json")))
    ds = load_dataset(f"store:{tmp_path / 'st2'}")  # strings are names, "2" and "10" too: sorted as text
    assert ds.meta["classes"] == ["10", "2", "x"] and ds.y.tolist() == [1, 0, 2]


def test_a_negative_label_is_one_line_exit_2_from_the_cli(tmp_path, capsys):
    from ganforge.cli import main
    src = tmp_path / "photos"
    src.mkdir()
    for i, size in enumerate(((40, 48), (48, 40), (40, 40))):  # not square: the build needs --crop center
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (*size, 3), dtype=np.uint8)).save(src / f"{i}.png")
    (tmp_path / "lab.json").write_text(json.dumps({"0.png": 2, "1.png": 10, "2.png": -1}))
    argv = ["dataset", str(src), "--out", str(tmp_path / "o"), "--resolution", "32", "--crop", "center",
            "--labels", str(tmp_path / "lab.json")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and "the label of 2.png is -1" in err, err
    assert not (tmp_path / "o").exists()


# -- 9: a damaged zip member is a corrupt file; a damaged archive says so --------------------------------

def test_a_zip_member_with_a_bad_crc_is_skipped_as_corrupt(tmp_path):
    src = _source(tmp_path, n=4)
    with zipfile.ZipFile(tmp_path / "a.zip", "w", compression=zipfile.ZIP_STORED) as z:
        for i in range(4):
            z.write(src / f"{i}.png", f"top/{i}.png")
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        info = z.getinfo("top/0.png")
    data = bytearray((tmp_path / "a.zip").read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 100: start + 110] = b"\0" * 10  # inside the first member's bytes: its CRC no longer matches
    (tmp_path / "bad.zip").write_bytes(bytes(data))
    report = build_store(tmp_path / "bad.zip", tmp_path / "st", BuildOptions())
    assert report.skipped["corrupt"] == ["top/0.png"] and report.written == 3
    whole = (tmp_path / "a.zip").read_bytes()
    (tmp_path / "cut.zip").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="cut.zip is a damaged zip archive .*re-create or re-download it"):
        build_store(tmp_path / "cut.zip", tmp_path / "st2", BuildOptions())


# -- 10: the sizes named by "differ in size" really differ -----------------------------------------------

def test_differ_in_size_names_two_images_that_differ(tmp_path, one_line):
    src = tmp_path / "sizes"
    for name, size in (("a", 16), ("b", 16), ("c", 16), ("d", 24)):
        _noise(src / f"{name}.png", size=size, seed=size + ord(name))
    for load in (lambda: build_store(src, tmp_path / "st", BuildOptions(labels="none")),
                 lambda: load_dataset(f"folder:{src}", data_dir=tmp_path / "cache")):
        with pytest.raises(DataError) as e:
            load()
        assert "(a.png is 16x16, d.png is 24x24)" in one_line(e)


# -- 18: 32-bit "I" grey: one mapping for every image ----------------------------------------------------

def test_32_bit_grey_has_one_mapping_whatever_the_image_holds(tmp_path):
    src = tmp_path / "i32"
    src.mkdir()
    for name, value in (("a", 200), ("b", 300), ("c", 257 * 100), ("d", 70000), ("e", -5)):
        Image.fromarray(np.full((8, 8), value, np.int32), "I").save(src / f"{name}.tif")
    Image.fromarray(np.full((8, 8), 257 * 100, np.uint16)).save(src / "f16.png")  # I;16: the same scale
    build_store(src, tmp_path / "st", BuildOptions(dedupe=False))
    x = load_dataset(f"store:{tmp_path / 'st'}").x[:, 0, 0, 0].tolist()
    assert x == [1, 1, 100, 255, 0, 100]  # 200 and 300 both near black (not 200 and 1); outside 0..65535 clipped


def test_too_few_distinct_images_names_the_duplicates_and_writes_nothing(tmp_path, one_line):
    """Twenty copies of one image are one image once deduplicated: the line says so (it used to say 'could
    be decoded ... see the skipped files', a report that is never printed after an error)."""
    np.savez(tmp_path / "same.npz", x=np.zeros((20, 8, 8), np.uint8))
    with pytest.raises(DataError) as e:
        build_store(tmp_path / "same.npz", tmp_path / "st", BuildOptions())
    assert one_line(e).startswith("only 1 distinct image(s) could be written (19 exact duplicate(s) dropped, "
                                  "e.g. x[01] (same bytes as x[00])); a dataset needs at least 2")
    assert not (tmp_path / "st").exists()


# -- a later probe: what makes DEST a store --force may replace, and an empty folder as DEST ----------------

def test_force_never_replaces_a_folder_whose_dataset_json_is_another_tools(tmp_path, one_line):
    """stylegan2-ada's labels file is named dataset.json too: the name alone made the folder a store that
    --force replaced, labels file and all. A damaged store (a dataset.json that cannot be read, beside
    images.u8) is still replaced, as store:'s message for it says."""
    _source(tmp_path)
    mine = tmp_path / "mylabels"
    mine.mkdir()
    labels = '{"labels": [["a/odd.png", 0]]}'
    (mine / "dataset.json").write_text(labels)
    for force in (False, True):
        with pytest.raises(DataError) as e:
            build_store(tmp_path / "src", mine, BuildOptions(), force=force)
        assert "whose dataset.json is another tool's file, not a ganforge store" in one_line(e)
        assert "--force" not in str(e.value)
    assert [p.name for p in mine.iterdir()] == ["dataset.json"] and (mine / "dataset.json").read_text() == labels
    with pytest.raises(DataError) as e:
        load_dataset(f"store:{mine}")
    assert one_line(e).endswith(f"build one in a new folder with ganforge dataset SRC --out {mine}-store")
    damaged = _store(tmp_path)
    (damaged / "dataset.json").write_text("{not json")
    assert build_store(tmp_path / "src", damaged, BuildOptions(), force=True).written == 3


def test_an_empty_folder_is_a_dest_as_store_says(tmp_path, one_line):
    """store: on an empty folder says to build there; ganforge dataset then refused that very folder. A folder
    holding anything, a hidden file included, is still refused (nothing of the user's is replaced)."""
    _source(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as e:
        load_dataset(f"store:{empty}")
    assert one_line(e).endswith(f"(it is empty); build one with ganforge dataset SRC --out {empty}")
    assert build_store(tmp_path / "src", empty, BuildOptions()).written == 3
    assert len(load_dataset(f"store:{empty}")) == 3
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / ".keep").write_text("mine")
    with pytest.raises(DataError, match="already exists and is a folder, not a ganforge store"):
        build_store(tmp_path / "src", hidden, BuildOptions(), force=True)
    assert (hidden / ".keep").read_text() == "mine"
    with pytest.raises(DataError) as e:
        load_dataset(f"store:{hidden}")
    assert one_line(e).endswith(f"build one in a new folder with ganforge dataset SRC --out {hidden}-store")


def test_a_store_that_does_not_exist_says_so_with_the_build_command(tmp_path, one_line):
    with pytest.raises(DataError) as e:
        load_dataset(f"store:{tmp_path / 'nosuch'}")
    assert one_line(e) == (f"{tmp_path / 'nosuch'} does not exist; build a store there with "
                           f"ganforge dataset SRC --out {tmp_path / 'nosuch'}")
