"""Random (LR, HR) crops of images on the device: the checkpointed stream of the super-resolution recipes.

Its own module in ``training/`` (not inside ``recipes/superres.py``) because it is a stream, as
:class:`~ganforge.training.batches.RealBatches` is: a position in a shuffled order plus a second
generator for the crop positions and flips, both saved, so a resume draws the same crops.
"""

from __future__ import annotations

import torch

from ganforge.data.superres import downsample
from ganforge.training import seeds
from ganforge.training.rng import decode_rng, encode_rng

Tensor = torch.Tensor


class CropBatches:
    """Shuffled minibatches of (LR, HR) crops, floats in [0, 1], from uint8 images on the device.

    Order: a fresh permutation per epoch (last partial batch dropped), like
    :class:`ganforge.training.batches.RealBatches`; crop positions come from a second generator.
    Both generators' states are checkpointed, so resume draws the same crops. Under torchrun
    each process keeps its share of the global batch.
    """

    def __init__(self, hr: Tensor, lr: Tensor | None, batch_size: int, crop: int, scale: int, seed: int,
                 device: torch.device, *, rank: int = 0, world_size: int = 1, augment: bool = False):
        self.hr, self.lr = hr.to(device), (lr.to(device) if lr is not None else None)
        self.augment = augment
        self.batch_size, self.crop, self.scale, self.device = batch_size, crop, scale, device
        self.share = slice(rank * batch_size // world_size, (rank + 1) * batch_size // world_size)
        # Fewer images than a batch (a few large photos): an epoch visits each image this many times, in
        # that many concatenated permutations, each visit with its own crop.
        self.repeats = -(-batch_size // len(hr))
        self.batches_per_epoch = len(hr) * self.repeats // batch_size
        self._order = torch.Generator().manual_seed(seed)
        self._crops = torch.Generator().manual_seed(seeds.stream(seed, seeds.CROPS))
        self.epoch = self.position = 0
        self._epoch_state = self._order.get_state()
        self._perm = self._permutation()

    def _permutation(self) -> Tensor:
        return torch.cat([torch.randperm(len(self.hr), generator=self._order) for _ in range(self.repeats)])

    def next(self) -> tuple[Tensor, Tensor]:
        if self.position >= self.batches_per_epoch:  # past it too: a resume on data that shrank (training/shuffled.py)
            self.epoch, self.position = self.epoch + 1, 0
            self._epoch_state = self._order.get_state()
            self._perm = self._permutation()
        start = self.position * self.batch_size
        idx = self._perm[start:start + self.batch_size]
        self.position += 1
        s, c = self.scale, self.crop // self.scale  # positions on the LR grid, so real pairs stay aligned
        h, w = self.hr.shape[-2] // s, self.hr.shape[-1] // s
        tops = torch.randint(0, h - c + 1, (len(idx),), generator=self._crops)
        lefts = torch.randint(0, w - c + 1, (len(idx),), generator=self._crops)
        keep = range(len(idx))[self.share]
        hr = torch.stack([self.hr[idx[i], :, tops[i] * s:(tops[i] + c) * s, lefts[i] * s:(lefts[i] + c) * s]
                          for i in keep]).float().div_(255)
        if self.lr is None:
            if self.augment:  # on HR before shrinking: the same as transforming both
                hr = dihedral(hr, torch.randint(0, 8, (len(idx),), generator=self._crops)[self.share])
            return downsample(hr, s), hr
        lr = torch.stack([self.lr[idx[i], :, tops[i]:tops[i] + c, lefts[i]:lefts[i] + c] for i in keep])
        lr = lr.float().div_(255)
        if self.augment:  # the same flip/transpose of each pair's LR and HR, so pairs stay aligned
            ops = torch.randint(0, 8, (len(idx),), generator=self._crops)[self.share]
            lr, hr = dihedral(lr, ops), dihedral(hr, ops)
        return lr, hr

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.position / self.batches_per_epoch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "epoch_rng": encode_rng(self._epoch_state),
                "crop_rng": encode_rng(self._crops.get_state())}

    def load_state_dict(self, state: dict) -> None:
        self._order.set_state(decode_rng(state["epoch_rng"]))
        self._epoch_state = self._order.get_state()
        self._perm = self._permutation()
        self._crops.set_state(decode_rng(state["crop_rng"]))
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def dihedral(x: Tensor, ops: Tensor) -> Tensor:
    """Each image of (N, C, H, W) square crops under one of the 8 flips and quarter turns (ops in 0..7):
    bit 0 flips left-right, bit 1 flips top-bottom, bit 2 transposes (BasicSR's hflip/vflip/rot90)."""
    out = []
    for img, op in zip(x, ops.tolist()):
        img = img.flip(-1) if op & 1 else img
        img = img.flip(-2) if op & 2 else img
        out.append(img.transpose(-1, -2) if op & 4 else img)
    return torch.stack(out)
