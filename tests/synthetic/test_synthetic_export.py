"""The streaming writers: an .npz written a chunk at a time reads back exactly, in bounded memory."""

import tracemalloc

import numpy as np

from ganforge.synthetic import export as ex


def _chunks(n, chunk, shape):
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        x = np.broadcast_to((np.arange(start, start + m) % 251).astype(np.uint8)[:, None, None, None], (m, *shape))
        yield np.ascontiguousarray(x), np.arange(start, start + m) % 10


def test_npz_stream_reads_back_exactly(tmp_path):
    path = tmp_path / "s.npz"
    labels = ex.write_npz(path, 2500, (1, 5, 3), np.uint8, _chunks(2500, 1000, (1, 5, 3)), labels=True)
    with np.load(path) as f:
        assert f["x"].shape == (2500, 1, 5, 3) and f["x"].dtype == np.uint8
        assert np.array_equal(f["x"][:, 0, 2, 1], np.arange(2500) % 251)
        assert np.array_equal(f["y"], np.arange(2500) % 10) and np.array_equal(labels, f["y"])


def test_npz_stream_memory_is_one_chunk_not_the_whole_array(tmp_path):
    n, chunk, shape = 60_000, 1000, (1, 28, 28)  # 47 MB of images
    tracemalloc.start()
    try:
        ex.write_npz(tmp_path / "big.npz", n, shape, np.uint8, _chunks(n, chunk, shape), labels=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    total = n * int(np.prod(shape))
    assert peak < 4 * chunk * int(np.prod(shape)) + 8 * n + 2**20, peak  # a few chunks + the labels
    assert peak < total / 5
    assert (tmp_path / "big.npz").stat().st_size > total


def test_folder_layout_by_class(tmp_path):
    labels = ex.write_folder(tmp_path / "d", 30, _chunks(30, 7, (1, 4, 4)))
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [str(c) for c in range(10)]
    assert len(list((tmp_path / "d").rglob("*.png"))) == 30 and list(labels) == [i % 10 for i in range(30)]


def test_an_audit_of_another_run_is_named_as_such(tmp_path):
    """export --audit with a table run's audit said the file was no audit at all; it is one, of another run."""
    import json

    import pytest

    from ganforge.errors import GanforgeError

    table = tmp_path / "audit.json"
    table.write_text(json.dumps({"run": {"path": "runs/tab", "id": "abc123", "checkpoint_sha256": "f" * 64},
                                 "exact_copy_rate": 0.1, "membership": {"auroc": 0.5}}))
    with pytest.raises(GanforgeError, match=r"is an audit of another run \(runs/tab, id abc123\)") as info:
        ex.read_audit(str(table), "runs/cd")
    assert "\n" not in str(info.value) and "ganforge audit runs/cd --out audit.json" in str(info.value)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    with pytest.raises(GanforgeError, match="is not an audit written by `ganforge audit --out`"):
        ex.read_audit(str(other), "runs/cd")
    image = tmp_path / "image.json"
    image.write_text(json.dumps({"dcr": {}, "run": {"path": "runs/cd", "id": "x"}}))
    assert ex.read_audit(str(image), "runs/cd")["dcr"] == {}
    assert ex.read_audit(None) is None
