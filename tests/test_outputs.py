"""The one rule for output files: refuse existing, check first, write atomically, one-line errors."""

import errno

import numpy as np
import pytest

from ganforge import outputs
from ganforge.errors import GanforgeError


def test_existing_file_refused_unless_force(tmp_path):
    f = tmp_path / "s.npy"
    f.write_bytes(b"precious")
    with pytest.raises(GanforgeError, match="already exists; pass --force"):
        outputs.check_file(f, flag="--out", suffixes=(".npy",))
    assert outputs.check_file(f, flag="--out", force=True, suffixes=(".npy",)) == f
    assert f.read_bytes() == b"precious"  # checking writes nothing


def test_paths_checked_before_writing(tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    with pytest.raises(GanforgeError, match=r"must name a \.png file, got 'g\.gif'"):
        outputs.check_file("g.gif", flag="--grid", suffixes=(".png",))
    with pytest.raises(GanforgeError, match="is a directory"):
        outputs.check_file(tmp_path / "adir", flag="--json")
    with pytest.raises(GanforgeError, match="is a file, so .* cannot be a folder"):
        outputs.check_file(tmp_path / "afile" / "x.json", flag="--json")
    assert not (tmp_path / "new").exists()
    outputs.check_file(tmp_path / "new" / "deeper" / "x.json", flag="--json")
    assert not (tmp_path / "new").exists()


def test_read_only_directory(tmp_path, read_only):
    ro = read_only(tmp_path / "ro")
    with pytest.raises(GanforgeError, match="cannot write in .*ro"):
        outputs.check_file(ro / "x.npy", flag="--out")
    with pytest.raises(GanforgeError, match="cannot write in .*ro"):
        outputs.check_file(ro / "new" / "x.npy", flag="--out")


def test_write_errors_are_one_line_and_leave_nothing(tmp_path):
    target = tmp_path / "x.json"
    with pytest.raises(GanforgeError, match="could not write .*x.json: no space left") as e:
        with outputs.atomic(target, flag="--json") as (temp,):
            temp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_interrupt_leaves_old_file_and_no_partial(tmp_path):
    target = tmp_path / "x.npy"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with outputs.atomic(target, flag="--out") as (temp,):
            temp.write_bytes(b"new but unfinished")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.npy"]


def test_all_targets_appear_together(tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "sub" / "b.png"
    with outputs.atomic(a, b) as (ta, tb):
        assert ta.suffix == ".npy" and tb.suffix == ".png" and ta.parent == tmp_path
        ta.write_bytes(b"a")
        tb.write_bytes(b"b")
        assert not a.exists() and not b.exists()
    assert a.read_bytes() == b"a" and b.read_bytes() == b"b"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.npy", "b.png", "sub"]


def test_one_target_twice_is_refused_before_anything_is_written(tmp_path):
    """Both would share one temporary name, and with --force the first put in place was left behind while
    the block said nothing was written (upscale of a.png and a.jpg, both to a.png)."""
    with pytest.raises(GanforgeError, match="the same file twice"):
        with outputs.atomic(tmp_path / "a.png", tmp_path / "x" / ".." / "a.png", force=True):
            pass
    assert list(tmp_path.iterdir()) == []


def test_disk_space_checked_first(tmp_path):
    with pytest.raises(GanforgeError, match=r"needs 1\.0 TB but only .* is free on .*fewer samples"):
        outputs.check_space(tmp_path / "x.npy", 2**40, flag="--out", free=2**30)
    outputs.check_space(tmp_path / "x.npy", 1000, flag="--out")


def test_stream_npy_writes_chunks_and_labels(tmp_path):
    chunks = [(np.full((3, 1, 2, 2), i, np.uint8), np.full(3, i)) for i in range(4)]
    seen = []
    n = outputs.stream_npy(tmp_path / "s.npy", 12, (1, 2, 2), np.uint8, iter(chunks),
                           labels_path=tmp_path / "s.labels.npy", on_chunk=seen.append)
    assert n == 12 and seen == [3, 3, 3, 3]
    x, y = np.load(tmp_path / "s.npy"), np.load(tmp_path / "s.labels.npy")
    assert x.shape == (12, 1, 2, 2) and x[:, 0, 0, 0].tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    assert y.tolist() == x[:, 0, 0, 0].tolist()


def test_stream_npy_interrupted_leaves_nothing(tmp_path):
    def chunks():
        yield np.zeros((2, 2), np.float32), None
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        outputs.stream_npy(tmp_path / "s.npy", 10, (2,), np.float32, chunks())
    assert list(tmp_path.iterdir()) == []
    assert outputs.npy_bytes(10, (2,), np.float32) == 10 * 2 * 4 + 128
