"""The encoder (image -> code) and GANomaly's encoder-decoder-encoder G: shapes at every size the
DCGAN plan allows (odd-sized starts such as 28 px included), and one D and one G step."""

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import NetSpec
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets.encoder import ConvEncoder, EncoderDecoderEncoder


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 16, 16), (1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_the_encoder_codes_any_planned_size(shape, norm):
    ctx = NetContext(data_shape=shape, z_dim=5)
    E = ConvEncoder(ctx, base_channels=4, norm=norm)
    assert E(torch.rand(3, *shape)).shape == (3, 5)


def test_the_encoder_refuses_a_size_it_cannot_plan():
    with pytest.raises(ValueError, match="cannot build 18 px"):
        ConvEncoder(NetContext(data_shape=(1, 18, 18), z_dim=4))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 16, 16)])
def test_encoder_decoder_encoder_shapes_and_one_step_each(shape):
    torch.manual_seed(0)
    ctx = NetContext(data_shape=shape, z_dim=6)
    G = EncoderDecoderEncoder(ConvEncoder(ctx, 4), build_generator(NetSpec("dcgan", {"base_channels": 4}), ctx),
                              ConvEncoder(ctx, 4))
    D = build_discriminator(NetSpec("dcgan", {"base_channels": 4}), ctx)
    x = torch.rand(4, *shape) * 2 - 1
    x_hat, z, z_hat = G(x)
    assert x_hat.shape == x.shape and z.shape == z_hat.shape == (4, 6) and G.output_range == (-1.0, 1.0)
    d_opt, g_opt = torch.optim.Adam(D.parameters(), 1e-3), torch.optim.Adam(G.parameters(), 1e-3)
    d_loss = F.softplus(-D(x)).mean() + F.softplus(D(x_hat.detach())).mean()
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()
    before = [p.detach().clone() for p in G.parameters()]
    g_loss = 50 * (x - x_hat).abs().mean() + F.mse_loss(z_hat, z)
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    assert all(p.grad is not None for p in G.parameters())  # every part of G learns from its loss
    assert any(not torch.equal(a, b) for a, b in zip(before, G.parameters()))
