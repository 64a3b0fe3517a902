"""The seed arithmetic (training/seeds.py): every process and every rollback retry draws its own streams."""

from __future__ import annotations

import pytest

from ganforge.training import seeds


def global_seed(seed: int, rank: int, retry: int) -> int:
    """What the engine seeds process ``rank``'s global RNG with: build.py at retry 0, rollback.py after."""
    return seeds.for_rank(seed, rank) if retry == 0 else seeds.for_retry_rank(seed, retry, rank)


@pytest.mark.parametrize("seed", [0, 7, 2**63 - 1])
def test_every_rank_and_retry_has_its_own_seed(seed):
    drawn = {(r, k): global_seed(seed, r, k) for r in range(64) for k in range(16)}
    assert len(set(drawn.values())) == len(drawn)
    # RETRY was RANK: retry k of process 0 then drew process k's first streams
    assert all(global_seed(seed, 0, k) != global_seed(seed, k, 0) for k in range(1, 16))


def test_a_retry_base_is_no_first_seed_and_its_streams_are_new():
    firsts = {seeds.for_rank(0, r) for r in range(1956)}  # up to RETRY // RANK processes
    bases = {seeds.for_retry(0, k) for k in range(1, 16)}
    assert not firsts & bases
    streams = {seeds.stream(base, offset) for base in (0, *bases) for offset in (seeds.REAL_BATCHES, seeds.NOISE)}
    assert len(streams) == 2 * 16
