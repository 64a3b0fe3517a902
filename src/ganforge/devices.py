"""Turning a device name from the user into a ``torch.device``, or one line saying what is wrong.

torch's own errors for a name it does not know, or a CUDA device on a machine without one, are
tracebacks from deep inside ``.to(device)``; ``train.device`` and the ``--device`` of
``sample``/``eval``/``figures`` are checked here, the same way, before any work starts.
"""

from __future__ import annotations

import torch

from ganforge.errors import GanforgeError


def parse_device(name: str, *, option: str, names: str, no_cuda_fix: str,
                 error: type[GanforgeError] = GanforgeError) -> torch.device:
    """``name`` as a device that exists here. ``option`` names the setting, ``names`` the accepted
    spellings and ``no_cuda_fix`` what to use instead, for the messages."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise error(f"{option} '{name}' is not a device; use {names}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise error(f"{option} is '{name}' but no CUDA GPU is available; use {no_cuda_fix}")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise error(f"{option} {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                        f"numbered from 0; pick one of those")
    return device
