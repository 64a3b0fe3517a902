"""The real-row streams of the table recipes: CTGAN's training-by-sampling (:class:`TableBatches`) and
dp-tabular's Poisson sampling (:class:`PoissonTableBatches`), each a checkpointed numpy generator over a
:class:`~ganforge.tabular.conditional.ConditionalSampler`, so a resumed run draws the same rows.

Apart from the recipe (recipes/tabular.py) because which rows D sees, and how often, is what dp-tabular's
privacy accounting rests on: the two streams sit side by side, each with the sampling it promises.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ganforge.tabular.conditional import ConditionalSampler

Tensor = torch.Tensor


@dataclass
class Draw:
    """One training-by-sampling draw: conditions for G, and real rows (with theirs) for D."""

    cond: Tensor  # (n, cond_dim): the conditional vectors G is asked for
    mask: Tensor  # (n, discrete columns): which column each condition is about
    real: Tensor | None = None  # (n, D): real rows having those categories, in shuffled order...
    real_cond: Tensor | None = None  # ... with their own conditional vectors


class TableBatches:
    """The real-row stream of training-by-sampling, with its position checkpointed by name.

    Each draw picks, per row, a discrete column uniformly and a category of it by log frequency
    (the sampler's ``sample_train``), and real rows that have those categories; the real rows are
    shuffled against G's conditions (the paper's code does the same), so a packed group of D never
    pairs a real row with the fake row asked for the same category. Under torchrun every process
    draws the global batch and keeps its share, as :class:`~ganforge.training.batches.RealBatches`.

    This picks real rows through their category, with replacement: a rare category's few rows are in
    most batches, several times each. That is CTGAN's intent, and no privacy accountant's sampling, so
    dp-tabular draws D's real rows with :class:`PoissonTableBatches` instead.
    """

    def __init__(self, x: Tensor, sampler: ConditionalSampler, seed: int, device: torch.device, *, rank: int = 0,
                 world_size: int = 1):
        self.x, self.sampler, self.device = x.to(device), sampler, device
        self.rank, self.world_size = rank, world_size
        self.rng = np.random.default_rng(seed)
        self.rows_drawn = 0  # real rows drawn so far (global): what an epoch counts

    def draw(self, n: int, real: bool = True) -> Draw:
        total = n * self.world_size
        mine = slice(self.rank * n, (self.rank + 1) * n)
        if self.sampler.cond_dim:
            cond, mask, rows = self.sampler.sample_train(total, self.rng)
        else:  # no discrete column: nothing to condition on, real rows uniformly
            cond, mask = np.zeros((total, 0), np.float32), np.zeros((total, 0), np.float32)
            rows = self.rng.integers(0, len(self.x), total)
        out = Draw(self._t(cond[mine]), self._t(mask[mine]))
        if real:
            perm = self.rng.permutation(total)
            out.real = self.x[torch.as_tensor(rows[perm][mine], device=self.device)]
            out.real_cond = self._t(cond[perm][mine])
            self.rows_drawn += total
        return out

    def _t(self, a: np.ndarray) -> Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=self.device)

    @property
    def epochs_done(self) -> float:
        return self.rows_drawn / len(self.x)

    def state_dict(self) -> dict:
        state = self.rng.bit_generator.state
        return {"rows_drawn": self.rows_drawn, "bit_generator": state["bit_generator"],
                "state": {k: str(v) for k, v in state["state"].items()},
                "has_uint32": state["has_uint32"], "uinteger": state["uinteger"]}

    def load_state_dict(self, state: dict) -> None:
        self.rows_drawn = int(state["rows_drawn"])
        self.rng.bit_generator.state = {"bit_generator": state["bit_generator"],
                                        "state": {k: int(v) for k, v in state["state"].items()},
                                        "has_uint32": state["has_uint32"], "uinteger": state["uinteger"]}

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)


class PoissonTableBatches(TableBatches):
    """dp-tabular's stream: D's real rows by Poisson sampling, the sampling its privacy accountant counts.

    Each D update takes every row of the table independently with probability ``sample_rate`` (q =
    train.batch_size / rows: the rate :class:`~ganforge.recipes.private.DpState` gives Opacus's
    RDP accountant), so a row is in a batch at most once and in a fraction q of the batches, whatever its
    categories; the batch size varies (Binomial(rows, q), possibly 0). It is drawn as a Binomial count and
    that many distinct rows uniformly, which is the same distribution over subsets as one coin per row and
    costs the batch, not the table. Each real row's conditional vector is read from the row itself (a
    discrete column uniformly, the row's own category: :meth:`ConditionalSampler.own_conditions`), so
    what D is given for sample i depends on row i alone. G's conditions for the fake rows of that update
    (as many as the real rows, so that real row i and fake row i are one sample of Opacus's per-sample
    gradient) are drawn by training-by-sampling from the categories' frequencies; at least ``min_fake`` are
    generated (the recipe's :data:`ganforge.training.poisson.MIN_FAKE`), the extra ones dropped by
    :func:`private_d_term`. G's own update draws conditions as the parent class does. One process only
    (dp-tabular refuses torchrun). Everything comes from the one checkpointed numpy generator, so a resumed
    run stays bitwise.
    """

    def __init__(self, x: Tensor, sampler: ConditionalSampler, seed: int, device: torch.device, *,
                 sample_rate: float, min_fake: int):
        super().__init__(x, sampler, seed, device)
        self.host = x  # the rows on the host: conditions are read from them with numpy
        self.sample_rate = float(sample_rate)
        self.min_fake = int(min_fake)  # conditions for at least this many fake rows (batch norm in G needs two)

    def poisson_rows(self) -> np.ndarray:
        """The indices of one Poisson sample of the table's rows (distinct, in random order, maybe none)."""
        n = len(self.x)
        return self.rng.choice(n, int(self.rng.binomial(n, self.sample_rate)), replace=False)

    def draw(self, n: int, real: bool = True) -> Draw:
        if not real:
            return super().draw(n, real=False)
        rows = self.poisson_rows()
        cond, mask = self.sampler.sample_conditions(max(len(rows), self.min_fake), self.rng)
        out = Draw(self._t(cond), self._t(mask))
        host = self.host[torch.as_tensor(rows, dtype=torch.long)]
        out.real = self.x[torch.as_tensor(rows, dtype=torch.long, device=self.device)]
        out.real_cond = self._t(self.sampler.own_conditions(np.asarray(host), self.rng)[0])
        self.rows_drawn += len(rows)
        return out
