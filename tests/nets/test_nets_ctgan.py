"""CTGAN's nets: shapes, the residual widths, one D and one G step, packing, Gumbel-softmax spans, eval mode."""

from __future__ import annotations

import pytest
import torch

from ganforge.config import NetSpec
from ganforge.errors import ConfigError
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.nets.ctgan import gumbel_softmax

SPANS = ((0, 1, "tanh"), (1, 3, "softmax"), (4, 1, "tanh"), (5, 4, "softmax"))
ROW = 9


def _g(z_dim=12, **options):
    ctx = NetContext(data_shape=(ROW,), z_dim=z_dim, kind="table", spans=SPANS)
    return build_generator(NetSpec("ctgan", {"hidden": [16, 8], **options}), ctx)


def _d(width=ROW, pack=1, **options):
    ctx = NetContext(data_shape=(width,), z_dim=1, kind="table")
    return build_discriminator(NetSpec("ctgan", {"hidden": [16, 16], "pack": pack, **options}), ctx)


def test_shapes_and_residual_widths():
    torch.manual_seed(0)
    G = _g()
    x = G(torch.randn(6, 12))
    assert x.shape == (6, ROW)
    assert [b.fc.in_features for b in G.body] == [12, 12 + 16]  # each block's input is the previous output ++ input
    assert G.out.in_features == 12 + 16 + 8
    D = _d(pack=3)
    assert D(torch.randn(6, ROW)).shape == (2,)  # one score per group of 3 rows
    assert D.inner.body[0].in_features == 3 * ROW


def test_gumbel_spans_are_one_hot_ish_and_tanh_spans_bounded():
    torch.manual_seed(0)
    x = _g()(torch.randn(500, 12))
    for start, width, activation in SPANS:
        block = x[:, start:start + width]
        if activation == "tanh":
            assert block.abs().max() < 1
        else:
            assert torch.allclose(block.sum(1), torch.ones(500), atol=1e-5)
            assert block.max(1).values.mean() > 0.85  # tau 0.2: nearly one-hot
    soft = _g(tau=5.0)(torch.randn(500, 12))[:, 1:4]
    assert soft.max(1).values.mean() < 0.8  # a high temperature is visibly softer: tau is wired


def test_gumbel_argmax_samples_the_softmax():
    """The Gumbel-max trick: argmax of the noisy softmax is a draw from softmax(logits)."""
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1]])).repeat(20000, 1)
    picks = gumbel_softmax(logits, 0.2, torch.Generator().manual_seed(0)).argmax(1)
    freq = torch.bincount(picks, minlength=3).float() / len(picks)
    assert torch.allclose(freq, torch.tensor([0.7, 0.2, 0.1]), atol=0.02)
    again = gumbel_softmax(logits[:5], 0.2, torch.Generator().manual_seed(0))
    assert torch.equal(again, gumbel_softmax(logits[:5], 0.2, torch.Generator().manual_seed(0)))  # seeded


def test_one_d_step_and_one_g_step():
    torch.manual_seed(0)
    G, D = _g(), _d(pack=2, dropout=0.0)
    real = torch.cat([torch.zeros(8, 1), torch.eye(3)[torch.zeros(8, dtype=torch.long)], torch.ones(8, 1),
                      torch.eye(4)[torch.ones(8, dtype=torch.long)]], 1)
    z = torch.randn(8, 12)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-2)
    gap = lambda: (D(real).mean() - D(G(z).detach()).mean()).item()  # noqa: E731
    torch.manual_seed(1)
    before = gap()
    loss = D(G(z).detach()).mean() - D(real).mean()
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    torch.manual_seed(1)
    assert gap() > before  # D now scores real rows higher than generated ones by more
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-2)
    torch.manual_seed(2)
    g_before = -D(G(z)).mean().item()
    torch.manual_seed(2)
    g_loss = -D(G(z)).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    torch.manual_seed(2)
    assert -D(G(z)).mean().item() < g_before  # G moved towards what D scores as real


def test_packing_scores_groups():
    torch.manual_seed(0)
    D = _d(pack=2, dropout=0.0)
    x = torch.randn(6, ROW)
    y = x.clone()
    y[3] += 1.0  # the second row of the second group
    a, b = D(x), D(y)
    assert a[0] == b[0] and a[2] == b[2] and (a[1] - b[1]).abs() > 1e-4
    with pytest.raises(ConfigError, match="divisible"):
        D(torch.randn(5, ROW))


def test_eval_mode_a_row_does_not_depend_on_its_batch():
    torch.manual_seed(0)
    G = _g()
    G(torch.randn(64, 12))  # batch-norm running statistics move off their init
    z = torch.randn(32, 12)
    assert not torch.allclose(G.logits(z)[:4], G.logits(z[:4]))  # training mode: batch statistics
    G.eval()
    assert torch.allclose(G.logits(z)[:4], G.logits(z[:4]), atol=1e-6)


def test_bad_spans_and_options_are_refused():
    with pytest.raises(ConfigError, match="spans"):
        build_generator(NetSpec("ctgan"), NetContext(data_shape=(ROW,), z_dim=4, kind="table"))
    with pytest.raises(ConfigError, match="cover"):
        build_generator(NetSpec("ctgan"), NetContext(data_shape=(ROW + 1,), z_dim=4, kind="table", spans=SPANS))
    with pytest.raises(ConfigError, match="tau"):
        _g(tau=0.0)
