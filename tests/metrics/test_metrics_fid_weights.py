"""The FID Inception weights: a named file, a cached copy or a download, each verified by sha256."""

from __future__ import annotations

import hashlib
import os
import urllib.error

import pytest
import torch

from ganforge.metrics import fid_weights
from ganforge.metrics.judges import JudgeError, load_judge


@pytest.fixture
def empty_hub(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


def _unreachable(url):
    raise urllib.error.URLError("no route to host")


def test_inception_without_weights_says_where_to_get_them(monkeypatch, one_line, fake_web):
    monkeypatch.setenv("GANFORGE_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: "/nonexistent-hub")
    asked = fake_web(lambda url: pytest.fail("downloaded while offline"))
    with pytest.raises(JudgeError) as e:
        load_judge("inception")
    msg = one_line(e)
    assert fid_weights.INCEPTION_URL in msg and "--inception-weights" in msg and "GANFORGE_OFFLINE" in msg
    assert asked == []


def test_inception_download_failure_and_bad_files(tmp_path, one_line, fake_web, empty_hub, isolated_data):
    fake_web(_unreachable)
    with pytest.raises(JudgeError, match="cannot download.*no route to host") as e:
        load_judge("inception")
    assert "--inception-weights" in one_line(e)
    fake_web(lambda url: b"not the weights")
    with pytest.raises(JudgeError, match="failed its checksum") as e:
        load_judge("inception")
    assert "--inception-weights" in one_line(e)
    assert not (isolated_data / "judges" / fid_weights.INCEPTION_FILE).exists()  # the bad bytes were not kept
    wrong = tmp_path / "wrong.pth"
    wrong.write_bytes(b"something else")
    with pytest.raises(JudgeError, match="is not the FID Inception weights file"):
        load_judge("inception", inception_weights=wrong)
    with pytest.raises(JudgeError, match="does not exist"):
        load_judge("inception", inception_weights=tmp_path / "missing.pth")


def test_inception_download_is_verified_then_cached(monkeypatch, isolated_data, fake_web, empty_hub):
    blob = b"pretend weights"
    monkeypatch.setattr(fid_weights, "INCEPTION_SHA256", hashlib.sha256(blob).hexdigest())
    asked = fake_web(lambda url: blob)
    path = fid_weights.inception_weights_path()
    assert path == isolated_data / "judges" / fid_weights.INCEPTION_FILE and path.read_bytes() == blob
    assert asked == [fid_weights.INCEPTION_URL]
    fake_web(lambda url: pytest.fail("downloaded twice"))
    assert fid_weights.inception_weights_path() == path


def test_a_copy_in_the_hub_cache_is_used_without_downloading(monkeypatch, fake_web, empty_hub):
    blob = b"weights torch.hub fetched earlier"
    monkeypatch.setattr(fid_weights, "INCEPTION_SHA256", hashlib.sha256(blob).hexdigest())
    hub_copy = empty_hub / "checkpoints" / fid_weights.INCEPTION_FILE
    hub_copy.parent.mkdir(parents=True)
    hub_copy.write_bytes(blob)
    fake_web(lambda url: pytest.fail("downloaded although the hub cache has the file"))
    assert fid_weights.inception_weights_path() == hub_copy
    hub_copy.write_bytes(b"edited since")  # a copy that no longer verifies is not used
    stamp = hub_copy.stat().st_mtime + 10  # (files passed are remembered by mtime, which is coarse)
    os.utime(hub_copy, (stamp, stamp))
    fake_web(_unreachable)
    with pytest.raises(JudgeError, match="cannot download"):
        fid_weights.inception_weights_path()
