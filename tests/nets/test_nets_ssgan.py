"""The semi-supervised GAN's MNIST nets: K logits whose logsumexp is the realness logit, weight norm with
the hidden scales fixed (buffers) after a data-dependent init that whitens each layer, noise only in
training mode."""

import torch

from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.config import NetSpec

CTX = NetContext(data_shape=(1, 8, 8), z_dim=16, num_classes=10)


def _d(**options):
    return build_discriminator(NetSpec("ssgan-mlp", {"hidden": [32, 16], **options}), CTX)


def test_shapes_and_the_realness_logit_is_logsumexp_of_the_class_logits():
    torch.manual_seed(0)
    D, G = _d(), build_generator(NetSpec("ssgan-mlp", {"hidden": [24]}), CTX)
    x = G(torch.randn(5, 16))
    assert x.shape == (5, 1, 8, 8) and 0 <= x.min() and x.max() <= 1 and G.output_range == (0.0, 1.0)
    D.eval()
    f = D.features(x)
    assert f.shape == (5, 16) and D.classify(f).shape == (5, 10)
    assert torch.allclose(D(x), torch.logsumexp(D.classify(f), 1))


def test_data_dependent_init_whitens_each_layer_and_hidden_scales_are_buffers():
    torch.manual_seed(0)
    D = _d(input_noise=0.0, hidden_noise=0.0)
    x = torch.rand(200, 1, 8, 8)
    D.init_from_data(x)
    pre = D.layers[0](x.flatten(1))
    assert torch.allclose(pre.mean(0), torch.zeros(32), atol=1e-4)
    assert torch.allclose(pre.std(0, unbiased=False), torch.ones(32), atol=1e-3)
    trainable = {n for n, _ in D.named_parameters()}
    assert "layers.0.g" not in trainable and "out.g" in trainable  # only the output layer trains its scale
    D.requires_grad_(True)
    assert "layers.0.g" not in {n for n, p in D.named_parameters() if p.requires_grad}


def test_the_directions_are_drawn_at_the_reference_s_scale():
    """improved-gan's MNIST dense layers draw v from N(0, 0.1): with weight norm only v's direction matters, but
    Adam moves each element of v by about lr, so v at 0.05 had turned every hidden unit twice as fast."""
    torch.manual_seed(0)
    D = build_discriminator(NetSpec("ssgan-mlp", {}), NetContext(data_shape=(1, 28, 28), z_dim=16, num_classes=10))
    for layer in (*D.layers, D.out):
        assert abs(layer.v.std().item() - 0.1) < 0.01, layer.v.std()


def test_noise_only_in_training_mode():
    torch.manual_seed(0)
    D, x = _d(), torch.rand(4, 1, 8, 8)
    D.eval()
    assert torch.equal(D(x), D(x))
    D.train()
    assert not torch.equal(D(x), D(x))
