"""Where training samples come from: shuffled real minibatches and generator noise.

Both keep their own ``torch.Generator`` so that their streams do not depend on
anything else drawing random numbers, and both can save and restore their exact
position, which is what makes resume continue the same run.
"""

from __future__ import annotations

import torch

from ganforge.data.store import stored
from ganforge.sampling import sample_noise
from ganforge.training.rng import decode_rng, encode_rng
from ganforge.training.shuffled import ShuffledBatches
from ganforge.training.stream import StreamedBatches


def real_batches(x: torch.Tensor, y: torch.Tensor | None, batch_size: int, seed: int, device: torch.device,
                 output_range: tuple[float, float] | None, **kwargs) -> ShuffledBatches:
    """The real minibatches of ``x``: a :class:`RealBatches` on the device, or, when ``x`` is a store's
    images (``store:PATH``, ``folder:PATH``), never moved whole, a :class:`StreamedBatches` handing out
    the same batches through a DataLoader. Every recipe calls this, so every recipe streams a store
    without knowing it. (``workers`` applies to a store only.)"""
    files = stored(x)
    if files is not None:
        return StreamedBatches(x, y, batch_size, seed, device, output_range, files=files, **kwargs)
    kwargs.pop("workers", None)
    return RealBatches(x, y, batch_size, seed, device, output_range, **kwargs)


class RealBatches(ShuffledBatches):
    """Shuffled minibatches of a dataset held on the training device.

    The data are moved to the device once, as stored (uint8 images stay uint8), and
    scaled per batch to the generator's output range, so nothing per batch crosses
    from the host. An epoch is one pass over a fresh permutation; the last partial
    batch of each epoch is dropped so every step sees ``batch_size`` samples.

    Under torchrun ``batch_size`` is the global batch: every process draws the same
    permutation and keeps its ``1/world_size`` share of each batch, so together they
    see exactly the batches one process would (see :mod:`ganforge.training.distributed`).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, batch_size: int, seed: int,
                 device: torch.device, output_range: tuple[float, float] | None, *, rank: int = 0,
                 world_size: int = 1, channels_last: bool = False):
        self.x = x.to(device)
        self.y = y.to(device) if y is not None else None
        self._static: torch.Tensor | None = None  # the device-side position, once static (see to_static)
        super().__init__(len(x), batch_size, seed, device, output_range, rank=rank, world_size=world_size,
                         channels_last=channels_last)

    def _shuffle(self) -> None:
        perm = torch.randperm(len(self.x), generator=self._gen).to(self.device)
        if self._static is None:
            self._perm = perm
            return
        self._perm.copy_(perm)  # in place: a captured graph reads this buffer
        self._static.fill_(self.position)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        self._new_epoch_if_due()
        if self._static is None:
            start = self.position * self.batch_size
            idx = self._perm[start:start + self.batch_size][self.share]
        else:  # the same indices, from the device-side position, so a graph replay reads the next batch
            idx = self._perm[self._window + self._static * self.batch_size]
            self._static.add_(1)
        return self._drawn(self.x[idx]), (self.y[idx] if self.y is not None else None)

    # The graph-safe form (engine/graphs.py). A captured step cannot run the host code above, so
    # the position also lives on the device and advances inside the graph; the host keeps its copy
    # in step (skip) and starts each epoch between replays (room).
    def to_static(self) -> None:
        """Index batches from a device-side position from now on (the same batches as before)."""
        if self._static is None:
            self._window = torch.arange(self.batch_size, device=self.device)[self.share]
            self._static = torch.tensor(self.position, device=self.device)

    def room(self) -> int:
        """Batches left in this epoch, after starting a new one if this one is used up."""
        self._new_epoch_if_due()
        return self.batches_per_epoch - self.position

    def host_state(self) -> tuple[int, int, int]:
        return self.epoch, self.position, self.draws

    def set_host_state(self, state: tuple[int, int, int]) -> None:
        self.epoch, self.position, self.draws = state

    def skip(self, n: int) -> None:
        """The host's account of ``n`` batches a graph replay drew on the device."""
        self.position += n
        self.draws += n


class Noise:
    """The generator's input: z ~ U[-sqrt(3), sqrt(3)]^d (unit variance, as the 2014 code) or N(0, I).

    Under torchrun each process asks for its share ``n`` of the global batch; the stream
    draws the whole global batch and hands back this rank's slice, so the processes use
    different z while the stream (and its checkpointed state) stays the same on every rank.
    """

    def __init__(self, z_dim: int, dist: str, device: torch.device, seed: int, *, rank: int = 0,
                 world_size: int = 1):
        self.z_dim, self.dist, self.device = z_dim, dist, device
        self.rank, self.world_size = rank, world_size
        self._gen = torch.Generator(device=device).manual_seed(seed)

    def _mine(self, t: torch.Tensor, n: int) -> torch.Tensor:
        return t[self.rank * n:(self.rank + 1) * n] if self.world_size > 1 else t

    def __call__(self, n: int) -> torch.Tensor:
        return self._mine(sample_noise(n * self.world_size, self.z_dim, self.dist, self.device, self._gen), n)

    def uniform(self, n: int) -> torch.Tensor:
        """U[0, 1) draws (e.g. the gradient penalty's interpolation weights), shared out like z."""
        return self._mine(torch.rand(n * self.world_size, device=self.device, generator=self._gen), n)

    def labels(self, n: int, num_classes: int) -> torch.Tensor:
        """Class labels for generated samples, drawn from the same stream (and shared out the same way)."""
        y = torch.randint(0, num_classes, (n * self.world_size,), device=self.device, generator=self._gen)
        return self._mine(y, n)

    def reseed(self, seed: int) -> None:
        """Start the stream afresh from ``seed`` (after a divergence rollback)."""
        self._gen.manual_seed(seed)

    @property
    def generator(self) -> torch.Generator:
        """The stream behind z (fake class labels are drawn from it too)."""
        return self._gen

    # The graph-safe form (engine/graphs.py): z is drawn on the device from a generator that a
    # CUDA graph registers, so each replay draws the next numbers and the state stays exact.
    draws = 0

    def to_static(self) -> None:
        """Nothing to move: the generator already lives on the training device."""

    def room(self) -> int:
        return 2**62  # no epochs

    def host_state(self) -> tuple:
        return ()

    def set_host_state(self, state: tuple) -> None:
        """No host-side position."""

    def skip(self, n: int) -> None:
        """No host-side position."""

    def graph_generators(self) -> list[torch.Generator]:
        return [self._gen] if self._gen.device.type == "cuda" else []

    def state_dict(self) -> dict:
        return {"rng": encode_rng(self._gen.get_state())}

    def load_state_dict(self, state: dict) -> None:
        self._gen.set_state(decode_rng(state["rng"]))
