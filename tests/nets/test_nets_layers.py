import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import ConfigError
from ganforge.nets.layers import (ConditionalBatchNorm2d, MinibatchStd, SelfAttention, halvings, init_weights_,
                                  one_hot, spectral_norm_, spectral_sigma)


def test_self_attention_starts_as_identity_and_gamma_gets_gradient():
    torch.manual_seed(0)
    att = SelfAttention(16)
    x = torch.randn(2, 16, 5, 5, requires_grad=True)
    out = att(x)
    assert torch.equal(out, x)  # gamma = 0
    out.pow(2).sum().backward()
    assert att.gamma.grad is not None and att.gamma.grad.abs() > 0


@pytest.mark.parametrize("h, w, keys", [(4, 6, 6), (5, 3, 6), (1, 4, 4)])
def test_self_attention_is_softmax_of_plain_dot_products_over_pooled_keys(h, w, keys):
    """SAGAN's and BigGAN-PyTorch's block: keys and values max-pooled 2x2 (a 4x6 map attends over 6 positions; an
    odd side keeps its last half window; a map one pixel high is not pooled), logits without 1/sqrt(d)."""
    torch.manual_seed(0)
    att = SelfAttention(16)
    with torch.no_grad():
        att.gamma.fill_(0.7)
    x = torch.randn(2, 16, h, w)
    q = att.query(x).flatten(2)  # (N, C', HW)
    pool = (lambda t: F.max_pool2d(t, 2, ceil_mode=True)) if min(h, w) >= 2 else (lambda t: t)
    k, v = pool(att.key(x)).flatten(2), pool(att.value(x)).flatten(2)
    assert k.shape[2] == keys
    weights = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # (N, HW query, keys), no 1/sqrt(d)
    o = (v @ weights.transpose(1, 2)).view(2, -1, h, w)
    expected = x + 0.7 * att.out(o)
    assert torch.allclose(att(x), expected, atol=1e-5)
    assert (att.query.out_channels, att.value.out_channels) == (2, 8)


def test_attention_and_minibatch_std_take_an_empty_batch():
    """A private D's Poisson draw may hold no image: attention (its reshape had inferred a size from 0 elements)
    and minibatch std with a group of one (a modulo by zero), the settings DP accepts, pass it through."""
    x = torch.zeros(0, 16, 4, 4)
    assert SelfAttention(16)(x).shape == (0, 16, 4, 4)
    assert MinibatchStd(1)(x).shape == (0, 17, 4, 4) and MinibatchStd(None)(x).shape == (0, 17, 4, 4)


def test_self_attention_is_non_local():
    torch.manual_seed(0)
    att = SelfAttention(8)
    with torch.no_grad():
        att.gamma.fill_(1.0)
    x = torch.randn(1, 8, 6, 6)
    x2 = x.clone()
    x2[..., 5, 5] += 3.0  # a far corner
    assert not torch.allclose(att(x)[..., 0, 0], att(x2)[..., 0, 0])


def test_minibatch_std_appends_one_channel_holding_the_mean_batch_std():
    x = torch.randn(6, 3, 4, 4)
    out = MinibatchStd()(x)
    assert out.shape == (6, 4, 4, 4)
    assert torch.equal(out[:, :3], x)
    expected = x.std(0, unbiased=False).mean()
    assert torch.allclose(out[:, 3], expected.expand(6, 4, 4), atol=1e-5)


def test_minibatch_std_groups():
    x = torch.randn(8, 2, 3, 3)
    out = MinibatchStd(group_size=4)(x)
    # sample i is in group i % 2: {0, 2, 4, 6} and {1, 3, 5, 7}
    for g in (0, 1):
        expected = x[g::2].std(0, unbiased=False).mean()
        assert torch.allclose(out[g::2, 2], expected.expand(4, 3, 3), atol=1e-5)
    with pytest.raises(ConfigError, match=r"train.batch_size=4 does not split into groups of model.d.mbstd_group=3 .* model.d.mbstd_group to 2"):
        MinibatchStd(group_size=3)(torch.randn(4, 2, 3, 3))


def test_conditional_batch_norm_uses_each_samples_class_affine():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(4, num_classes=3)
    with torch.no_grad():
        cbn.class_gain.normal_()
        cbn.class_bias.normal_()
    x, y = torch.randn(5, 4, 2, 2), torch.tensor([0, 2, 1, 2, 0])
    normed = F.batch_norm(x, None, None, training=True)
    expected = normed * cbn.class_gain[y][:, :, None, None] + cbn.class_bias[y][:, :, None, None]
    assert torch.allclose(cbn(x, y), expected, atol=1e-5)
    with pytest.raises(ValueError, match="labels"):
        cbn(x)


def test_one_hot():
    y = torch.tensor([2, 0])
    assert torch.equal(one_hot(y, 3, torch.zeros(1, dtype=torch.float64)),
                       torch.tensor([[0.0, 0, 1], [1, 0, 0]], dtype=torch.float64))


def test_init_schemes():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(64, 128, 4), nn.BatchNorm2d(128), nn.Linear(256, 256))
    init_weights_(net, "normal")
    assert abs(net[0].weight.std().item() - 0.02) < 2e-3 and net[0].bias.abs().max() == 0
    assert abs(net[1].weight.mean().item() - 1) < 0.01 and 0 < net[1].weight.std() < 0.04
    init_weights_(net, "orthogonal")
    w = net[2].weight
    assert torch.allclose(w @ w.t(), torch.eye(256), atol=1e-4)
    init_weights_(net, "xavier", gain=2.0)
    bound = 2.0 * (6 / (256 + 256)) ** 0.5
    assert net[2].weight.abs().max() <= bound and net[2].weight.abs().max() > 0.9 * bound
    with pytest.raises(ValueError, match="init must be one of"):
        init_weights_(net, "kaiming")


def test_spectral_norm_layers_end_up_with_unit_sigma():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ConvTranspose2d(8, 4, 4, 2, 1), nn.Flatten(), nn.LazyLinear(5))
    net(torch.randn(1, 3, 6, 6))  # materialise the lazy layer
    emb = nn.Embedding(7, 5)
    with torch.no_grad():
        for m in (net[0], net[1], net[3], emb):
            m.weight.mul_(10)
    model = nn.ModuleDict({"net": net, "emb": emb, "bn": nn.BatchNorm2d(8)})
    assert spectral_norm_(model) == 4  # conv, conv-transpose, linear, embedding; not batch norm
    for _ in range(10):
        net(torch.randn(2, 3, 6, 6)), emb(torch.tensor([1]))
    for m in (net[0], net[1], net[3], emb):
        assert abs(spectral_sigma(m) - 1) < 0.02, m
    assert spectral_norm_(model) == 0  # idempotent


def test_halvings():
    assert [halvings(s, 7) for s in (8, 16, 28, 32, 64, 27)] == [1, 2, 2, 3, 4, 0]


def test_self_attention_supports_double_backward():
    """Gradient penalties differentiate D's input gradient again, through the attention."""
    torch.manual_seed(0)
    att = SelfAttention(8)
    with torch.no_grad():
        att.gamma.fill_(0.5)
    x = torch.randn(2, 8, 4, 4, requires_grad=True)
    (g,) = torch.autograd.grad(att(x).pow(2).sum(), x, create_graph=True)
    g.pow(2).sum().backward()
    assert att.query.weight.grad is not None and att.query.weight.grad.abs().sum() > 0
