"""The translators' size rule: multiples, the smallest side, width x height in the messages, padding."""

import pytest
import torch

from ganforge.errors import DataError
from ganforge.nets.translator_sizes import pad_to_multiple, size_problem


def test_a_size_is_written_width_x_height_as_pillow_gives_it():
    """17 high and 23 wide was written 17x23 with a nearest valid size of 16x24, the other way round from
    Pillow's size and the upscale messages: a user resizing to it got the sides swapped."""
    msg = size_problem(17, 23, 8, "this net")
    assert msg.startswith("23x17 (width x height) images do not fit this net")
    assert "nearest valid size is 24x16" in msg
    assert size_problem(16, 24, 8, "this net") is None


def test_the_smallest_side_is_part_of_the_rule():
    assert size_problem(8, 16, 4, "it", min_side=8) is None
    msg = size_problem(4, 16, 4, "it", min_side=8)
    assert "multiples of 4 and at least 8" in msg and "nearest valid size is 16x8" in msg
    assert "at least" not in size_problem(4, 6, 4, "it")  # no smallest side beyond the multiple: not named


def test_pad_reaches_the_smallest_side_and_error_refuses_it():
    x = torch.arange(6.0).reshape(1, 1, 2, 3)
    padded, size = pad_to_multiple(x, 4, "pad", "it", min_side=8)
    assert padded.shape == (1, 1, 8, 8) and size == (2, 3)
    assert torch.equal(padded[..., :2, :3], x) and torch.all(padded[..., 7, 7] == x[..., 1, 2])  # edge replicated
    with pytest.raises(DataError, match="at least 8"):
        pad_to_multiple(x, 4, "error", "it", min_side=8)
