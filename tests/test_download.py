"""The download helper: sha256 fingerprints, verified atomic downloads, GANFORGE_OFFLINE.

Downloads here read local file:// URLs through the real opener, or a fake one; never the network.
"""

from __future__ import annotations

import hashlib
import io

import pytest

from ganforge import download
from ganforge.download import DownloadError, fetch_url
from ganforge.errors import GanforgeError

BLOB = bytes(range(256)) * 1000  # 256 kB: several reads at a small chunk size


@pytest.fixture
def served(tmp_path):
    src = tmp_path / "served" / "file.bin"
    src.parent.mkdir()
    src.write_bytes(BLOB)
    return src.as_uri()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_file_and_bytes_digests_agree_with_hashlib(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(BLOB)
    want = hashlib.sha256(BLOB).hexdigest()
    assert download.sha256_bytes(BLOB) == want
    assert download.sha256_file(path) == want
    assert download.sha256_file(path, chunk=1000) == want  # chunking does not change the digest
    assert download.sha256_bytes(b"") == hashlib.sha256(b"").hexdigest()


def test_verified_download_lands_under_its_name(tmp_path, served):
    dest = tmp_path / "out" / "sub" / "file.bin"
    got = fetch_url(served, dest, sha256=hashlib.sha256(BLOB).hexdigest())
    assert got == dest and dest.read_bytes() == BLOB
    assert _leftovers(dest.parent) == ["file.bin"]  # no temporary file left behind


def test_checksum_mismatch_keeps_nothing_and_leaves_an_old_file_alone(tmp_path, served, one_line):
    dest = tmp_path / "out" / "file.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"the previous copy")
    with pytest.raises(DownloadError, match="failed its checksum") as e:
        fetch_url(served, dest, sha256="0" * 64, what="the test file")
    msg = one_line(e)
    assert "the test file" in msg and served in msg and "000000000000" in msg
    assert e.value.reason == "sha256 mismatch" and isinstance(e.value, GanforgeError)
    assert dest.read_bytes() == b"the previous copy"
    assert _leftovers(dest.parent) == ["file.bin"]


def test_unreachable_url_is_a_one_line_error(tmp_path, one_line):
    missing = (tmp_path / "nowhere.bin").as_uri()
    with pytest.raises(DownloadError, match="cannot download") as e:
        fetch_url(missing, tmp_path / "out" / "x.bin", sha256="0" * 64)
    assert missing in one_line(e) and e.value.reason
    assert _leftovers(tmp_path / "out") == []


def test_unwritable_destination_is_a_one_line_error(tmp_path, served, one_line):
    (tmp_path / "taken").write_text("a file where a folder should be")
    with pytest.raises(DownloadError, match="cannot save the test file in") as e:
        fetch_url(served, tmp_path / "taken" / "x.bin", sha256=hashlib.sha256(BLOB).hexdigest(), what="the test file")
    one_line(e)


def test_a_transfer_that_breaks_midway_leaves_no_partial_file(tmp_path, monkeypatch):
    class Breaks(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise ConnectionResetError("connection reset by peer")
            return super().read(10)

    monkeypatch.setattr(download, "open_url", lambda url, timeout: Breaks(BLOB))
    with pytest.raises(DownloadError, match="connection reset by peer"):
        fetch_url("https://example.invalid/file.bin", tmp_path / "x.bin", sha256=hashlib.sha256(BLOB).hexdigest())
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("value, expected", [("", False), ("0", False), ("false", False), ("No", False),
                                             ("1", True), ("yes", True), ("TRUE", True), (" 1 ", True)])
def test_offline_switch(monkeypatch, value, expected):
    monkeypatch.setenv(download.OFFLINE_ENV, value)
    assert download.offline() is expected


def test_offline_refuses_before_opening_anything(tmp_path, served, monkeypatch, one_line):
    monkeypatch.setenv("GANFORGE_OFFLINE", "1")
    monkeypatch.setattr(download, "open_url", lambda *a: pytest.fail("opened a URL while offline"))
    with pytest.raises(DownloadError, match="GANFORGE_OFFLINE is set") as e:
        fetch_url(served, tmp_path / "x.bin", sha256=hashlib.sha256(BLOB).hexdigest())
    one_line(e)
    assert not (tmp_path / "x.bin").exists()


def test_the_test_suite_cannot_reach_the_network(tmp_path):
    """tests/conftest.py replaces the opener: anything but file:// fails the test that tried."""
    with pytest.raises(AssertionError, match="must not touch the network"):
        fetch_url("https://example.com/x", tmp_path / "x", sha256="0" * 64)
