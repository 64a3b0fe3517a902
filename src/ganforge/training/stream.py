"""Real minibatches streamed from a store through a torch DataLoader: memory flat whatever the dataset's size.

The order is exactly :class:`~ganforge.training.batches.RealBatches`': one ``torch.randperm`` per epoch
from the stream's own generator, the last partial batch dropped, and under torchrun each rank keeps
its ``1/world_size`` slice of every global batch, so ranks read disjoint rows (a DistributedSampler-like
split that keeps the global batch identical to one process's). The same seed gives the same batches
from a store as from the same images held in memory.

Workers only read rows (``StoreFiles.rows``); the order is decided in the main process, which keeps a
twin of the sampler's generator so the checkpointed position is that of the batches *consumed*, not of
those the workers prefetched. Resuming restarts the loader at that position: bitwise the same batches.
There is no graph-safe form (CUDA graphs need the whole dataset on the device): ``speed.graphs`` runs
such a run eagerly with one warning.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader

from ganforge.data.store import StoreFiles
from ganforge.training.shuffled import ShuffledBatches

# Loader processes: enough to keep a step fed (decoding is done; a worker copies rows), few enough to leave
# cores for the step itself. 0 on a one-core machine (rows are then read in the training process).
WORKERS = min(4, max(0, (os.cpu_count() or 1) - 1))
PREFETCH = 4  # batches each worker reads ahead


class _Rows(torch.utils.data.Dataset):
    """A store's rows for a DataLoader: ``__getitems__`` reads a whole batch with one sorted gather."""

    def __init__(self, files: StoreFiles):
        self.files = files

    def __len__(self) -> int:
        return self.files.shape[0]

    def __getitems__(self, idx: list[int]):
        x, y = self.files.rows(np.asarray(idx, dtype=np.int64))
        return torch.from_numpy(x), (torch.from_numpy(y) if y is not None else None)


def _as_is(batch):
    return batch


class _Order:
    """The index lists from a given (generator state, position) on, for ever: what the loader reads."""

    def __init__(self, n: int, batch_size: int, share: slice, rng_state: torch.Tensor, position: int):
        self.n, self.batch_size, self.share = n, batch_size, share
        self.rng_state, self.position = rng_state, position

    def __iter__(self) -> Iterator[list[int]]:
        gen = torch.Generator()
        gen.set_state(self.rng_state)
        position, per_epoch = self.position, self.n // self.batch_size
        perm = torch.randperm(self.n, generator=gen)
        while True:
            if position >= per_epoch:  # past the end too: data that shrank since the checkpoint (shuffled.py)
                perm, position = torch.randperm(self.n, generator=gen), 0
            start = position * self.batch_size
            yield perm[start:start + self.batch_size][self.share].tolist()
            position += 1


class StreamedBatches(ShuffledBatches):
    """Shuffled minibatches of a store, read by DataLoader workers and pinned on CUDA."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, batch_size: int, seed: int, device: torch.device,
                 output_range: tuple[float, float] | None, *, files: StoreFiles, rank: int = 0,
                 world_size: int = 1, channels_last: bool = False, workers: int = WORKERS):
        self.x, self.files = x, files  # x: the store's mapped images (the monitor picks its fixed batch from it)
        self.workers = workers
        self._loader_seed = seed
        self._batches = None
        super().__init__(len(x), batch_size, seed, device, output_range, rank=rank, world_size=world_size,
                         channels_last=channels_last)

    def _shuffle(self) -> None:
        torch.randperm(len(self.x), generator=self._gen)  # the twin: the generator advances as the sampler's does

    def _start(self) -> None:
        """A loader reading from the current position (its workers replace any earlier ones)."""
        order = _Order(len(self.x), self.batch_size, self.share, self._epoch_state, self.position)
        kw = {"num_workers": self.workers, "collate_fn": _as_is, "pin_memory": self.device.type == "cuda"}
        if self.workers:
            kw.update(prefetch_factor=PREFETCH, persistent_workers=False)
        # A generator of its own: without one, creating the iterator draws its workers' base seed from the
        # global RNG, which augmentation and dropout also draw from. The loader starts at step 0 in a straight
        # run but again at the resumed step after --resume, so that extra draw made resume non-bitwise.
        # Workers only copy rows (the order is decided here), so the seed they get changes no batch.
        loader_gen = torch.Generator().manual_seed(self._loader_seed)
        self._batches = iter(DataLoader(_Rows(self.files), batch_sampler=order, generator=loader_gen, **kw))

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._batches is None:
            self._start()
        self._new_epoch_if_due()
        x, y = next(self._batches)
        return (self._drawn(x.to(self.device, non_blocking=True)),
                y.to(self.device, non_blocking=True) if y is not None else None)

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._batches = None  # restart the loader (and its workers) at the restored position
