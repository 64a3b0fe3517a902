"""``--device`` of ``sample``, ``eval`` and ``figures``: checked before any work, in one line.

torch's own errors for a device it does not know, or a CUDA device on a machine without
one, are tracebacks from deep inside ``.to(device)``.
"""

from __future__ import annotations

import torch

from ganforge.errors import GanforgeError


def device_option(name: str | None) -> torch.device:
    """The device ``--device`` names (default cpu), or a one-line error."""
    if name is None:
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise GanforgeError(f"--device '{name}' is not a device; use cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GanforgeError(f"--device is '{name}' but no CUDA GPU is available; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise GanforgeError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                                f"numbered from 0; pick one of those")
    elif device.type != "cpu":
        raise GanforgeError(f"--device '{name}' is not supported here; use cpu or cuda")
    return device
