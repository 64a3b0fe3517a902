"""Trained judges on disk: named by a content key, written atomically, verified on read.

A judge is cached under ``<data dir>/judges/`` as ``<name>-<key>.safetensors``
plus ``<name>-<key>.json`` (its record: test accuracy, training time, the
sha256 of the weights). The key is the sha256 of the exact training pixels and
labels together with the judge's fingerprint, so different data or a different
recipe can never silently reuse old weights; a damaged file is trained again
rather than trusted. These names and this layout are what judges cached by
earlier versions use: changing them retrains every user's judges.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ganforge.data import resolve_data_dir
from ganforge.data.base import Dataset
from ganforge.download import sha256_file
from ganforge.errors import JudgeError
from ganforge.metrics.judge_nets import ConvJudge, JudgeSpec

log = logging.getLogger(__name__)

JUDGE_DIR = "judges"  # under the data dir; the FID Inception weights are kept here too


def dataset_sha256(ds: Dataset) -> str:
    """sha256 of a dataset's exact samples and labels (shapes and dtypes included)."""
    h = hashlib.sha256()
    for name, t in (("x", ds.x), ("y", ds.y)):
        if t is None:
            continue
        a = np.ascontiguousarray(t.numpy())
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def cache_key(spec: JudgeSpec, train_sha256: str) -> str:
    """16 hex digits naming one (spec, training data) pair."""
    blob = json.dumps({"judge": spec.fingerprint(), "train_data_sha256": train_sha256}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def judge_paths(name: str, key: str, data_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """(weights, record) file paths of a cached judge."""
    root = resolve_data_dir(data_dir) / JUDGE_DIR
    return root / f"{name}-{key}.safetensors", root / f"{name}-{key}.json"


def read_cached(weights: Path, record_path: Path, spec: JudgeSpec) -> tuple[ConvJudge, dict] | None:
    """The cached judge, or None (with a log line) when it is missing or damaged."""
    if not (weights.is_file() and record_path.is_file()):
        return None
    try:
        record = json.loads(record_path.read_text())
        if sha256_file(weights) != record["weights_sha256"]:
            raise ValueError("weights do not match the sha256 in the record")
        net = spec.build()
        net.load_state_dict(load_file(str(weights)))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
        log.warning("cached judge %s is unusable (%s); training it again", weights, exc)
        return None
    return net.eval(), record


def write_cached(net: nn.Module, record: dict, weights: Path, record_path: Path) -> dict:
    """Store ``net`` and ``record`` (with the weights' sha256 added); return the record as stored."""
    tmp_w = weights.with_name(f".{weights.name}.{os.getpid()}.part")
    tmp_r = record_path.with_name(f".{record_path.name}.{os.getpid()}.part")
    try:
        weights.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}, str(tmp_w))
        record = {**record, "weights_sha256": sha256_file(tmp_w)}
        tmp_r.write_text(json.dumps(record, indent=1))
        os.replace(tmp_w, weights)  # weights first: a record never points at missing weights
        os.replace(tmp_r, record_path)
    except OSError as exc:
        for tmp in (tmp_w, tmp_r):
            with contextlib.suppress(OSError):  # e.g. the folder itself could not be made
                tmp.unlink(missing_ok=True)
        raise JudgeError(f"cannot write the judge cache in {weights.parent} ({exc.strerror or exc}); "
                         f"point GANFORGE_DATA or --data-dir at a writable directory") from None
    return record


__all__ = ["JUDGE_DIR", "cache_key", "dataset_sha256", "judge_paths", "read_cached", "write_cached"]
