"""Where training samples come from: shuffled real minibatches and generator noise.

Both keep their own ``torch.Generator`` so that their streams do not depend on
anything else drawing random numbers, and both can save and restore their exact
position, which is what makes resume continue the same run.
"""

from __future__ import annotations

import torch

from ganforge.data.store import stored
from ganforge.errors import ConfigError
from ganforge.sampling import sample_noise
from ganforge.training.rng import decode_rng, encode_rng
from ganforge.training.speed import to_channels_last
from ganforge.training.stream import StreamedBatches


class RealBatches:
    """Shuffled minibatches of a dataset held on the training device.

    The data are moved to the device once, as stored (uint8 images stay uint8), and
    scaled per batch to the generator's output range, so nothing per batch crosses
    from the host. An epoch is one pass over a fresh permutation; the last partial
    batch of each epoch is dropped so every step sees ``batch_size`` samples.

    Under torchrun ``batch_size`` is the global batch: every process draws the same
    permutation and keeps its ``1/world_size`` share of each batch, so together they
    see exactly the batches one process would (see :mod:`ganforge.training.distributed`).

    Images of a store (``store:PATH``, ``folder:PATH``) are never moved whole: for those
    ``RealBatches(...)`` is a :class:`~ganforge.training.stream.StreamedBatches`, the same batches
    read through a DataLoader, so every recipe streams a store without knowing it.
    """

    def __new__(cls, x: torch.Tensor, *args, **kwargs):
        files = stored(x)
        if files is not None:
            return StreamedBatches(x, *args, files=files, **kwargs)
        return super().__new__(cls)

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, batch_size: int, seed: int,
                 device: torch.device, output_range: tuple[float, float] | None, *, rank: int = 0,
                 world_size: int = 1, channels_last: bool = False):
        if batch_size > len(x):
            raise ConfigError(f"train.batch_size={batch_size} is larger than the dataset ({len(x)} samples); "
                              f"set train.batch_size to at most {len(x)}")
        self.x = x.to(device)
        self.y = y.to(device) if y is not None else None
        self.batch_size = batch_size
        self.share = slice(rank * batch_size // world_size, (rank + 1) * batch_size // world_size)
        self.channels_last = channels_last
        self.device = device
        self.output_range = output_range
        self.batches_per_epoch = len(x) // batch_size
        self._gen = torch.Generator().manual_seed(seed)
        self.epoch = 0
        self.position = 0  # batches already drawn in this epoch
        self.draws = 0  # batches drawn in all (how engine/graphs.py counts a phase's draws)
        self._static: torch.Tensor | None = None  # the device-side position, once static (see to_static)
        self._epoch_state = self._gen.get_state()
        self._perm = self._permutation()

    def _permutation(self) -> torch.Tensor:
        perm = torch.randperm(len(self.x), generator=self._gen).to(self.device)
        if self._static is None:
            return perm
        self._perm.copy_(perm)  # in place: a captured graph reads this buffer
        self._static.fill_(self.position)
        return self._perm

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 images -> floats in the generator's output range; points pass through."""
        if x.dtype != torch.uint8:
            return x.float()
        lo, hi = self.output_range or (0.0, 1.0)
        return x.float().mul_((hi - lo) / 255.0).add_(lo)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        self._new_epoch_if_due()
        if self._static is None:
            start = self.position * self.batch_size
            idx = self._perm[start:start + self.batch_size][self.share]
        else:  # the same indices, from the device-side position, so a graph replay reads the next batch
            idx = self._perm[self._window + self._static * self.batch_size]
            self._static.add_(1)
        self.position += 1
        self.draws += 1
        x = self.scale(self.x[idx])
        if self.channels_last:
            x = to_channels_last(x)
        return x, (self.y[idx] if self.y is not None else None)

    def _new_epoch_if_due(self) -> None:
        if self.position == self.batches_per_epoch:
            self.epoch += 1
            self.position = 0
            self._epoch_state = self._gen.get_state()
            self._perm = self._permutation()

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

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.position / self.batches_per_epoch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "epoch_rng": encode_rng(self._epoch_state)}

    def load_state_dict(self, state: dict) -> None:
        self._gen.set_state(decode_rng(state["epoch_rng"]))
        self._epoch_state = self._gen.get_state()
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._perm = self._permutation()


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
