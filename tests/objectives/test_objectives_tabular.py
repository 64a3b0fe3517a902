"""CTGAN's terms, each wired and each measurably changing the loss or the gradient when switched off:
the conditional cross-entropy, PacGAN packing, WGAN-GP over packed groups."""

from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F

from ganforge.config import NetSpec
from ganforge.nets import NetContext, build_discriminator, build_generator
from ganforge.objectives import D_LOSSES, G_LOSSES
from ganforge.objectives import tabular as terms

SPANS = ((0, 1, "tanh"), (1, 3, "softmax"), (4, 2, "softmax"))  # a number, a 3-category and a 2-category column
ROW, COND = 6, 5  # the two softmax blocks are conditioned: cond = [3 | 2]
BLOCKS = ((1, 3), (4, 2))


def test_conditional_cross_entropy_by_hand():
    raw = torch.tensor([[0.0, 2.0, 0.0, -1.0, 0.5, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0, 3.0]], requires_grad=True)
    cond = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0]])  # row 0: A = cat 1; row 1: B = cat 0
    mask = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    ce = terms.conditional_cross_entropy(raw, cond, mask, BLOCKS)
    want = (F.cross_entropy(raw[:1, 1:4], torch.tensor([1])) + F.cross_entropy(raw[1:, 4:6], torch.tensor([0]))) / 2
    assert torch.allclose(ce, want)
    ce.backward()
    assert raw.grad[0, 4:].abs().sum() == 0 and raw.grad[1, 1:4].abs().sum() == 0  # only the masked column learns
    assert raw.grad[:, 0].abs().sum() == 0  # never the continuous value
    assert terms.conditional_cross_entropy(raw, cond, torch.zeros_like(mask), BLOCKS) == 0


def _nets(pack: int, seed: int = 0):
    torch.manual_seed(seed)
    G = build_generator(NetSpec("ctgan", {"hidden": [16]}),
                        NetContext(data_shape=(ROW,), z_dim=4 + COND, kind="table", spans=SPANS))
    D = build_discriminator(NetSpec("ctgan", {"hidden": [16], "dropout": 0.0, "pack": pack}),
                            NetContext(data_shape=(ROW + COND,), z_dim=4, kind="table"))
    return G, D


def _ctx(G, D, pack: int, n: int = 8, seed: int = 0):
    """A step context with CTGAN's interface: fixed conditions, real rows matching them, seeded noise."""
    gen = torch.Generator().manual_seed(seed)
    cats_a, cats_b = torch.randint(0, 3, (n,), generator=gen), torch.randint(0, 2, (n,), generator=gen)
    cond = torch.zeros(n, COND)
    pick_a = torch.arange(n) % 2 == 0
    cond[pick_a, cats_a[pick_a]] = 1
    cond[~pick_a, 3 + cats_b[~pick_a]] = 1
    mask = torch.stack([pick_a, ~pick_a], 1).float()
    real = torch.cat([torch.rand(n, 1, generator=gen) * 2 - 1, F.one_hot(cats_a, 3), F.one_hot(cats_b, 2)], 1).float()
    real[pick_a, 1:4] = cond[pick_a, :3]
    real[~pick_a, 4:6] = cond[~pick_a, 3:]
    z = torch.randn(n, 4, generator=gen)
    eps = torch.rand(n // pack, generator=gen)

    def draw(real_rows=True):
        return SimpleNamespace(cond=cond, mask=mask, real=real if real_rows else None, real_cond=cond)

    def generate(c, with_logits=False):
        torch.manual_seed(seed)  # the Gumbel noise
        return G(torch.cat([z, c], 1), with_logits=with_logits)

    return SimpleNamespace(draw=lambda real=True: draw(real), generate=generate, shared=terms.TableShared(), pack=pack,
                           with_cond=lambda x, c: torch.cat([x, c], 1), critic=lambda x: D(x).float(),
                           noise=SimpleNamespace(uniform=lambda m: eps[:m]), cond_blocks=BLOCKS,
                           d_loss=D_LOSSES["wasserstein"], g_loss=G_LOSSES["wasserstein"])


def _grad(net, loss):
    net.zero_grad()
    loss.backward()
    return torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])


def test_gp_term_wired_and_switching_it_off_changes_d_gradient():
    G, D = _nets(pack=2)
    ctx = _ctx(G, D, pack=2)
    d_loss, _ = terms.d_term(ctx)
    gp_loss, stats = terms.gp_term(10.0, ctx)
    assert stats["gp"] > 0 and torch.allclose(gp_loss, 10 * stats["gp"])
    with_gp = _grad(D, d_loss + gp_loss)
    ctx = _ctx(G, D, pack=2)
    without = _grad(D, terms.d_term(ctx)[0])
    assert (with_gp - without).norm() > 1e-3 * without.norm()


def test_packed_gp_is_the_gradient_norm_per_group():
    """One interpolation weight and one gradient norm per group of ``pack`` rows: by hand with a linear critic."""
    w = torch.randn(2 * 3)

    def critic(x):  # (N, 3) rows -> one score per pair: w . [row_2i, row_2i+1]
        return x.reshape(-1, 6) @ w

    real, fake = torch.randn(4, 3), torch.randn(4, 3)
    gp = terms.packed_gradient_penalty(critic, real, fake, 2, torch.rand(2))
    assert torch.allclose(gp, (w.norm() - 1) ** 2)  # a linear critic's gradient is w for every group
    per_row = terms.packed_gradient_penalty(lambda x: x @ w[:3], real, fake, 1, torch.rand(4))
    assert torch.allclose(per_row, (w[:3].norm() - 1) ** 2) and not torch.allclose(gp, per_row)


def test_packing_switched_off_changes_d_loss_and_gradient():
    G2, D2 = _nets(pack=2)
    G1, D1 = _nets(pack=1)
    loss2 = terms.d_term(_ctx(G2, D2, pack=2))[0]
    loss1 = terms.d_term(_ctx(G1, D1, pack=1))[0]
    assert D2.inner.body[0].in_features == 2 * D1.body[0].in_features  # D sees two rows at once
    assert (loss2 - loss1).abs() > 1e-4


def test_cond_term_wired_and_switching_it_off_changes_g_gradient():
    G, D = _nets(pack=2)
    ctx = _ctx(G, D, pack=2)
    adv, _ = terms.g_term(ctx)
    ce, stats = terms.cond_term(1.0, ctx)
    assert stats["cond_ce"] > 0
    with_ce = _grad(G, adv + ce)
    ctx = _ctx(G, D, pack=2)
    without = _grad(G, terms.g_term(ctx)[0])
    assert (with_ce - without).norm() > 1e-3 * without.norm()


def _obeyed(G, D) -> float:
    """Share of rows whose conditioned block's most likely category (G's logits) is the asked one."""
    ctx = _ctx(G, D, pack=2, n=200, seed=10_000)
    draw = ctx.draw()
    G.eval()
    raw = ctx.generate(draw.cond, with_logits=True)[1]
    G.train()
    a, b = draw.mask[:, 0].bool(), draw.mask[:, 1].bool()
    hits = torch.cat([raw[a, 1:4].argmax(1) == draw.cond[a, :3].argmax(1),
                      raw[b, 4:6].argmax(1) == draw.cond[b, 3:].argmax(1)])
    return hits.float().mean().item()


def test_cond_term_teaches_g_to_obey_the_condition():
    """The CE alone, trained a little, makes G's block for the conditioned column pick the asked category."""
    G, D = _nets(pack=2)
    before = _obeyed(G, D)
    opt = torch.optim.Adam(G.parameters(), lr=1e-2)
    for i in range(150):
        ctx = _ctx(G, D, pack=2, seed=i)
        terms.g_term(ctx)
        loss = terms.cond_term(1.0, ctx)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert before < 0.7 and _obeyed(G, D) > 0.95
