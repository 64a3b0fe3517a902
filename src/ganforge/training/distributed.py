"""Data-parallel training with PyTorch DDP, launched by ``torchrun``.

``torchrun --nproc_per_node N -m ganforge train PRESET ...`` starts N copies of the
ordinary command; each finds its rank in the environment torchrun sets
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) and joins the process group here.

The semantics are those of one process with the same *global* batch:

- ``train.batch_size`` is the global batch; each of the N processes takes its
  contiguous 1/N share. Every process draws the same global permutation of the
  data and the same global noise, and keeps its slice, so the data and noise
  streams (and their checkpointed state) are identical on every rank.
- The network being updated is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`,
  which averages its gradients over the processes during backward: the mean of
  the per-process mean losses is the global mean loss, so learning rates mean what
  they mean on one process (no scaling rule to apply).
- Dropout and other draws from the global RNG are seeded ``seed + rank``, so the
  processes do not repeat each other's dropout masks.
- Rank 0 alone writes the run directory (config, stats, samples, checkpoints);
  statistics are averaged over the processes when they are logged.

Batch norm sees each process's share of the batch unless ``train.sync_batchnorm``
converts it to SyncBatchNorm (CUDA only).
"""

from __future__ import annotations

import datetime
import gc
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ganforge.errors import ConfigError, GanforgeError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    # -- collectives: each is the identity on one process ------------------------------------
    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.distributed:
            return [obj]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """The average over processes of each statistic (every rank logs the same keys)."""
        if not self.distributed or not values:
            return values
        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64,
                         device=_collective_device())
        dist.all_reduce(t)
        return {k: float(v) / self.size for k, v in zip(keys, t.tolist())}

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on any (e.g. a stop signal seen by one process)."""
        if not self.distributed:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=_collective_device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)


SINGLE = World()


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def setup(device_pref: str = "auto") -> World:
    """Join the process group if torchrun started us; otherwise the single-process world."""
    if not launched_by_torchrun():
        return SINGLE
    rank, size, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    if size == 1:
        return World(0, 1, 0)
    if dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), local)
    use_cuda = torch.cuda.is_available() and device_pref in ("auto", "cuda") or device_pref.startswith("cuda")
    if use_cuda:
        if not torch.cuda.is_available():
            raise ConfigError("train.device asks for CUDA under torchrun but no GPU is available; "
                              "use train.device=cpu (gloo backend)")
        torch.cuda.set_device(local)
    backend = "nccl" if use_cuda else "gloo"
    try:
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    except Exception as e:  # noqa: BLE001 - rendezvous failures surface here with long messages
        raise GanforgeError(f"could not join the torchrun process group ({backend}, rank {rank} of {size}): "
                            f"{str(e).splitlines()[0]}; check MASTER_ADDR/MASTER_PORT and that every node "
                            f"runs the same command") from None
    return World(rank, size, local)


def teardown(world: World) -> None:
    """After a normal end: leave the group together. A rank that tears down while another still
    talks to it (rank 0 writes the last samples and checkpoint after the others are done) aborts
    gloo's threads. (After an error nothing is torn down: the other ranks may be inside a
    collective, and torchrun stops them when this process exits.)"""
    if world.distributed and dist.is_initialized():
        # DDP wrappers keep the group alive; one left for the garbage collector (a reference cycle
        # through the trainer) would destroy gloo's threads at interpreter exit and abort the process.
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def device_for(world: World, device: torch.device) -> torch.device:
    """Each process trains on the GPU of its LOCAL_RANK."""
    if world.distributed and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device


def local_batch(world: World, global_batch: int) -> int:
    if global_batch % world.size:
        raise ConfigError(f"train.batch_size={global_batch} (the global batch) does not divide among "
                          f"{world.size} processes; set it to a multiple of {world.size}")
    return global_batch // world.size


def sync_batchnorm(nets: dict[str, nn.Module], device: torch.device) -> None:
    if device.type != "cuda":
        raise ConfigError("train.sync_batchnorm needs CUDA GPUs (PyTorch's SyncBatchNorm has no CPU "
                          "implementation); set train.sync_batchnorm=false")
    for name in nets:
        nets[name] = nn.SyncBatchNorm.convert_sync_batchnorm(nets[name])


def wrap(module: nn.Module, device: torch.device, find_unused: bool = False) -> nn.Module:
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused)
