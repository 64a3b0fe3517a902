"""How much memory a command may plan to hold, checked before any work: one line naming the need, the
largest ``--n`` that fits and the fix, rather than an allocation that fails minutes in (or takes the
machine down). Used by ``audit``, ``downstream`` and the table commands; the disk's free space is
:func:`ganforge.outputs.check_space`'s.
"""

from __future__ import annotations

import os
from pathlib import Path

from ganforge.errors import GanforgeError


def human_bytes(nbytes: float) -> str:
    """``35.7 TB``: a size for a message."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes < 1024 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TB"


# The share of the memory available now that one command may plan to hold: the rest is for the process
# itself (torch, the networks, the real data) and for everything else running on the machine.
MEMORY_SHARE = 0.5


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (Linux ``MemAvailable``), or None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_memory(n: int, bytes_per_sample: int, *, flag: str = "--n", available: int | None = None) -> None:
    """Refuse ``n`` samples before any work when they would hold more than :data:`MEMORY_SHARE` of the memory
    available, naming the need, the largest ``n`` that fits and the fix (``available`` overrides the
    measured figure, for tests). Unknown available memory: no check."""
    available = available_memory() if available is None else available
    if available is None:
        return
    budget = int(available * MEMORY_SHARE)
    if n * bytes_per_sample > budget:
        most = max(budget // max(bytes_per_sample, 1), 0)
        raise GanforgeError(f"{flag} {n} needs about {human_bytes(n * bytes_per_sample)} of memory and "
                            f"{human_bytes(available)} is available; the most this machine takes now is {flag} {most} "
                            f"(half of what is free): ask for fewer")
