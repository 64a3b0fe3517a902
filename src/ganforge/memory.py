"""How much memory a command may plan to hold, checked before any work: one line naming the need, the
largest ``--n`` that fits and the fix, rather than an allocation that fails minutes in (or takes the
machine down). Used by ``audit``, ``downstream`` and the table commands; the disk's free space is
:func:`ganforge.outputs.check_space`'s.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import resource  # POSIX only
except ImportError:  # pragma: no cover - Windows
    resource = None

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
    """Bytes of memory available to a new allocation now (Linux ``MemAvailable``, or less where the process's
    address space is capped, ``ulimit -v``: the machine's free memory cannot be had past it), or None if
    unknown."""
    free = _free_memory()
    room = _address_space_left()
    return room if free is None else free if room is None else min(free, room)


def _free_memory() -> int | None:
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


# Address space a command takes after its check without holding samples: a judge loaded, and the
# threads' stacks and malloc arenas, reserved rather than used (eval of digits: about 250 MB after the check).
ADDRESS_SPACE_RESERVE = 256 * 1024 * 1024


def _address_space_left() -> int | None:
    """Bytes the address-space limit (RLIMIT_AS) leaves above the process's size now, less
    :data:`ADDRESS_SPACE_RESERVE`; None without a limit."""
    limit = resource.getrlimit(resource.RLIMIT_AS)[0] if resource is not None else -1
    if limit < 0 or limit == getattr(resource, "RLIM_INFINITY", -1):
        return None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(limit - int(line.split()[1]) * 1024 - ADDRESS_SPACE_RESERVE, 0)
    except (OSError, ValueError, IndexError):
        pass
    return limit


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
