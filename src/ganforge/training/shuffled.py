"""The bookkeeping every stream of real minibatches shares: epochs of one permutation each, a position.

:class:`~ganforge.training.batches.RealBatches` (data on the device) and
:class:`~ganforge.training.stream.StreamedBatches` (a store read by DataLoader workers) must hand out
the same batches for the same seed, and save and restore the same position, so that a run resumes
bitwise whichever one it uses. That part is written once, here: the generator and the state it had at
the start of the epoch, the epoch and position counters, the rank's share of a global batch, the
scaling to G's output range and the checkpointed state. A subclass says how an epoch's permutation
is made (:meth:`_shuffle`) and how a batch is read.
"""

from __future__ import annotations

import torch

from ganforge.errors import ConfigError
from ganforge.sampling import from_uint8
from ganforge.training.rng import decode_rng, encode_rng
from ganforge.training.speed import to_channels_last


def scale_batch(x: torch.Tensor, output_range: tuple[float, float] | None) -> torch.Tensor:
    """A real batch as the step takes it: uint8 images -> floats in the generator's output range; points pass
    through. Every real stream (shuffled here, Poisson in training/poisson.py) scales with it."""
    if x.dtype != torch.uint8:
        return x.float()
    return from_uint8(x, output_range or (0.0, 1.0))


class ShuffledBatches:
    """Shuffled minibatches of ``n`` rows: one ``torch.randperm`` per epoch, the last partial batch dropped.

    Under torchrun ``batch_size`` is the global batch: every process draws the same permutation and
    keeps its ``1/world_size`` share (``share``) of each batch.
    """

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device,
                 output_range: tuple[float, float] | None, *, rank: int, world_size: int, channels_last: bool):
        if batch_size > n:
            raise ConfigError(f"train.batch_size={batch_size} is larger than the dataset ({n} samples); "
                              f"set train.batch_size to at most {n}")
        self.batch_size, self.device, self.output_range = batch_size, device, output_range
        self.channels_last = channels_last
        self.share = slice(rank * batch_size // world_size, (rank + 1) * batch_size // world_size)
        self.batches_per_epoch = n // batch_size
        self._gen = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.position = 0  # batches already drawn in this epoch
        self.draws = 0  # batches drawn in all (how engine/graphs.py counts a phase's draws)
        self._epoch_state = self._gen.get_state()
        self._shuffle()

    def _shuffle(self) -> None:
        """Draw this epoch's permutation from ``self._gen`` (a subclass keeps it or only advances the generator)."""
        raise NotImplementedError

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        return scale_batch(x, self.output_range)

    def _new_epoch_if_due(self) -> None:
        # >=, not ==: a run resumed on data that shrank (images removed, a store rebuilt) restores a position
        # past the new, shorter epoch, and its batches would be empty slices (a NaN mean) for ever. Such a
        # position starts a new epoch; with the data unchanged it never exceeds the epoch, so resume stays bitwise.
        if self.position >= self.batches_per_epoch:
            self.epoch += 1
            self.position = 0
            self._epoch_state = self._gen.get_state()
            self._shuffle()

    def _drawn(self, x: torch.Tensor) -> torch.Tensor:
        """Count one batch drawn and put its images in the form the step takes."""
        self.position += 1
        self.draws += 1
        x = self.scale(x)
        return to_channels_last(x) if self.channels_last else x

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.position / self.batches_per_epoch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "epoch_rng": encode_rng(self._epoch_state)}

    def load_state_dict(self, state: dict) -> None:
        self._gen.set_state(decode_rng(state["epoch_rng"]))
        self._epoch_state = self._gen.get_state()
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._shuffle()
