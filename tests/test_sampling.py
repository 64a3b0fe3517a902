"""sampling.py's conversions between uint8 images and a generator's output range."""

import torch

from ganforge.sampling import from_uint8, sample_generator, sample_noise, to_uint8


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


def test_the_first_k_of_n_samples_are_the_samples_of_k_for_either_noise():
    """torch's CPU randn draws fewer than 16 values, or a count not a multiple of 16, another way than whole
    blocks: sample_noise(k) of a normal z was not the start of sample_noise(N) (ring8's z_dim 2: k = 1, 7, 9)."""
    for dist in ("normal", "uniform"):
        for z_dim in (2, 3, 100):
            n = sample_noise(1000, z_dim, dist, "cpu", sample_generator(0, "cpu"))
            for k in (1, 7, 9, 100, 999):
                assert torch.equal(sample_noise(k, z_dim, dist, "cpu", sample_generator(0, "cpu")), n[:k]), (dist, z_dim, k)
