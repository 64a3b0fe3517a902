"""sampling.py: conversions between uint8 images and a generator's output range, and samples that a seed fixes
whatever the chunking."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.sampling import collect, from_uint8, generate_chunks, sample_generator, sample_noise, to_uint8, truncate_z


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


class Echo(nn.Module):
    """A 'generator' whose samples are its inputs: z, then the label (points, so nothing is rounded)."""

    output_range = None

    def forward(self, z, y=None):
        return z if y is None else torch.cat([z, y[:, None].float()], 1)


@pytest.mark.parametrize("z_dim,dist,truncation,conditional", [
    (3, "normal", None, False), (2, "normal", 0.5, False), (8, "uniform", 0.8, False), (5, "normal", None, True),
    (4, "normal", 1.0, True)])
def test_a_seed_s_samples_are_the_same_whatever_the_chunk(z_dim, dist, truncation, conditional):
    """export --chunk 500 and --chunk 1000 gave other samples under one datasheet: random labels were drawn
    after each chunk's noise from the same stream, z-truncation redrew a noise-dependent number of values,
    and an odd z_dim left each chunk's normal draw off torch's blocks of 16. Now no chunking changes a sample,
    and the first k of n are the samples of n = k."""
    options = dict(z_dim=z_dim, z_dist=dist, seed=3, truncation=truncation, conditional=conditional,
                   num_classes=10 if conditional else None)
    whole, _ = collect(generate_chunks(Echo(), 250, batch_size=250, **options))
    for chunk in (1, 7, 64):
        assert np.array_equal(collect(generate_chunks(Echo(), 250, batch_size=chunk, **options))[0], whole), chunk
    assert np.array_equal(collect(generate_chunks(Echo(), 37, **options))[0], whole[:37])
    if conditional:
        assert len(np.unique(whole[:, -1])) == 10


def test_z_truncation_is_the_truncated_distribution_and_keeps_each_z_s_order():
    """A map of each component, not redraws: a normal z cut at t has the truncated normal's spread
    (variance 1 - 2 t phi(t) / (2 Phi(t) - 1)), keeps the order of the z it came from, and is z itself for a
    large t; a uniform z is scaled onto [-t, t]."""
    z = sample_noise(200_000, 1, "normal", "cpu", sample_generator(0, "cpu")).flatten()
    for t in (0.5, 1.0, 2.0):
        cut = truncate_z(z, t, "normal")
        pdf, cdf = math.exp(-t * t / 2) / math.sqrt(2 * math.pi), 0.5 * (1 + math.erf(t / math.sqrt(2)))
        assert cut.abs().max() <= t and abs(float(cut.mean())) < 0.01
        assert float(cut.var()) == pytest.approx(1 - 2 * t * pdf / (2 * cdf - 1), rel=0.02)
        assert torch.equal(torch.argsort(cut[:1000]), torch.argsort(z[:1000]))
    assert torch.allclose(truncate_z(z[:1000], 8.0, "normal"), z[:1000], atol=1e-5)
    u = sample_noise(1000, 4, "uniform", "cpu", sample_generator(0, "cpu"))
    assert torch.allclose(truncate_z(u, 0.5, "uniform"), u * 0.5 / math.sqrt(3)) and torch.equal(truncate_z(u, 2.0, "uniform"), u)
