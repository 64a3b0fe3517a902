"""The CycleGAN image pool: pass-through while filling, then a 0.5 chance of swapping, and exact resume."""

import torch

from ganforge.training.image_pool import ImagePool


def numbered(start, n):
    return torch.arange(start, start + n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()


def test_fills_first_then_swaps_about_half():
    pool = ImagePool(10, 0.5, seed=0)
    first = numbered(0, 10)
    assert torch.equal(pool.query(first), first)  # filling: every fake passes through and is kept
    swapped = 0
    for k in range(200):
        new = numbered(100 + 10 * k, 10)
        out = pool.query(new)
        swapped += (out[:, 0, 0, 0] != new[:, 0, 0, 0]).sum().item()
        for o, n in zip(out[:, 0, 0, 0].tolist(), new[:, 0, 0, 0].tolist()):
            assert o <= n  # passed through, or swapped for an older fake (earlier in this batch or before)
    assert 0.45 < swapped / 2000 < 0.55, swapped


def test_swap_zero_and_size_zero_pass_everything_through():
    assert torch.equal(ImagePool(0, 0.5, seed=0).query(numbered(0, 5)), numbered(0, 5))
    pool = ImagePool(3, 0.0, seed=0)
    pool.query(numbered(0, 3))
    assert torch.equal(pool.query(numbered(10, 5)), numbered(10, 5))


def test_resume_from_state_tensors_makes_the_same_draws():
    a = ImagePool(6, 0.5, seed=3)
    for k in range(3):
        a.query(numbered(10 * k, 4))
    b = ImagePool(6, 0.5, seed=99)
    b.load_state_tensors({k: v.clone() for k, v in a.state_tensors().items()})
    for k in range(3, 10):
        assert torch.equal(a.query(numbered(10 * k, 4)), b.query(numbered(10 * k, 4)))
