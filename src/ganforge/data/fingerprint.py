"""The fingerprint of training data, as ``options.json`` records it: what resume, the audits and a table
run's checks compare to tell whether the data a run is given are the data it trained on.

Here, beside the datasets, rather than in the engine: the table loader (``tabular/table_data.py``) computes
it too, to check a table run's file without going through training.
"""

from __future__ import annotations

import hashlib

from ganforge.data.base import Dataset
from ganforge.data.store import stored


def fingerprint(data: Dataset) -> str:
    """sha256 over the samples and labels exactly as training sees them (after resizing)."""
    h = hashlib.sha256()
    h.update(str((tuple(data.x.shape), str(data.x.dtype))).encode())
    if stored(data.x) is not None:  # a store's images and labels are hashed once, when it is built
        return hashlib.sha256(f"{h.hexdigest()}:store:{data.meta['content_sha256']}".encode()).hexdigest()
    h.update(data.x.contiguous().numpy().tobytes())
    if data.y is not None:
        h.update(data.y.contiguous().numpy().tobytes())
    if data.b is not None:  # a second domain (absent before two-domain data existed: old fingerprints stand)
        h.update(f"b:{data.paired}:{fingerprint(data.b)}".encode())
    return h.hexdigest()
