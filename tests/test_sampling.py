"""sampling.py's conversions between uint8 images and a generator's output range."""

import torch

from ganforge.sampling import from_uint8, to_uint8


def test_from_uint8_is_to_uint8s_inverse_in_each_range():
    x = torch.arange(256, dtype=torch.uint8).reshape(4, 1, 8, 8)
    for output_range in ((-1.0, 1.0), (0.0, 1.0)):
        scaled = from_uint8(x, output_range)
        assert scaled.dtype == torch.float32
        assert scaled.min().item() == output_range[0] and abs(scaled.max().item() - output_range[1]) < 1e-6
        assert torch.equal(to_uint8(scaled, output_range), x)


def test_from_uint8_leaves_its_input_as_it_was():
    x = torch.full((2, 3), 255.0)  # a float tensor: .float() is the tensor itself, so an in-place scale would change it
    from_uint8(x, (-1.0, 1.0))
    assert torch.equal(x, torch.full((2, 3), 255.0))
