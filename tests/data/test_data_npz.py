from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.data import load_dataset
from ganforge.errors import DataError

RNG = np.random.default_rng(0)


def _save(tmp_path, **arrays):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return f"npz:{path}"


def test_nhwc_uint8_becomes_nchw(tmp_path):
    x = RNG.integers(0, 256, size=(5, 6, 7, 3), dtype=np.uint8)
    ds = load_dataset(_save(tmp_path, images=x, labels=np.array([0, 1, 2, 1, 0])))
    assert ds.kind == "image" and ds.x.shape == (5, 3, 6, 7)
    assert np.array_equal(ds.x.numpy(), x.transpose(0, 3, 1, 2))
    assert ds.y.tolist() == [0, 1, 2, 1, 0] and ds.num_classes == 3 and ds.meta["key"] == "images"


def test_nchw_and_nhw_are_kept(tmp_path):
    x = RNG.integers(0, 256, size=(4, 1, 9, 9), dtype=np.uint8)
    assert torch.equal(load_dataset(_save(tmp_path, x=x)).x, torch.from_numpy(x))
    ds = load_dataset(_save(tmp_path, data=x[:, 0]))
    assert ds.x.shape == (4, 1, 9, 9) and ds.y is None


def test_float_images_round_to_uint8(tmp_path):
    x = np.array([0.0, 0.5, 1.0, 0.2, 1 / 255, 0.998], dtype=np.float32).reshape(1, 1, 2, 3)
    ds = load_dataset(_save(tmp_path, x=x))
    assert ds.x.flatten().tolist() == [0, 128, 255, 51, 1, 254]


@pytest.mark.parametrize("bad", [np.full((2, 4, 4), 1.5), np.full((2, 4, 4), np.nan), np.full((2, 4, 4), -0.1)])
def test_float_images_outside_unit_range(tmp_path, bad, one_line):
    with pytest.raises(DataError) as e:
        load_dataset(_save(tmp_path, x=bad))
    one_line(e)


def test_points(tmp_path):
    x = RNG.normal(size=(100, 2))
    ds = load_dataset(_save(tmp_path, x=x, y=np.arange(100) % 4))
    assert ds.kind == "points" and ds.x.dtype == torch.float32 and ds.x.shape == (100, 2)
    assert torch.allclose(ds.x.double(), torch.from_numpy(x), atol=1e-6) and ds.num_classes == 4
    with pytest.raises(DataError, match="data.resolution"):
        load_dataset(_save(tmp_path, x=x), resolution=8)


def test_resize_images(tmp_path):
    ds = load_dataset(_save(tmp_path, x=np.zeros((3, 8, 8, 3), np.uint8)), resolution=4, channels=1)
    assert ds.x.shape == (3, 1, 4, 4)


def test_object_arrays_are_refused(tmp_path, one_line):
    path = tmp_path / "o.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DataError, match="dtype=object") as e:
        load_dataset(f"npz:{path}")
    one_line(e)


def test_missing_keys_lists_found_keys(tmp_path, one_line):
    with pytest.raises(DataError) as e:
        load_dataset(_save(tmp_path, pixels=np.zeros((2, 4, 4), np.uint8), targets=np.zeros(2)))
    msg = one_line(e)
    assert "found: pixels, targets" in msg and "x=" in msg


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"x": np.zeros((2, 784), np.float32)}, "reshape flattened images"),
        ({"x": np.zeros((2, 5, 5, 4), np.uint8)}, "channel axis"),
        ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.zeros(3, np.int64)}, "to match the samples"),
        ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.array([0.5, 1.0])}, "whole numbers"),
        ({"x": np.zeros((0, 4, 4), np.uint8)}, "empty"),
        ({"x": np.full((2, 4, 4), 300, np.int64)}, "outside 0..255"),
    ],
)
def test_invalid_contents(tmp_path, arrays, match, one_line):
    with pytest.raises(DataError, match=match) as e:
        load_dataset(_save(tmp_path, **arrays))
    one_line(e)


def test_missing_or_non_npz_file(tmp_path, one_line):
    with pytest.raises(DataError, match="not a file") as e:
        load_dataset(f"npz:{tmp_path / 'nope.npz'}")
    one_line(e)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"junk.npz is not an .npz file \(not a zip archive\); save the arrays") as e:
        load_dataset(f"npz:{tmp_path / 'junk.npz'}")
    one_line(e)
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(DataError, match="single array"):
        load_dataset(f"npz:{tmp_path / 'single.npy'}")


@pytest.mark.parametrize("damage", ["truncated", "flipped", "empty"])
def test_damaged_npz_is_one_line(tmp_path, one_line, damage):
    path = tmp_path / "d.npz"
    np.savez(path, x=RNG.random((50, 2)).astype(np.float32))
    data = path.read_bytes()
    data = {"truncated": data[: len(data) // 2], "empty": b"",
            "flipped": data[:120] + bytes([data[120] ^ 0xFF]) + data[121:]}[damage]
    path.write_bytes(data)
    with pytest.raises(DataError, match="d.npz (is damaged|is not a readable|is not an .npz)") as e:
        load_dataset(f"npz:{path}")
    one_line(e)
