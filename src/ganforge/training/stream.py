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
from ganforge.errors import ConfigError
from ganforge.training.rng import decode_rng, encode_rng
from ganforge.training.speed import to_channels_last

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
            if position == per_epoch:
                perm, position = torch.randperm(self.n, generator=gen), 0
            start = position * self.batch_size
            yield perm[start:start + self.batch_size][self.share].tolist()
            position += 1


class StreamedBatches:
    """Shuffled minibatches of a store, read by DataLoader workers and pinned on CUDA."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, batch_size: int, seed: int, device: torch.device,
                 output_range: tuple[float, float] | None, *, files: StoreFiles, rank: int = 0,
                 world_size: int = 1, channels_last: bool = False, workers: int = WORKERS):
        if batch_size > len(x):
            raise ConfigError(f"train.batch_size={batch_size} is larger than the dataset ({len(x)} samples); "
                              f"set train.batch_size to at most {len(x)}")
        self.x, self.files = x, files  # x: the store's mapped images (the monitor picks its fixed batch from it)
        self.batch_size, self.device, self.output_range = batch_size, device, output_range
        self.channels_last, self.workers = channels_last, workers
        self.share = slice(rank * batch_size // world_size, (rank + 1) * batch_size // world_size)
        self.batches_per_epoch = len(x) // batch_size
        self._gen = torch.Generator().manual_seed(seed)
        self.epoch = self.position = self.draws = 0
        self._epoch_state = self._gen.get_state()
        torch.randperm(len(x), generator=self._gen)  # the twin: the generator advances as the sampler's does
        self._batches = None

    def _start(self) -> None:
        """A loader reading from the current position (its workers replace any earlier ones)."""
        order = _Order(len(self.x), self.batch_size, self.share, self._epoch_state, self.position)
        kw = {"num_workers": self.workers, "collate_fn": _as_is, "pin_memory": self.device.type == "cuda"}
        if self.workers:
            kw.update(prefetch_factor=PREFETCH, persistent_workers=False)
        self._batches = iter(DataLoader(_Rows(self.files), batch_sampler=order, **kw))

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 images -> floats in the generator's output range, as RealBatches.scale."""
        lo, hi = self.output_range or (0.0, 1.0)
        return x.float().mul_((hi - lo) / 255.0).add_(lo)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._batches is None:
            self._start()
        if self.position == self.batches_per_epoch:
            self.epoch += 1
            self.position = 0
            self._epoch_state = self._gen.get_state()
            torch.randperm(len(self.x), generator=self._gen)
        x, y = next(self._batches)
        self.position += 1
        self.draws += 1
        x = self.scale(x.to(self.device, non_blocking=True))
        if self.channels_last:
            x = to_channels_last(x)
        return x, (y.to(self.device, non_blocking=True) if y is not None else None)

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.position / self.batches_per_epoch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "epoch_rng": encode_rng(self._epoch_state)}

    def load_state_dict(self, state: dict) -> None:
        self._gen.set_state(decode_rng(state["epoch_rng"]))
        self._epoch_state = self._gen.get_state()
        torch.randperm(len(self.x), generator=self._gen)
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._batches = None  # restart the loader (and its workers) at the restored position
