"""Wiring: every regulariser, attached from its config key, adds exactly ``weight x its defining value``
to the right network's update, and the adversarial terms hand D's logits to the loss the right way round.

The maths of each penalty has its own test (test_objectives_regularizers.py and friends); these check
the connection between the config and the number a phase minimises, so that a weight read from the
wrong key, a term attached to the wrong phase, a dropped hook or a lost factor fails a test. Each test
calls a term on a hand-built step context (tiny linear nets), so the file runs in about a second.
"""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge import config, objectives, presets
from ganforge.objectives import TermPlan, attach_all
from ganforge.objectives.adversarial import AdversarialShared, d_adversarial, g_adversarial
from ganforge.objectives.feature_matching import feature_matching
from ganforge.objectives.gradient_penalty import gradient_penalty
from ganforge.objectives.losses import D_LOSSES, G_LOSSES
from ganforge.objectives.orthogonal import orthogonal_penalty
from ganforge.objectives.r1 import r1_penalty
from ganforge.objectives.registry import lazy_corrected
from ganforge.recipes.noise_to_image import AdversarialContext
from ganforge.training.phases import Phase


class PlainD(nn.Module):
    """features -> realness logit: the protocol of nets/base.py, in two layers."""

    def __init__(self, dim=6, classes=3):
        super().__init__()
        self.body, self.out = nn.Linear(dim, 4), nn.Linear(4, 1)

    def features(self, x):
        return torch.tanh(self.body(x))

    def head(self, f, y=None):
        return self.out(f).squeeze(1)


class TinyD(PlainD):
    """PlainD with an ACGAN class head (``classify``), which is what attaches the aux classifier."""

    def __init__(self, dim=6, classes=3):
        super().__init__(dim)
        self.cls = nn.Linear(4, classes)

    def classify(self, f):
        return self.cls(f)


class Batches:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def next(self):
        return self.x, self.y


def cfg(*overrides):
    return config.resolve(presets.load_preset("gan2014-digits")[0], list(overrides))


def setup(*overrides, labels_to_d=False, classifier=False):
    """(plan, ctx, nets) for ``cfg(*overrides)``: G is a linear map from z, D a PlainD (TinyD: with a class head)."""
    torch.manual_seed(0)
    G, D = nn.Linear(3, 6), (TinyD() if classifier else PlainD())
    nets = {"G": G, "D": D}
    plan = attach_all(cfg(*overrides), TermPlan(nets, d="D", g="G"))
    real, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
    fake = G(torch.randn(8, 3))

    def discriminate(x, y_=None):
        f = D.features(x)
        return f, D.head(f, y_)

    ctx = SimpleNamespace(
        nets=nets, shared=AdversarialShared(real=real, fake=fake.detach(), y_real=y, y_fake=(y + 1) % 3,
                                            f_real=D.features(real), f_fake=D.features(fake)),  # as the terms leave them
        labels_to_d=labels_to_d, real=Batches(real, y), batch_size=8,
        noise=SimpleNamespace(uniform=lambda n: torch.linspace(0.1, 0.9, n)),
        d_logits=lambda x, y_: discriminate(x, y_)[1], discriminate=discriminate,
        forward_net=lambda name: nets[name])
    return plan, ctx, nets


def only_term(plan, phase):
    assert len(plan.terms.get(phase, [])) == 1, plan.terms
    return plan.terms[phase][0]


def test_with_every_weight_at_zero_nothing_is_attached():
    plan, _, _ = setup("reg.gp=0", "reg.r1=0", "reg.drift=0", "reg.feature_matching=0", "reg.ortho=0",
                       "reg.historical=0", "reg.clip=null")
    assert plan.terms == {} and plan.hooks == {} and plan.extra_phases == [] and plan.stateful == {}


def test_the_gradient_penalty_joins_d_with_its_weight_on_the_cached_batches():
    plan, ctx, nets = setup("reg.gp=3.5")
    loss, stats = only_term(plan, "D")(ctx)
    eps = torch.linspace(0.1, 0.9, 8)
    expected = gradient_penalty(ctx.d_logits, ctx.shared.real, ctx.shared.fake, None, eps=eps)
    assert stats["gp"].item() == pytest.approx(expected.item(), rel=1e-5) and stats["gp"] > 0
    assert loss.item() == pytest.approx(3.5 * expected.item(), rel=1e-5)
    loss.backward()
    assert nets["D"].body.weight.grad.abs().sum() > 0  # trained through (create_graph)


def test_the_gradient_penalty_is_taken_at_the_interpolates_of_real_and_fake():
    """For D(x) = |x|^2 / 2 the input gradient is x itself, so the penalty is (|eps real + (1-eps) fake| - 1)^2."""
    real, fake = torch.tensor([[3.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.0], [0.0, 5.0]])
    eps = torch.tensor([0.5, 0.25])
    gp = gradient_penalty(lambda x, y: x.pow(2).sum(1) / 2, real, fake, eps=eps)
    assert gp.item() == pytest.approx(((2.0 - 1) ** 2 + (4.0 - 1) ** 2) / 2)


def test_r1_is_its_own_lazy_d_phase_weighted_gamma_over_two_times_its_interval():
    plan, ctx, _ = setup("reg.r1=2.0", "reg.r1_every=4")
    assert plan.terms == {}
    (phase,) = plan.extra_phases
    assert (phase.net, phase.after, phase.every) == ("D", "D", 4)
    loss, stats = phase.terms[0](ctx)
    expected = r1_penalty(ctx.d_logits, ctx.shared.real)
    assert stats["r1"].item() == pytest.approx(expected.item(), rel=1e-5) and expected > 0
    assert loss.item() == pytest.approx(2.0 / 2 * 4 * expected.item(), rel=1e-5)



def test_lazy_r1_is_weighted_by_the_d_updates_between_its_phases():
    """With train.d_steps 3 an R1 phase every 4 steps comes once per 12 D updates: weighted by 12, so R1's
    average strength per D update is gamma/2 as at interval 1 (weighted by 4 it was a third of that)."""
    plan, ctx, _ = setup("reg.r1=2.0", "reg.r1_every=4", "train.d_steps=3")
    (phase,) = plan.extra_phases
    loss, _ = phase.terms[0](ctx)
    assert loss.item() == pytest.approx(2.0 / 2 * 12 * r1_penalty(ctx.d_logits, ctx.shared.real).item(), rel=1e-5)

def test_r1_every_step_is_a_term_of_d_s_own_update_on_the_batch_d_judged():
    """Mescheder et al.'s L_D + gamma/2 * R1: before round 18 it was an own D phase at interval 1 too, so D took
    two optimiser steps per D step (the second on a fresh batch)."""
    plan, ctx, nets = setup("reg.r1=2.0")
    assert plan.extra_phases == []
    loss, stats = only_term(plan, "D")(ctx)
    expected = r1_penalty(ctx.d_logits, ctx.shared.real)
    assert stats["r1"].item() == pytest.approx(expected.item(), rel=1e-5) and expected > 0
    assert loss.item() == pytest.approx(2.0 / 2 * expected.item(), rel=1e-5)
    loss.backward()
    assert nets["D"].body.weight.grad.abs().sum() > 0  # trained through (create_graph)


def test_lazy_regularisation_corrects_lr_and_betas_of_that_network_only():
    c = cfg("reg.r1=1", "reg.r1_every=16", "optim.d.name=adam", "optim.d.lr=0.002", "optim.d.betas=[0.0,0.99]")
    d = lazy_corrected(c, "d", c.optim.d)
    assert d.lr == pytest.approx(0.002 * 16 / 17) and d.betas[1] == pytest.approx(0.99 ** (16 / 17))
    assert lazy_corrected(c, "g", c.optim.g) == c.optim.g


def test_drift_joins_d_as_epsilon_times_the_mean_squared_real_logit():
    plan, ctx, _ = setup("reg.drift=0.25")
    loss, stats = only_term(plan, "D")(ctx)
    expected = ctx.d_logits(ctx.shared.real, None).pow(2).mean()
    assert stats["drift"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss.item() == pytest.approx(0.25 * expected.item(), rel=1e-6)


def test_feature_matching_joins_g_with_its_weight_and_pulls_only_the_fakes():
    plan, ctx, nets = setup("reg.feature_matching=0.7")
    loss, stats = only_term(plan, "G")(ctx)
    expected = feature_matching(nets["D"].features(ctx.shared.real), ctx.shared.f_fake)
    assert stats["feature_matching"].item() == pytest.approx(expected.item(), rel=1e-5) and expected > 0
    assert loss.item() == pytest.approx(0.7 * expected.item(), rel=1e-5)
    loss.backward()
    assert nets["G"].weight.grad.abs().sum() > 0


def test_the_orthogonal_penalty_joins_g_on_g_weights():
    plan, ctx, nets = setup("reg.ortho=0.01")
    loss, stats = only_term(plan, "G")(ctx)
    expected = orthogonal_penalty(nets["G"])
    assert stats["ortho"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss.item() == pytest.approx(0.01 * expected.item(), rel=1e-6)


def test_historical_averaging_weighs_both_networks_and_its_hook_moves_the_mean():
    plan, ctx, nets = setup("reg.historical=0.5")
    assert set(plan.stateful) == {"historical_D", "historical_G"}
    for name in ("D", "G"):
        term = only_term(plan, name)
        (hook,) = plan.hooks[name]
        with torch.no_grad():
            for p in nets[name].parameters():
                p.add_(1.0)
        moved = sum(p.numel() for p in nets[name].parameters())
        loss, _ = term(ctx)
        assert loss.item() == pytest.approx(0.5 * moved, rel=1e-5)  # every weight 1 away from its mean
        hook()  # the first snapshot is the whole mean
        assert term(ctx)[0].item() == 0.0
        with torch.no_grad():
            for p in nets[name].parameters():
                p.add_(1.0)
        hook()  # the mean of two snapshots: half-way, so 0.5 ** 2 per weight
        assert term(ctx)[0].item() == pytest.approx(0.5 * moved / 4, rel=1e-5)


def test_weight_clipping_clamps_d_after_its_update_and_leaves_g():
    plan, _, nets = setup("reg.clip=0.05")
    with torch.no_grad():
        for p in (*nets["D"].parameters(), *nets["G"].parameters()):
            p.mul_(100)
    (hook,) = plan.hooks["D"]
    hook()
    assert all(p.abs().max() <= 0.05 for p in nets["D"].parameters())
    assert max(p.abs().max() for p in nets["G"].parameters()) > 0.05
    assert "G" not in plan.hooks


@pytest.mark.parametrize("on_fake", [True, False])
def test_the_aux_classifier_joins_both_networks_with_its_weight(on_fake):
    plan, ctx, nets = setup("reg.aux_weight=0.3", f"reg.aux_on_fake={str(on_fake).lower()}", classifier=True)
    D, s = nets["D"], ctx.shared
    real_ce = F.cross_entropy(D.classify(s.f_real), s.y_real)
    fake_ce = F.cross_entropy(D.classify(s.f_fake), s.y_fake)
    d_loss, _ = only_term(plan, "D")(ctx)
    g_loss, _ = only_term(plan, "G")(ctx)
    assert d_loss.item() == pytest.approx(0.3 * (real_ce + fake_ce * on_fake).item(), rel=1e-5)
    assert g_loss.item() == pytest.approx(0.3 * fake_ce.item(), rel=1e-5)


def test_the_adversarial_terms_give_d_real_and_fake_logits_the_right_way_round():
    """A D that already tells real (logit +2) from fake (-2) has hinge loss 0; swapped, 6."""
    logits = {"real": 2.0, "fake": -2.0}
    real, fake = torch.full((4, 1), 1.0), torch.full((4, 1), -1.0)

    def discriminate(x, y):
        return x, x[:, 0] * 2.0

    ctx = SimpleNamespace(real=Batches(real, None), generate=lambda n: (fake[:n], None), batch_size=4,
                          discriminate=discriminate, shared=AdversarialShared(), d_loss=D_LOSSES["hinge"], g_loss=G_LOSSES["hinge"])
    loss, stats = d_adversarial(ctx)
    assert loss.item() == 0.0
    assert stats["D_real"].item() == logits["real"] and stats["D_fake"].item() == logits["fake"]
    assert torch.equal(ctx.shared.real, real) and torch.equal(ctx.shared.fake, fake)
    g_loss, _ = g_adversarial(ctx)
    assert g_loss.item() == 2.0  # hinge G: -mean(fake logit)


def test_every_registered_regulariser_has_a_wiring_test_here():
    """A new regulariser registered without a test here fails this list."""
    tested = {"gradient_penalty", "r1", "drift", "aux_classifier", "feature_matching", "orthogonal", "historical",
              "weight_clipping", "path_length",  # path_length: tests/nets/test_nets_stylegan2_wiring.py
              "ada"}  # ada: tests/objectives/test_objectives_ada.py (p rises on an overfitting D, D's inputs change)
    assert set(objectives.registered()) <= tested, set(objectives.registered()) - tested


def test_terms_share_typed_fields_and_a_misspelt_one_is_an_error():
    """ctx.shared is a slots dataclass: writing or reading a name it does not declare fails at once,
    where a string-keyed cache would have kept the typo and handed a later term nothing."""
    shared = AdversarialShared(real=torch.ones(2))
    with pytest.raises(AttributeError):
        shared.f_reel = torch.zeros(2)
    with pytest.raises(AttributeError):
        shared.reel  # noqa: B018
    assert shared.fake is None  # declared, not yet left by this update's terms


def test_each_update_starts_with_nothing_shared():
    net = nn.Linear(2, 1)
    seen = []

    def term(ctx):
        seen.append(ctx.shared.real)
        ctx.shared.real = torch.ones(1)
        return net(torch.ones(1, 2)).sum(), {}

    ctx = AdversarialContext(nets={"D": net}, optimizers={"D": torch.optim.SGD(net.parameters(), lr=0.1)},
                             schedules={"D": SimpleNamespace(after_update=lambda epoch: None)},
                             real=SimpleNamespace(epoch=0))
    Phase("D", "D", [term], repeat=2).run(ctx)
    assert seen == [None, None] and ctx.shared.real is None and isinstance(ctx.shared, AdversarialShared)


def test_a_relativistic_g_loss_is_given_d_s_logits_on_a_fresh_real_batch():
    """G's relativistic term compares its samples with a real batch D also judges (no gradient into G
    from it); the other G losses draw no real batch."""
    real, fake = torch.full((4, 1), 1.0), torch.full((4, 1), -1.0)
    drawn = []

    def next_real():
        drawn.append(1)
        return real, None

    ctx = SimpleNamespace(real=SimpleNamespace(next=next_real), generate=lambda n: (fake[:n], None), batch_size=4,
                          discriminate=lambda x, y: (x, x[:, 0] * 2.0), shared=AdversarialShared(),
                          g_loss=G_LOSSES["relativistic"])
    loss, _ = g_adversarial(ctx)
    assert drawn == [1]
    assert torch.equal(loss, G_LOSSES["relativistic"](fake[:, 0] * 2.0, real[:, 0] * 2.0))
    ctx.g_loss = G_LOSSES["hinge"]
    g_adversarial(ctx)
    assert drawn == [1]
