"""CIFAR-10 loaders on tiny stand-in archives: layout, labels, checksums, the cache, the unpickler fence."""

from __future__ import annotations

import io
import os
import pickle
import tarfile

import numpy as np
import pytest
from PIL import Image

from ganforge.data import cifar10, load_dataset
from ganforge.download import sha256_file
from ganforge.errors import DataError


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _jpeg_archive(path, per_class=(3, 1)):
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for split, n in zip(("train", "test"), per_class):
            for c, cls in enumerate(cifar10.CLASSES[:2]):
                for i in range(n):
                    img = np.full((32, 32, 3), 40 + 100 * c, np.uint8) + rng.integers(0, 5, (32, 32, 3), dtype=np.uint8)
                    buf = io.BytesIO()
                    Image.fromarray(img).save(buf, "JPEG", quality=95)
                    _add(tar, f"cifar10-jpeg/{split}/{cls}/{i:04d}.jpg", buf.getvalue())
    return path


def _official_archive(path, evil=False):
    rng = np.random.default_rng(1)
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
            batch = {b"data": data, b"labels": [int(v) for v in rng.integers(0, 10, 4)]}
            raw = _evil_pickle() if evil else pickle.dumps(batch, protocol=4)
            _add(tar, f"cifar-10-batches-py/{name}", raw)
    return path


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


def _evil_pickle() -> bytes:
    return pickle.dumps({b"data": _Evil(), b"labels": []}, protocol=4)


@pytest.fixture
def jpeg_source(tmp_path, monkeypatch):
    archive = _jpeg_archive(tmp_path / "cifar10-jpeg.tar.gz")
    monkeypatch.setenv(cifar10.JPEG_ENV, str(archive))
    find, _, decode = cifar10.SOURCES["cifar10-jpeg"]
    monkeypatch.setitem(cifar10.SOURCES, "cifar10-jpeg", (find, sha256_file(archive), decode))
    return archive


def test_jpeg_copy_loads_by_class_with_labels_and_a_note(jpeg_source, tmp_path):
    train = load_dataset("cifar10-jpeg", data_dir=tmp_path / "data")
    test = load_dataset("cifar10-jpeg", split="test", data_dir=tmp_path / "data")
    assert train.x.shape == (6, 3, 32, 32) and test.x.shape == (2, 3, 32, 32)
    assert train.y.tolist() == [0, 0, 0, 1, 1, 1] and train.num_classes == 10
    # class 1 was drawn brighter: the labels travel with the right images
    assert train.x[train.y == 1].float().mean() > train.x[train.y == 0].float().mean() + 50
    assert "JPEG" in train.meta["note"]


def test_jpeg_cache_is_used_and_checked(jpeg_source, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    first = load_dataset("cifar10-jpeg", data_dir=data_dir)
    monkeypatch.delenv(cifar10.JPEG_ENV)
    jpeg_source.unlink()  # the cache alone is enough now
    again = load_dataset("cifar10-jpeg", data_dir=data_dir)
    assert (first.x == again.x).all()
    cache = data_dir / "cifar10-jpeg" / "cifar10-jpeg-uint8.npz"
    cache.write_bytes(cache.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DataError, match="does not match its recorded sha256.*delete"):
        load_dataset("cifar10-jpeg", data_dir=data_dir)


def test_jpeg_archive_with_another_checksum_is_refused(tmp_path, monkeypatch):
    archive = _jpeg_archive(tmp_path / "other.tar.gz")
    monkeypatch.setenv(cifar10.JPEG_ENV, str(archive))
    with pytest.raises(DataError, match="does not match the pinned sha256 of cifar10-jpeg"):
        load_dataset("cifar10-jpeg", data_dir=tmp_path / "data")


def test_missing_jpeg_archive_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv(cifar10.JPEG_ENV, raising=False)
    with pytest.raises(DataError, match="GANFORGE_CIFAR10_JPEG"):
        load_dataset("cifar10-jpeg", data_dir=tmp_path / "data")


def test_official_release_downloads_with_its_checksum_and_keeps_pixel_layout(tmp_path, monkeypatch):
    archive = _official_archive(tmp_path / "release.tar.gz")
    monkeypatch.setattr(cifar10, "OFFICIAL_URL", archive.as_uri())
    monkeypatch.setattr(cifar10, "OFFICIAL_SHA256", sha256_file(archive))
    monkeypatch.setitem(cifar10.SOURCES, "cifar10", (cifar10._official_archive, sha256_file(archive),
                                                     cifar10._official_arrays))
    ds = load_dataset("cifar10", data_dir=tmp_path / "data")
    assert ds.x.shape == (20, 3, 32, 32) and len(load_dataset("cifar10", split="test", data_dir=tmp_path / "data")) == 4
    with tarfile.open(archive) as tar:
        batch = pickle.loads(tar.extractfile("cifar-10-batches-py/data_batch_1").read())
    # a row is the R plane, then G, then B, each 32x32 row-major
    assert (ds.x[0].numpy().reshape(-1) == batch[b"data"][0]).all()
    assert ds.y[:4].tolist() == batch[b"labels"]


def test_official_release_offline_names_both_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_OFFLINE", "1")
    with pytest.raises(DataError, match="place cifar-10-python.tar.gz.*cifar10-jpeg"):
        load_dataset("cifar10", data_dir=tmp_path / "data")


def test_a_pickle_naming_any_other_global_is_refused(tmp_path, monkeypatch):
    root = tmp_path / "data" / "cifar10"
    root.mkdir(parents=True)
    archive = _official_archive(root / cifar10.OFFICIAL_NAME, evil=True)
    monkeypatch.setitem(cifar10.SOURCES, "cifar10", (cifar10._official_archive, sha256_file(archive),
                                                     cifar10._official_arrays))
    with pytest.raises(DataError, match="refusing to load global"):
        load_dataset("cifar10", data_dir=tmp_path / "data")
