"""The memory a command may plan to hold: the machine's free memory, or less where the address space is
capped (``ulimit -v``), checked before any work."""

from __future__ import annotations

import types

import pytest

from ganforge import memory
from ganforge.errors import GanforgeError


def _vm_size() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


@pytest.mark.skipif(memory.resource is None, reason="no resource module (not POSIX)")
def test_an_address_space_limit_caps_the_memory_available(monkeypatch):
    # probe F: under `ulimit -v 1800000` the machine's 23 GB free let --n 28933511 through, and eval died
    # with a DefaultCPUAllocator traceback; the limit, less what the process already spans, is what it can have
    limit = _vm_size() + memory.ADDRESS_SPACE_RESERVE + 300 * 2 ** 20
    fake = types.SimpleNamespace(RLIMIT_AS=0, RLIM_INFINITY=-1, getrlimit=lambda _: (limit, limit))
    monkeypatch.setattr(memory, "resource", fake)
    monkeypatch.setattr(memory, "_free_memory", lambda: 10 ** 12)
    available = memory.available_memory()
    assert 250 * 2 ** 20 < available <= 300 * 2 ** 20
    with pytest.raises(GanforgeError, match=r"the most this machine takes now is --n \d+ "):
        memory.check_memory(10 ** 9, 1000)


def test_without_a_limit_the_free_memory_is_available(monkeypatch):
    fake = types.SimpleNamespace(RLIMIT_AS=0, RLIM_INFINITY=-1, getrlimit=lambda _: (-1, -1))
    monkeypatch.setattr(memory, "resource", fake)
    monkeypatch.setattr(memory, "_free_memory", lambda: 12345)
    assert memory.available_memory() == 12345
