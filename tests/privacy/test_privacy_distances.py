"""Distance to closest record: exact copies are found at distance exactly 0, with their index."""

import torch

from ganforge.privacy.distances import nearest


def test_nearest_finds_exact_copies_at_distance_zero():
    refs = torch.rand(500, 64)
    queries = torch.cat([refs[[7, 300]], torch.rand(3, 64) + 2])
    d, idx = nearest(queries, refs, chunk=2)
    assert d[0] == 0 and d[1] == 0 and list(idx[:2]) == [7, 300] and (d[2:] > 1).all()

