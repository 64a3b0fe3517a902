"""An unpickler for the two pickled datasets ganforge reads: MNIST's and CIFAR-10's.

Both are published as Python pickles of numpy arrays, and a pickle can run any
code it names. Their bytes are checked against a pinned sha256 first; this
unpickler is the second fence: it builds numpy arrays (and the plain containers
pickle makes without naming a global) and refuses every other global, so even a
file that somehow passed the checksum cannot call ``os.system``.
"""

from __future__ import annotations

import pickle

import numpy as np


def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct as fn  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct as fn
    return fn


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays only: any other global (os.system, ...) is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return _reconstruct() if name == "_reconstruct" else getattr(np, name)


__all__ = ["ArrayUnpickler"]
