"""Finding a verified copy of the FID Inception weights (the pytorch-fid file; never bundled).

An FID is only comparable with published ones when it is computed with exactly
these weights, so every copy is checked against a pinned sha256 before use:
the file the user names (``--inception-weights PATH``), else one in the data
dir's ``judges/`` or torch's hub cache, else a download into ``judges/``.
Hashing 95 MB takes a while, so a file that has passed is remembered (by path
and mtime) for the rest of the process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch

from ganforge.data import resolve_data_dir
from ganforge.download import DownloadError, fetch_url, offline, sha256_file
from ganforge.errors import JudgeError
from ganforge.metrics.judge_cache import JUDGE_DIR

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + INCEPTION_FILE
# The "6726825d" in the file name is the start of its sha256 (torch.hub's convention); the full
# digest is as recorded by projects that pin this file.
INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"

_VERIFIED: set[tuple[str, float]] = set()  # (path, mtime) already hashed in this process


def _verified(path: Path) -> bool:
    stamp = (str(path.resolve()), path.stat().st_mtime)
    if stamp in _VERIFIED:
        return True
    ok = sha256_file(path) == INCEPTION_SHA256
    if ok:
        _VERIFIED.add(stamp)
    return ok


def inception_weights_path(weights: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
                           *, log_fn: Callable[[str], None] | None = None) -> Path:
    """A verified copy of the FID Inception weights: the given file, else a cached one, else a download."""
    fix = (f"download {INCEPTION_URL} (sha256 {INCEPTION_SHA256[:12]}...) and pass --inception-weights PATH "
           f"(Python: inception_weights=PATH), or place it in {resolve_data_dir(data_dir) / JUDGE_DIR}/")
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise JudgeError(f"the Inception weights file {path} does not exist; {fix}")
        if not _verified(path):
            raise JudgeError(f"{path} is not the FID Inception weights file (its sha256 differs from "
                             f"{INCEPTION_SHA256[:12]}...); {fix}")
        return path
    cached = resolve_data_dir(data_dir) / JUDGE_DIR / INCEPTION_FILE
    hub = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    for path in (cached, hub):
        if path.is_file() and _verified(path):
            return path
    if offline():
        raise JudgeError(f"the FID Inception weights are not in {cached.parent} and GANFORGE_OFFLINE is set; {fix}")
    if log_fn is not None:
        log_fn(f"downloading the FID Inception weights (95 MB) from {INCEPTION_URL}")
    try:
        fetch_url(INCEPTION_URL, cached, sha256=INCEPTION_SHA256, what="the FID Inception weights")
    except DownloadError as exc:
        raise JudgeError(f"{exc}; {fix}") from None
    return cached


__all__ = ["INCEPTION_FILE", "INCEPTION_SHA256", "INCEPTION_URL", "inception_weights_path"]
