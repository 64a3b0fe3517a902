"""The ID columns of a sampled table: not learned, regenerated as unique values of the same form.

A column of kind ``id`` (``columns.py``) holds a value unique to each row, so there is nothing to learn from
it; at sampling it is given back as unique values of its form (integers from the column's minimum, a prefix
and a zero-padded number, or a fixed-length template of character classes), sorted as row keys usually are.
An output inverted in chunks draws them a block of :data:`ID_BLOCK` rows at a time (:class:`NewIds`), so a
huge ``--n`` holds one block in memory, and the values do not depend on how the output is cut.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganforge.tabular.columns import ColumnSpec

ID_BLOCK = 100_000  # rows of regenerated IDs drawn at a time for an output inverted in chunks

_ID_POOLS = {"9": "0123456789", "a": "abcdefghijklmnopqrstuvwxyz", "A": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
             "x": "0123456789abcdef"}  # each in ascending character order: a template's IDs sort as their numbers
_INT64_SAFE = 2 ** 62  # value spaces above this are drawn in Python integers (object arrays)


def _id_space(spec: ColumnSpec, n: int):
    """(size C >= n, decode): the IDs of the column's form are decode(k) for k in [0, C), in sorted order."""
    if spec.id_numeric and spec.id_prefix == "" and spec.min is not None:
        lo, hi = int(spec.min), int(spec.max)
        return max(hi - lo + 1, 2 * n), lambda k: pd.Series(lo + k).astype(spec.dtype)
    if spec.id_numeric:
        width = spec.id_width
        top = 10 ** width if width and 10 ** width >= 2 * n else max(2 * n, 10)
        return top, lambda k: pd.Series([f"{spec.id_prefix}{int(v):0{width}d}" for v in k], dtype=spec.dtype)
    tokens, chars = [], iter(spec.id_template)
    for c in chars:  # a backslash makes the next character literal (a constant "x" or "9" of the IDs)
        tokens.append(("lit", next(chars)) if c == "\\" else ("cls", c) if c in _ID_POOLS else ("lit", c))
    size = int(np.prod([len(_ID_POOLS[c]) for kind, c in tokens if kind == "cls"], dtype=object))
    while size < n:  # fewer IDs of this form than rows: more digits at the end keep them unique
        tokens.append(("cls", "9"))
        size *= 10

    def decode(k: np.ndarray) -> pd.Series:
        parts = []
        for kind, c in reversed(tokens):  # the last position is the least significant digit
            if kind == "lit":
                parts.append(np.full(len(k), c))
            else:
                pool = np.asarray(list(_ID_POOLS[c]))
                parts.append(pool[(k % len(pool)).astype(np.int64)])
                k = k // len(pool)
        return pd.Series(["".join(t) for t in zip(*reversed(parts))], dtype=spec.dtype)

    return size, decode


def new_ids(spec: ColumnSpec, n: int, rng: np.random.Generator, start: int = 0, m: int | None = None) -> pd.Series:
    """Rows ``start..start+m`` (all ``n`` by default) of ``n`` unique IDs of the column's form, sorted (as row keys
    usually are). Rows ``start..start+m`` take distinct values from their own share of the value space, so any
    part of an output is drawn without the rest, and the parts together are unique and sorted."""
    m = n - start if m is None else m
    size, decode = _id_space(spec, n)
    lo, hi = size * start // n, size * (start + m) // n  # Python integers: exact for any size
    span = hi - lo  # >= m, since size >= n
    drawn = min(span, _INT64_SAFE)
    offsets = np.sort(rng.choice(drawn, m, replace=False))
    if size <= _INT64_SAFE:
        return decode(lo + offsets)
    return decode(lo + offsets.astype(object) * (span // drawn))


class NewIds:
    """The ID columns of an output of ``n`` rows, drawn :data:`ID_BLOCK` rows at a time from ``seed`` (each
    block from its own stream), so memory holds one block and the values do not depend on how the output
    is cut into chunks; unique and sorted over all ``n`` rows."""

    def __init__(self, specs: list[ColumnSpec], n: int, seed: int):
        self.specs, self.n, self.seed = [s for s in specs if s.kind == "id"], n, seed
        self._block: tuple[int, dict[str, pd.Series]] | None = None

    def _draw(self, b: int) -> dict[str, pd.Series]:
        if self._block is None or self._block[0] != b:
            start = b * ID_BLOCK
            m = min(ID_BLOCK, self.n - start)
            self._block = (b, {s.name: new_ids(s, self.n, np.random.default_rng([self.seed, b, j]), start, m)
                               for j, s in enumerate(self.specs)})
        return self._block[1]

    def rows(self, start: int, m: int) -> dict[str, pd.Series]:
        """The ID columns' values of rows ``start..start+m``."""
        parts: dict[str, list[pd.Series]] = {s.name: [] for s in self.specs}
        for b in range(start // ID_BLOCK, (start + m - 1) // ID_BLOCK + 1) if m > 0 else ():
            first = b * ID_BLOCK
            block = self._draw(b)
            for name, values in block.items():
                parts[name].append(values.iloc[max(start, first) - first:min(start + m, first + ID_BLOCK) - first])
        return {name: pd.concat(p, ignore_index=True) for name, p in parts.items() if p}


__all__ = ["ID_BLOCK", "NewIds"]
