"""PoissonBatches: each record in a draw independently with probability q, at most once; a resumed stream draws
the same batches; a checkpoint of a shuffled stream is refused rather than continued under another sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.data import load_dataset
from ganforge.data.store import stored
from ganforge.data.store_build import BuildOptions, build_store
from ganforge.errors import GanforgeError
from ganforge.training.poisson import PoissonBatches

N = 400


def _stream(q: float, seed: int = 0) -> PoissonBatches:
    x = torch.arange(N, dtype=torch.uint8).repeat_interleave(4).reshape(N, 1, 2, 2)  # record i's pixels hold i % 256
    y = torch.arange(N)
    return PoissonBatches(x, y, q, seed, torch.device("cpu"), (-1.0, 1.0))


def test_each_record_is_in_a_fraction_q_of_the_draws_at_most_once_each():
    """3000 draws at q = 0.05: the size is Binomial(400, 0.05) (mean 20, variance 19), every record's share of
    the draws is about q, no draw holds a record twice, labels stay with their images, pixels are scaled."""
    stream, q, draws = _stream(0.05), 0.05, 3000
    counts, sizes = np.zeros(N), []
    for _ in range(draws):
        x, y = stream.next()
        assert len(torch.unique(y)) == len(y)  # distinct
        assert torch.equal(y, y.sort().values)  # ascending: a subset, read front to back
        expected = (y % 256).float() / 127.5 - 1  # uint8 i % 256 in [-1, 1]
        assert torch.allclose(x[:, 0, 0, 0], expected, atol=1e-6)
        counts[y.numpy()] += 1
        sizes.append(len(y))
    sizes = np.array(sizes)
    assert abs(sizes.mean() - N * q) < 0.5 and abs(sizes.var() - N * q * (1 - q)) < 3, (sizes.mean(), sizes.var())
    share = counts / draws
    assert abs(share.mean() - q) < 0.002 and share.min() > q / 2 and share.max() < 2 * q, (share.min(), share.max())
    assert stream.draws == draws and stream.epochs_done == pytest.approx(sizes.sum() / N)
    assert stream.epoch == int(sizes.sum() / N)


def test_an_empty_draw_happens_at_a_small_rate():
    """At q = 1/400 a draw is empty with probability (1 - q)^400, about 0.37: the stream hands back no image."""
    stream = _stream(1 / N)
    empty = sum(len(stream.next()[1]) == 0 for _ in range(500))
    assert 130 < empty < 240, empty


def test_a_restored_stream_draws_the_same_batches_and_a_shuffled_state_is_refused():
    a = _stream(0.1, seed=3)
    for _ in range(7):
        a.next()
    state = a.state_dict()
    b = _stream(0.1, seed=99)
    b.load_state_dict(state)
    assert b.records_drawn == a.records_drawn and b.draws == 7
    for _ in range(5):
        assert torch.equal(a.next()[1], b.next()[1])
    with pytest.raises(GanforgeError, match="shuffled fixed-size batches.*Poisson sample.*start a new run"):
        b.load_state_dict({"epoch": 0, "position": 3, "epoch_rng": state["rng"]})


def test_seeds_give_different_draws_and_a_rate_outside_0_1_is_an_error():
    assert not torch.equal(_stream(0.1, seed=1).next()[1], _stream(0.1, seed=2).next()[1])
    with pytest.raises(ValueError, match="sample_rate"):
        _stream(1.5)


def test_a_store_s_draws_are_read_by_the_store_and_equal_the_in_memory_ones(tmp_path, monkeypatch):
    """A store's rows are read by StoreFiles.rows (not gathered through its memory map, which held gigabytes of a
    big store resident), and the same seed draws the same images and labels as the images held in memory."""
    x = np.repeat(np.arange(40, dtype=np.uint8)[:, None, None, None], 16, 1).reshape(40, 1, 4, 4)
    np.savez(tmp_path / "idx.npz", x=x, y=np.arange(40))
    build_store(tmp_path / "idx.npz", tmp_path / "store", BuildOptions(dedupe=False))
    ds = load_dataset(f"store:{tmp_path / 'store'}")
    files = stored(ds.x)
    assert files is not None
    reads = []
    rows = files.rows
    monkeypatch.setattr(files, "rows", lambda idx: (reads.append(len(idx)), rows(idx))[1])
    on_disk = PoissonBatches(ds.x, ds.y, 0.2, 5, torch.device("cpu"), (-1.0, 1.0))
    in_memory = PoissonBatches(ds.x.clone(), torch.as_tensor(ds.y), 0.2, 5, torch.device("cpu"), (-1.0, 1.0))
    for _ in range(20):
        (xa, ya), (xb, yb) = on_disk.next(), in_memory.next()
        assert torch.equal(xa, xb) and torch.equal(torch.as_tensor(ya), yb)
        assert torch.allclose(xa[:, 0, 0, 0], ya.float() / 127.5 - 1, atol=1e-6)  # image i holds i: the rows asked for
    assert len(reads) == 20
