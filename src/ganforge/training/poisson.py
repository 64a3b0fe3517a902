"""Poisson-sampled real minibatches: the sampling a DP-SGD privacy accountant counts.

Opacus's RDP accountant, like the moments accountant of Abadi et al. (2016), bounds the privacy
loss of an update whose batch took every record independently with probability q. Shuffled
fixed-size batches (:class:`~ganforge.training.shuffled.ShuffledBatches`, every other recipe's
stream) are not that sampling: a record is in exactly one batch per epoch, and the accountant's
epsilon is then only the usual approximation. A private image recipe draws D's real batches from
this stream instead, so the epsilon it reports is the accountant's for the sampling done
(dp-tabular's rows have their own Poisson stream, ``tabular/batches.PoissonTableBatches``, which
also reads each row's condition).

A draw is a Binomial(n, q) count and that many distinct indices uniformly: the same distribution
over subsets as one coin per record, at the cost of one permutation rather than n coins. The batch
size varies from draw to draw and may be 0. The indices are read in ascending order (a subset has
no order; a store reads them front to back, with StoreFiles.rows). The generator is checkpointed with the
records drawn, so a resumed run draws the same batches. There is no graph-safe form (the batch size
changes), so a phase that draws from it runs eagerly.
"""

from __future__ import annotations

import torch

from ganforge.data.store import stored
from ganforge.errors import GanforgeError
from ganforge.training.rng import decode_rng, encode_rng
from ganforge.training.shuffled import scale_batch
from ganforge.training.speed import to_channels_last

# Written into the checkpoint beside the generator: a checkpoint of a shuffled stream (a private image run of a
# ganforge that drew shuffled batches) is told apart and refused, not continued under another sampling.
SAMPLING = "poisson"

# G runs in training mode in D's update, and batch norm needs two samples for batch statistics: a private D term
# generates at least this many for a Poisson draw of fewer real records, and drops the extra ones
MIN_FAKE = 2


class PoissonBatches:
    """Real minibatches of ``x`` (and labels ``y``) that hold each sample with probability ``sample_rate``."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, sample_rate: float, seed: int,
                 device: torch.device, output_range: tuple[float, float] | None, *, channels_last: bool = False):
        if not 0 < sample_rate <= 1:
            raise ValueError(f"sample_rate must be in (0, 1], not {sample_rate}")
        # A store's images stay on disk, each draw's rows read by the store (StoreFiles.rows: into the batch's own
        # buffer, not gathered through the memory map, which held gigabytes of a big store resident); other data
        # move to the device once
        self.files = stored(x)
        self.x = x if self.files is not None else x.to(device)
        self.y = y.to(self.x.device) if y is not None and self.files is None else y
        self.sample_rate, self.device, self.output_range = float(sample_rate), device, output_range
        self.channels_last = channels_last
        self._gen = torch.Generator().manual_seed(seed)
        self.records_drawn = 0  # records in all draws so far: what an epoch counts
        self.draws = 0

    def indices(self) -> torch.Tensor:
        """One Poisson sample of the records' indices: distinct, ascending, possibly none."""
        n = len(self.x)
        count = int(torch.binomial(torch.tensor(float(n), dtype=torch.float64),
                                   torch.tensor(self.sample_rate, dtype=torch.float64), generator=self._gen))
        return torch.randperm(n, generator=self._gen)[:count].sort().values

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        return scale_batch(x, self.output_range)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self.indices()
        self.records_drawn += len(idx)
        self.draws += 1
        if self.files is not None:
            rows, labels = self.files.rows(idx.numpy())
            x, y = torch.from_numpy(rows), (torch.from_numpy(labels) if labels is not None else None)
        else:
            x, y = self.x[idx.to(self.x.device)], (self.y[idx.to(self.y.device)] if self.y is not None else None)
        x = self.scale(x.to(self.device))
        y = y.to(self.device) if y is not None else None
        return (to_channels_last(x) if self.channels_last else x), y

    @property
    def epochs_done(self) -> float:
        return self.records_drawn / len(self.x)

    @property
    def epoch(self) -> int:
        return int(self.epochs_done)

    def state_dict(self) -> dict:
        return {"sampling": SAMPLING, "records_drawn": self.records_drawn, "draws": self.draws,
                "rng": encode_rng(self._gen.get_state())}

    def load_state_dict(self, state: dict) -> None:
        if state.get("sampling") != SAMPLING:
            raise GanforgeError("this checkpoint's real batches were drawn as shuffled fixed-size batches (a private "
                                "run of an earlier ganforge), and this recipe now draws the Poisson sample its privacy "
                                "accountant counts: the run cannot continue under the other sampling; start a new "
                                "run, or export this one as it is")
        self._gen.set_state(decode_rng(state["rng"]))
        self.records_drawn, self.draws = int(state["records_drawn"]), int(state["draws"])
