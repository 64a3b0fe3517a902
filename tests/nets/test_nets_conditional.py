"""Every architecture and variant: the G/D protocol, labels, and one D and one G training step."""

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import NetSpec
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets.layers import ConditionalBatchNorm2d, SelfAttention

K = 4  # classes
TINY = {"dcgan": {"base_channels": 4}, "resnet": {"channels": 8}, "mlp": {"hidden": [32]},
        "maxout": {"hidden": [16], "pieces": 2}}

# (G arch, G options, D arch, D options, image size)
VARIANTS = {
    "dcgan": ("dcgan", {}, "dcgan", {}, 16),
    "dcgan-28": ("dcgan", {}, "dcgan", {}, 28),
    "dcgan-concat": ("dcgan", {"conditioning": "concat"}, "dcgan", {"conditioning": "concat"}, 16),
    "dcgan-cbn-projection": ("dcgan", {"conditioning": "cbn"}, "dcgan", {"conditioning": "projection"}, 16),
    "dcgan-acgan": ("dcgan", {"conditioning": "cbn"}, "dcgan", {"aux_classifier": True}, 16),
    "dcgan-sn": ("dcgan", {"spectral_norm": True}, "dcgan", {"spectral_norm": True, "norm": "none"}, 16),
    "dcgan-layernorm-mbstd-attn": ("dcgan", {"attention_res": 8}, "dcgan",
                                   {"norm": "layer", "minibatch_std": True, "attention_res": 8}, 16),
    "resnet": ("resnet", {}, "resnet", {}, 16),
    "resnet-28": ("resnet", {}, "resnet", {}, 28),
    "resnet-concat": ("resnet", {"conditioning": "concat"}, "resnet", {"conditioning": "concat"}, 16),
    "resnet-cbn-projection-sn": ("resnet", {"conditioning": "cbn"}, "resnet",
                                 {"conditioning": "projection", "spectral_norm": True}, 16),
    "resnet-acgan-projection": ("resnet", {"conditioning": "cbn"}, "resnet",
                                {"conditioning": "projection", "aux_classifier": True}, 16),
    "resnet-sagan-mbstd": ("resnet", {"attention_res": 8, "spectral_norm": True}, "resnet",
                           {"attention_res": 8, "minibatch_std": True, "spectral_norm": True}, 16),
    "mlp": ("mlp", {}, "maxout", {}, 8),
    "mlp-concat": ("mlp", {"conditioning": "concat"}, "maxout", {"conditioning": "concat"}, 8),
    "mlp-projection": ("mlp", {"conditioning": "concat"}, "maxout", {"conditioning": "projection"}, 8),
    "mlp-acgan-sn": ("mlp", {"conditioning": "concat"}, "maxout", {"aux_classifier": True, "spectral_norm": True}, 8),
}


def _build(name, channels=3):
    g_arch, g_opts, d_arch, d_opts, size = VARIANTS[name]
    shape = (1 if g_arch == "mlp" else channels, size, size)
    ctx = NetContext(data_shape=shape, z_dim=8, num_classes=K, data_mean=torch.full(shape, 0.3))
    G = build_generator(NetSpec(g_arch, {**TINY[g_arch], **g_opts}), ctx)
    D = build_discriminator(NetSpec(d_arch, {**TINY[d_arch], **d_opts}), ctx)
    return G, D, ctx


def _real(G, ctx, n):
    lo, hi = G.output_range
    return lo + (hi - lo) * torch.rand(n, *ctx.data_shape)


def _silent(net):
    """Parameters that legitimately get no gradient at init: attention's inner convs while gamma = 0."""
    return {id(p) for m in net.modules() if isinstance(m, SelfAttention)
            for name, p in m.named_parameters() if name != "gamma"}


def _step(net, opt, loss):
    """One Adam step; every parameter but the silent ones must get a gradient, and every one that does must move."""
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    opt.zero_grad()
    loss.backward()
    silent = _silent(net)
    for name, p in net.named_parameters():
        got = p.grad is not None and bool(p.grad.abs().sum() > 0)
        assert got or id(p) in silent, f"{name} got no gradient"
        if got:
            assert torch.isfinite(p.grad).all(), name
    opt.step()
    for name, p in net.named_parameters():
        assert torch.isfinite(p).all(), name
        if p.grad is not None and p.grad.abs().sum() > 0:
            assert not torch.equal(before[name], p), f"{name} did not change"


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_protocol_and_one_d_and_one_g_step(name):
    torch.manual_seed(0)
    G, D, ctx = _build(name)
    n = 8
    z, y = torch.randn(n, 8), torch.randint(0, K, (n,))
    gy = y if G.conditional else None
    dy = y if D.conditional else None
    # protocol
    fake = G(z, gy)
    assert fake.shape == (n, *ctx.data_shape)
    assert G.output_range in ((-1.0, 1.0), (0.0, 1.0))
    D.eval()
    f = D.features(fake)
    assert f.dim() == 2 and f.shape[0] == n
    assert torch.equal(D(fake, dy), D.head(f, dy))
    assert hasattr(D, "classify") == VARIANTS[name][3].get("aux_classifier", False)
    D.train()
    # one D step: non-saturating loss (+ ACGAN classification of real and fake)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    real = _real(G, ctx, n)
    f_real, f_fake = D.features(real), D.features(G(z, gy).detach())
    loss_d = F.softplus(-D.head(f_real, dy)).mean() + F.softplus(D.head(f_fake, dy)).mean()
    if hasattr(D, "classify"):
        assert D.classify(f_real).shape == (n, K)
        loss_d = loss_d + F.cross_entropy(D.classify(f_real), y) + F.cross_entropy(D.classify(f_fake), y)
    assert torch.isfinite(loss_d)
    _step(D, opt_d, loss_d)
    # one G step through D
    D.requires_grad_(False)
    f_fake = D.features(G(z, gy))
    loss_g = F.softplus(-D.head(f_fake, dy)).mean()
    if hasattr(D, "classify"):
        loss_g = loss_g + F.cross_entropy(D.classify(f_fake), y)
    assert torch.isfinite(loss_g)
    _step(G, opt_g, loss_g)


@pytest.mark.parametrize("name", ["dcgan-concat", "dcgan-cbn-projection", "resnet-concat",
                                  "resnet-cbn-projection-sn", "mlp-concat"])
def test_conditional_generator_depends_on_y(name):
    torch.manual_seed(0)
    G, _, _ = _build(name)
    with torch.no_grad():  # per-class BN starts as plain BN (gain 1, bias 0): give the classes their own
        for m in G.modules():
            if isinstance(m, ConditionalBatchNorm2d):
                m.class_gain.add_(0.3 * torch.randn_like(m.class_gain))
                m.class_bias.add_(0.3 * torch.randn_like(m.class_bias))
    G.eval()
    z = torch.randn(1, 8).expand(K, 8)
    x = G(z, torch.arange(K))
    for a in range(K):
        for b in range(a + 1, K):
            assert not torch.allclose(x[a], x[b], atol=1e-6)
    # unconditional parts are shared: the same (z, y) gives the same sample
    assert torch.equal(G(z[:1], torch.tensor([2])), G(z[:1], torch.tensor([2])))
    with pytest.raises(ValueError, match="class-conditional"):
        G(z)


@pytest.mark.parametrize("name", ["dcgan-concat", "dcgan-cbn-projection", "resnet-concat",
                                  "resnet-cbn-projection-sn", "mlp-concat", "mlp-projection"])
def test_conditional_discriminator_logit_depends_on_y(name):
    torch.manual_seed(0)
    G, D, ctx = _build(name)
    D.eval()
    x = _real(G, ctx, 1).expand(K, *ctx.data_shape)
    f = D.features(x)  # label-free: the same features for every class
    assert torch.allclose(f, f[:1].expand_as(f))
    logits = D.head(f, torch.arange(K))
    assert len(set(logits.tolist())) == K
    with pytest.raises(ValueError, match="class-conditional"):
        D(x)


def test_projection_is_linear_plus_inner_product_with_the_class_embedding():
    torch.manual_seed(0)
    _, D, _ = _build("resnet-acgan-projection")
    f, y = torch.randn(5, 8), torch.tensor([0, 1, 2, 3, 1])
    expected = D.linear(f).squeeze(1) + (D.embed.weight[y] * f).sum(1)
    assert torch.allclose(D.head(f, y), expected, atol=1e-5)


def test_unconditional_nets_ignore_labels():
    torch.manual_seed(0)
    G, D, ctx = _build("dcgan")
    G.eval(), D.eval()
    z, y = torch.randn(3, 8), torch.tensor([0, 1, 2])
    assert torch.equal(G(z), G(z, y))
    x = G(z)
    assert torch.equal(D(x), D(x, y))
    assert not G.conditional and not D.conditional and G.num_classes is None and D.num_classes is None


@pytest.mark.parametrize("g_arch, d_arch", [("dcgan", "dcgan"), ("resnet", "resnet"), ("mlp", "maxout")])
def test_conditioning_without_labels_is_a_config_error(g_arch, d_arch):
    ctx = NetContext(data_shape=(1, 8, 8), z_dim=8, num_classes=None)
    with pytest.raises(ConfigError, match="needs a labelled dataset"):
        build_generator(NetSpec(g_arch, {**TINY[g_arch], "conditioning": "concat"}), ctx)
    for opts in ({"conditioning": "projection"}, {"aux_classifier": True}):
        with pytest.raises(ConfigError, match="needs a labelled dataset"):
            build_discriminator(NetSpec(d_arch, {**TINY[d_arch], **opts}), ctx)


def test_mlp_generator_has_no_cbn():
    ctx = NetContext(data_shape=(1, 8, 8), z_dim=8, num_classes=K)
    with pytest.raises(ConfigError, match="conditioning must be one of none, concat"):
        build_generator(NetSpec("mlp", {"conditioning": "cbn"}), ctx)


def test_maxout_forward_is_unchanged_by_the_features_head_split():
    torch.manual_seed(0)
    ctx = NetContext(data_shape=(1, 8, 8), z_dim=8)
    D = build_discriminator(NetSpec("maxout", {"hidden": [16, 16], "pieces": 3}), ctx)
    x = torch.rand(6, 1, 8, 8)
    torch.manual_seed(1)
    a = D(x)
    torch.manual_seed(1)
    b = D.net(x).squeeze(1)  # the original single Sequential, same dropout masks
    assert torch.equal(a, b)
    D.eval()
    f = D.features(x)
    assert f.shape == (6, 16) and torch.equal(D(x), D.head(f))
    assert sorted(D.state_dict()) == ["net.2.linear.bias", "net.2.linear.weight", "net.4.linear.bias",
                                      "net.4.linear.weight", "net.6.bias", "net.6.weight"]


@pytest.mark.parametrize("name", ["dcgan-cbn-projection", "dcgan-layernorm-mbstd-attn", "resnet-sagan-mbstd",
                                  "resnet-acgan-projection", "mlp-concat"])
def test_bf16_autocast_and_channels_last(name):
    torch.manual_seed(0)
    G, D, ctx = _build(name)
    if VARIANTS[name][0] != "mlp":
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    y = torch.randint(0, K, (8,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x = G(torch.randn(8, 8), y)
        loss = F.softplus(-D(x, y)).mean()
    loss.backward()
    assert x.shape == (8, *ctx.data_shape) and torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in G.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", ["dcgan-layernorm-mbstd-attn", "dcgan-sn", "resnet-sagan-mbstd",
                                  "resnet-cbn-projection-sn", "mlp-concat"])
def test_gradient_penalty_can_differentiate_through_d(name):
    """WGAN-GP and R1 backpropagate through D's input gradient (double backward)."""
    torch.manual_seed(0)
    G, D, ctx = _build(name)
    y = torch.randint(0, K, (4,))
    x = _real(G, ctx, 4).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x, y if D.conditional else None).sum(), x, create_graph=True)
    penalty = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
    penalty.backward()
    grads = [p.grad for p in D.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)
