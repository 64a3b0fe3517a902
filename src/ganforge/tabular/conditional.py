"""CTGAN's conditional vector and training-by-sampling (Xu et al. 2019, section 4.3).

Each training row is asked for with a condition: a discrete column picked uniformly, one of its
categories picked by the log of its frequency (so a rare category is asked for far more often than
its share of rows, and G is trained on it instead of ignoring it), and a real row that has that
category handed to D. The vector is the one-hot of that category over every discrete column's
block (``transformer.discrete_spans``: categorical and boolean columns; a continuous column's modes
are not conditions); the mask says which column was picked, for the conditional cross-entropy.

dp-tabular asks only for G's conditions this way (:meth:`ConditionalSampler.sample_conditions`): its
real rows are a Poisson sample, each with a condition read from the row itself
(:meth:`ConditionalSampler.own_conditions`), since picking rows through rare categories would put those
rows in most batches, which the privacy accountant does not count.

The rows having each category are found once, from the transformed rows themselves (the argmax of
each block), and kept as one sorted index per column, so a draw is a lookup, and a table streamed
to a memory map on disk is read once, in chunks.
"""

from __future__ import annotations

import numpy as np

from ganforge.errors import ConfigError

READ_ROWS = 65_536  # rows of the transformed table read at a time when indexing categories (bounded memory)


class ConditionalSampler:
    """Draws conditional vectors over ``transformer.discrete_spans`` and real rows that satisfy them."""

    def __init__(self, x: np.ndarray, transformer, *, log_frequency: bool = True):
        self.transformer = transformer
        self.spans = list(transformer.discrete_spans)
        self.n_rows = int(len(x))
        self.offsets = np.cumsum([0] + [s.width for s in self.spans]).astype(np.int64)
        self.cond_dim = int(self.offsets[-1])
        self.n_discrete = len(self.spans)
        codes = np.empty((self.n_rows, self.n_discrete), np.int32)
        for lo in range(0, self.n_rows, READ_ROWS):
            chunk = np.asarray(x[lo:lo + READ_ROWS])
            for j, s in enumerate(self.spans):
                codes[lo:lo + len(chunk), j] = chunk[:, s.start:s.start + s.width].argmax(1)
        self.order: list[np.ndarray] = []  # per column: row indices sorted by category
        self.starts: list[np.ndarray] = []  # per column: where each category's rows begin in order (width + 1)
        self.counts: list[np.ndarray] = []  # per column: rows per category
        self.train_p: list[np.ndarray] = []
        for j, s in enumerate(self.spans):
            order = np.argsort(codes[:, j], kind="stable")
            count = np.bincount(codes[:, j], minlength=s.width).astype(np.int64)
            self.order.append(order)
            self.counts.append(count)
            self.starts.append(np.concatenate([[0], np.cumsum(count)]))
            weight = np.log1p(count) if log_frequency else count.astype(np.float64)  # CTGAN: log(count + 1)
            self.train_p.append(weight / weight.sum())

    def _draw(self, n: int, rng: np.random.Generator, probs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cond = np.zeros((n, self.cond_dim), np.float32)
        mask = np.zeros((n, self.n_discrete), np.float32)
        if not self.spans:
            return cond, mask, rng.integers(0, self.n_rows, n)
        column = rng.integers(0, self.n_discrete, n)
        category = np.empty(n, np.int64)
        for j in range(self.n_discrete):
            rows = np.flatnonzero(column == j)
            category[rows] = rng.choice(len(probs[j]), size=len(rows), p=probs[j])
        cond[np.arange(n), self.offsets[column] + category] = 1.0
        mask[np.arange(n), column] = 1.0
        return cond, mask, category  # the category asked for on each row (its column: the mask)

    def sample_train(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` training conditions: (cond (n, cond_dim), mask (n, n_discrete), row_index (n,)), each row
        of ``row_index`` a real row having its condition's category."""
        cond, mask, category = self._draw(n, rng, self.train_p)
        if not self.spans:
            return cond, mask, category
        column = mask.argmax(1)
        row_index = np.empty(n, np.int64)
        for j in range(self.n_discrete):
            rows = np.flatnonzero(column == j)
            lo = self.starts[j][category[rows]]
            hi = self.starts[j][category[rows] + 1]
            row_index[rows] = self.order[j][lo + (rng.random(len(rows)) * (hi - lo)).astype(np.int64)]
        return cond, mask, row_index

    def sample_conditions(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` training conditions without rows: (cond, mask), a column uniformly and a category by the
        training frequencies (log frequency by default), for G alone (dp-tabular's fake rows)."""
        cond, mask, _ = self._draw(n, rng, self.train_p)
        return cond, mask

    def own_conditions(self, x_rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Conditions read from given transformed rows themselves: per row a discrete column uniformly and that
        row's own category of it (the argmax of its block, as the index above reads it), so row i's vector
        depends on row i alone (dp-tabular's real rows). (cond (k, cond_dim), mask (k, n_discrete))."""
        k = len(x_rows)
        cond = np.zeros((k, self.cond_dim), np.float32)
        mask = np.zeros((k, self.n_discrete), np.float32)
        if not self.spans or not k:
            return cond, mask
        column = rng.integers(0, self.n_discrete, k)
        category = np.empty(k, np.int64)
        for j, s in enumerate(self.spans):
            rows = np.flatnonzero(column == j)
            category[rows] = np.asarray(x_rows[rows, s.start:s.start + s.width]).argmax(1)
        cond[np.arange(k), self.offsets[column] + category] = 1.0
        mask[np.arange(k), column] = 1.0
        return cond, mask

    def sample_original(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Conditions for unconditional sampling: a column uniformly, a category by its real frequency."""
        return self._draw(n, rng, [c / c.sum() for c in self.counts])[0]

    def condition(self, column: str, value: object, n: int) -> np.ndarray:
        """``n`` copies of the vector asking for ``column == value`` (``--condition col=value``); one line
        naming the valid values when ``value`` is not one."""
        names = [s.column for s in self.spans]
        if column not in names:
            raise ConfigError(f"--condition: '{column}' is not a categorical column of this table; conditions can "
                              f"name {', '.join(names) or 'none (the table has no categorical column)'}")
        j = names.index(column)
        slot = self.transformer.category_slot(column, value)
        cond = np.zeros((n, self.cond_dim), np.float32)
        cond[:, self.offsets[j] + slot] = 1.0
        return cond


__all__ = ["ConditionalSampler"]
