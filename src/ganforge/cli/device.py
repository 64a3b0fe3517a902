"""``--device`` of ``sample``, ``eval`` and ``figures``: checked before any work, in one line
(:mod:`ganforge.devices`); these commands run on the CPU or a CUDA GPU."""

from __future__ import annotations

import torch

from ganforge.devices import parse_device
from ganforge.errors import GanforgeError


def device_option(name: str | None) -> torch.device:
    """The device ``--device`` names (default cpu), or a one-line error."""
    if name is None:
        return torch.device("cpu")
    device = parse_device(name, option="--device", names="cpu, cuda or cuda:N", no_cuda_fix="--device cpu")
    if device.type not in ("cpu", "cuda"):
        raise GanforgeError(f"--device '{name}' is not supported here; use cpu or cuda")
    return device
