"""Downloads and sha256 fingerprints: the one place ganforge reaches the network.

Everything ganforge downloads (the MNIST files, the FID Inception weights) is
pinned by sha256, and a run must be able to say exactly which bytes it used, so
downloading and hashing live together here. :func:`fetch_url` writes under a
temporary name and renames only after the checksum matched: a file under its
real name has always been verified, even after a crash mid-download.

``GANFORGE_OFFLINE=1`` forbids every download (for clusters without internet
and for CI): :func:`offline` is the one test of it, and :func:`fetch_url`
refuses while it is set. Callers usually check it first themselves so their
message can name the files the user may place by hand instead.

:func:`open_url` is the only function that opens a connection; the test suite
replaces it so that no test can touch the network.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from ganforge.errors import GanforgeError

OFFLINE_ENV = "GANFORGE_OFFLINE"
DEFAULT_TIMEOUT_S = 60
CHUNK = 1 << 20


class DownloadError(GanforgeError):
    """A download was refused (offline), failed, or its bytes do not match the pinned sha256.

    ``reason`` is the short cause alone ("no route to host", "sha256 mismatch"), for callers
    that try several mirrors and list why each one failed.
    """

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def offline() -> bool:
    """Whether ``GANFORGE_OFFLINE`` forbids downloads (any value but "", 0, false, no)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = CHUNK) -> str:
    """sha256 of a file, read in chunks so a 100 MB weights file never sits in memory twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def open_url(url: str, timeout: float) -> BinaryIO:
    """A readable response for ``url`` (https, or file:// in tests)."""
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - callers pass pinned URLs


def fetch_url(url: str, dest: str | os.PathLike, *, sha256: str, timeout: float = DEFAULT_TIMEOUT_S,
              what: str | None = None) -> Path:
    """Download ``url`` to ``dest`` if its bytes have the given sha256; return ``dest``.

    The bytes are hashed while they stream into ``.<dest name>.<pid>.part`` next to
    ``dest``, which is renamed into place only when the digest matches: ``dest`` either
    holds the verified file or is untouched. A checksum is required because nothing
    ganforge downloads may change under a user silently. ``what`` names the file in
    messages (default: the URL). Raises :class:`DownloadError` with a one-line message
    when offline, when ``dest`` cannot be written, when the transfer fails, or on a
    checksum mismatch.
    """
    what = what or url
    if offline():
        raise DownloadError(f"{what} was not downloaded from {url}: {OFFLINE_ENV} is set", f"{OFFLINE_ENV} is set")
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        out = open(tmp, "wb")  # closed by the with below
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DownloadError(f"cannot save {what} in {dest.parent} ({reason})", reason) from None
    digest = hashlib.sha256()
    try:
        with out, open_url(url, timeout) as resp:
            while block := resp.read(CHUNK):
                digest.update(block)
                out.write(block)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        reason = (str(getattr(exc, "reason", exc)) or type(exc).__name__).splitlines()[0]
        raise DownloadError(f"cannot download {what} from {url} ({reason})", reason) from None
    if digest.hexdigest() != sha256:
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"{what} from {url} failed its checksum: sha256 {digest.hexdigest()[:12]}... is not the "
                            f"pinned {sha256[:12]}...; nothing was saved", "sha256 mismatch")
    os.replace(tmp, dest)
    return dest


__all__ = ["DEFAULT_TIMEOUT_S", "OFFLINE_ENV", "DownloadError", "fetch_url", "offline", "open_url", "sha256_bytes",
           "sha256_file"]
