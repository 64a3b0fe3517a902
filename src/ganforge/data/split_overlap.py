"""Whether a held-out or test split holds images a run trained on, judged by content, not by name.

``audit`` scores membership against "non-members" and calibrates near-copies on them, and
``downstream`` tests its classifiers on them: both figures mean nothing when those images are
training images. Comparing split names misses containment (digits' ``all`` holds its ``test``,
mnist's ``train60k`` holds ``train``, a user's ``folder:`` can hold anything), so each image's
bytes are hashed (BLAKE2b, 16 bytes: no two different images collide in practice) and the two
sets compared; mnist's 60,000 training images take about a quarter of a second.

A real held-out split shares no exact image with its training split (mnist's train, valid and
test: none; digits' train and test: none), and one that contains the training data shares all
of them. A collected dataset can still hold a few exact duplicates across its splits, so up to
:data:`FEW` images (or :data:`FEW_SHARE` of the split, when that is more) pass with a warning;
more is refused in one line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np
import torch

from ganforge.data.base import Dataset
from ganforge.errors import DataError, warn

FEW = 10  # shared images that still pass (exact duplicates a collected dataset may hold across its splits)
FEW_SHARE = 0.001  # ... or this share of the held-out split, when that is more
CHUNK = 4096  # images read (from memory or a store's memory map) at a time


def _keys(x: torch.Tensor) -> Iterator[bytes]:
    """A digest of each sample's bytes, read a chunk at a time (a store is not copied whole)."""
    for start in range(0, len(x), CHUNK):
        rows = np.ascontiguousarray(x[start:start + CHUNK].numpy())
        for row in rows.reshape(len(rows), -1):
            yield hashlib.blake2b(row.tobytes(), digest_size=16).digest()


def shared_images(held: Dataset, train: Dataset) -> int:
    """How many of ``held``'s samples are byte for byte samples of ``train`` (0 when their shapes differ)."""
    if held.shape != train.shape or held.x.dtype != train.x.dtype:
        return 0
    seen = set(_keys(train.x))
    return sum(key in seen for key in _keys(held.x))


def check_unseen(held: Dataset, train: Dataset, *, what: str, trained: str, fix: str) -> int:
    """One line when ``held`` (``what``: e.g. "the held-out split digits (test)") holds more than a few of the
    images ``trained`` (e.g. "runs/r trained on (digits, split all)") names; a warning when it holds a few.
    ``fix`` says what to pass instead. Returns how many it shares."""
    shared = shared_images(held, train)
    if shared > max(FEW, FEW_SHARE * len(held)):
        raise DataError(f"{what}: {shared} of its {len(held)} images ({shared / len(held):.0%}) are images "
                        f"{trained}; {fix}")
    if shared:
        warn(f"{what}: {shared} of its {len(held)} images are also training images (exact duplicates); they "
             f"are counted as unseen")
    return shared


__all__ = ["FEW", "FEW_SHARE", "check_unseen", "shared_images"]
