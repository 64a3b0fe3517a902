"""Wiring of every recipe's own terms: each weight from the config multiplies its term in the loss a
phase minimises, each network sees what its paper says it sees (D through the image pool, a
conditional D the input beside the image), and G's and D's losses are the right way round.

The learning tests (test_recipes_*.py) show each recipe trains; a term disconnected from the loss
(its weight ignored, its output dropped) can still let a short run pass them. Here every term is
called on a hand-built step context with 1x1-conv "networks", and the returned loss is compared with
the same sum written out, so the file runs in a few seconds.
"""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge import config, presets
from ganforge.objectives import D_LOSSES, G_LOSSES
from ganforge.objectives.translation import D_HALF, l1
from ganforge.recipes import cycle_translation, fanogan, ganomaly, paired_translation, superres
from ganforge.training.image_pool import ImagePool
from ganforge.training.step_batch import StepBatch


def conv(c_in=1, c_out=1, seed=0):
    torch.manual_seed(seed)
    m = nn.Conv2d(c_in, c_out, 1)
    with torch.no_grad():
        m.weight.normal_(0, 1)
        m.bias.normal_(0, 0.3)
    return m


class Recording(nn.Module):
    """A 1x1-conv D that keeps every input it was shown."""

    def __init__(self, c_in=1, seed=5):
        super().__init__()
        self.net, self.seen = conv(c_in, 1, seed), []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.net(x)


def images(n=4, c=1, seed=0):
    return torch.rand(n, c, 4, 4, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def no_opt():
    return {"optimizers": {}, "schedules": {}}


# ---- cycle-translation (CycleGAN) ----

def cycle_ctx(cycle, identity, pools=None):
    nets = {"G_AB": conv(seed=1), "G_BA": conv(seed=2), "D_A": Recording(seed=3), "D_B": Recording(seed=4)}
    a, b = images(seed=10), images(seed=11)
    ctx = cycle_translation.CycleContext(nets=nets, **no_opt(), pools=pools or {},
                                         drawn=StepBatch(lambda: {"A": a, "B": b}),
                                         d_loss=D_LOSSES["mse"], g_loss=G_LOSSES["mse"],
                                         cycle=cycle, identity=identity)
    return ctx, nets, a, b


@pytest.mark.parametrize("cycle,identity", [(10.0, 0.5), (3.0, 0.0)])
def test_cycle_g_loss_is_adversarial_plus_weighted_cycles_and_identity(cycle, identity):
    ctx, nets, a, b = cycle_ctx(cycle, identity)
    loss, stats = cycle_translation.g_term("A", ctx)
    G, F_ = nets["G_AB"], nets["G_BA"]
    with torch.no_grad():
        fake = G(a)
        adversarial = ((nets["D_B"].net(fake) - 1) ** 2).mean()  # the reference's MSELoss(D(G(a)), 1), no 1/2
        forward, backward = l1(F_(fake), a), l1(G(F_(b)), b)
        expected = adversarial + cycle * (forward + backward) + cycle * identity * l1(G(b), b)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert stats["cycle_A"].item() == pytest.approx(forward.item(), rel=1e-6)
    assert stats["backward_cycle_G_AB"].item() == pytest.approx(backward.item(), rel=1e-6)
    assert torch.equal(ctx.fakes["B"], fake)  # what D_B will judge this step
    assert ("identity_G_AB" in stats) == (identity > 0)


def test_cycle_d_judges_real_images_against_the_pools_output():
    """With swap 1 every new fake goes into the pool and a stored one comes out: D must see the stored ones."""
    pool = ImagePool(4, 1.0, seed=0)
    old = images(seed=20)
    pool.query(old)  # fills the pool
    ctx, nets, a, _ = cycle_ctx(10.0, 0.5, pools={"A": pool, "B": ImagePool(0, 0.5, seed=1)})
    new = images(seed=21)
    ctx.fakes["A"] = new
    loss, stats = cycle_translation.d_term("A", ctx)
    real_seen, fake_seen = nets["D_A"].seen
    assert torch.equal(real_seen, a)
    # Each fake went in and a stored one came out: never itself; the first can only be an old one.
    assert not any(torch.equal(seen, n) for seen, n in zip(fake_seen, new))
    assert any(torch.equal(fake_seen[0], o) for o in old)
    real_logits, fake_logits = nets["D_A"].net(a), nets["D_A"].net(fake_seen)
    expected = 0.5 * (((real_logits - 1) ** 2).mean() + (fake_logits ** 2).mean())  # the reference's MSE pair
    assert expected.item() == pytest.approx((D_HALF * D_LOSSES["mse"](real_logits, fake_logits)).item())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


# ---- paired-translation (pix2pix) ----

def paired_ctx(l1_weight, gan_weight, conditional=True):
    nets = {"G": conv(seed=1), "D": Recording(2 if conditional else 1)}
    a, b = images(seed=10), images(seed=11)
    ctx = paired_translation.PairedContext(nets=nets, **no_opt(), drawn=StepBatch(lambda: (torch.cat([a, b], 1), None)),
                                           a_channels=1, conditional=conditional,
                                           d_loss=D_LOSSES["minimax"], g_loss=G_LOSSES["non-saturating"],
                                           l1_weight=l1_weight, gan_weight=gan_weight)
    return ctx, nets, a, b


@pytest.mark.parametrize("l1_weight,gan_weight", [(100.0, 1.0), (7.0, 0.25)])
def test_pix2pix_g_loss_is_l1_weight_times_l1_plus_gan_weight_times_the_conditional_adversarial(l1_weight, gan_weight):
    ctx, nets, a, b = paired_ctx(l1_weight, gan_weight)
    loss, stats = paired_translation.g_term(ctx)
    with torch.no_grad():
        fake = nets["G"](a)
        adversarial = G_LOSSES["non-saturating"](nets["D"].net(torch.cat([a, fake], 1)))
        expected = l1_weight * l1(fake, b) + gan_weight * adversarial
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert torch.equal(nets["D"].seen[0][:, :1], a)  # the conditional D sees the input beside the output


def test_pix2pix_d_sees_input_with_target_as_real_and_input_with_output_as_fake():
    ctx, nets, a, b = paired_ctx(100.0, 1.0)
    loss, _ = paired_translation.d_term(ctx)
    real_seen, fake_seen = nets["D"].seen
    with torch.no_grad():
        fake = nets["G"](a)
    assert torch.equal(real_seen, torch.cat([a, b], 1)) and torch.allclose(fake_seen, torch.cat([a, fake], 1))
    expected = D_HALF * D_LOSSES["minimax"](nets["D"].net(real_seen), nets["D"].net(fake_seen))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_an_unconditional_pix2pix_d_sees_the_image_alone():
    ctx, nets, a, b = paired_ctx(100.0, 1.0, conditional=False)
    paired_translation.d_term(ctx)
    assert torch.equal(nets["D"].seen[0], b)


# ---- ganomaly ----

class TinyEDE(nn.Module):
    """Encoder-decoder-encoder with 1x1 convs: (x_hat, z, z_hat), as nets/encoder.py's."""

    def __init__(self):
        super().__init__()
        self.e1, self.dec, self.e2 = conv(seed=1), conv(seed=2), conv(seed=3)

    def forward(self, x):
        z = self.e1(x)
        x_hat = torch.tanh(self.dec(z))
        return x_hat, z, self.e2(x_hat)


class FeatureD(nn.Module):
    def __init__(self, seed=4):
        super().__init__()
        self.body, self.out = conv(1, 2, seed), conv(2, 1, seed + 1)

    def features(self, x):
        return torch.tanh(self.body(x))

    def forward(self, x):
        return self.out(self.features(x)).mean((1, 2, 3))


def test_ganomaly_g_loss_weighs_adversarial_contextual_and_encoder_terms():
    nets = {"G": TinyEDE(), "D": FeatureD()}
    x = images(seed=10)
    ctx = ganomaly.GanomalyContext(nets=nets, **no_opt(), drawn=StepBatch(lambda: (x, None)))
    loss, stats = ganomaly.g_term(2.0, 50.0, 3.0, ctx)
    with torch.no_grad():
        x_hat, z, z_hat = nets["G"](x)
        adv = F.mse_loss(nets["D"].features(x_hat), nets["D"].features(x))
        con = (x - x_hat).abs().mean()
        enc = F.mse_loss(z_hat, z)
    assert loss.item() == pytest.approx((2.0 * adv + 50.0 * con + 3.0 * enc).item(), rel=1e-5)
    assert min(adv, con, enc) > 0


def test_ganomaly_d_takes_images_as_real_and_reconstructions_as_fake():
    nets = {"G": TinyEDE(), "D": FeatureD()}
    x = images(seed=10)
    ctx = ganomaly.GanomalyContext(nets=nets, **no_opt(), drawn=StepBatch(lambda: (x, None)))
    loss, stats = ganomaly.d_term(ctx)
    with torch.no_grad():
        real, fake = nets["D"](x), nets["D"](nets["G"](x)[0])
    assert loss.item() == pytest.approx((F.softplus(-real).mean() + F.softplus(fake).mean()).item(), rel=1e-5)
    assert stats["D_real"].item() == pytest.approx(torch.sigmoid(real).mean().item(), rel=1e-6)


# ---- fanogan ----

def test_fanogan_encoder_loss_is_residual_plus_kappa_times_the_feature_residual():
    G, D, E = conv(seed=1), FeatureD(), conv(seed=3)
    x = images(seed=10)
    ctx = SimpleNamespace(real=SimpleNamespace(next=lambda: (x, None)), nets={"G": G, "D": D, "E": E},
                          forward_net=lambda name: {"E": E}[name])
    loss, stats = fanogan.izi_f_term(0.4, ctx)
    with torch.no_grad():
        x_rec = G(E(x))
        image = F.mse_loss(x_rec, x)
        feature = F.mse_loss(D.features(x_rec), D.features(x))
    assert loss.item() == pytest.approx((image + 0.4 * feature).item(), rel=1e-5)
    assert stats["izi_feature"].item() == pytest.approx(feature.item(), rel=1e-5) and feature > 0


# ---- srresnet / srgan ----

class SRD(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.out = conv(1, 2, 7), conv(2, 1, 8)

    def feature_maps(self, x):
        return torch.tanh(self.body(x))

    def forward(self, x):
        return self.out(self.feature_maps(x)).mean((1, 2, 3))


def sr_ctx(*overrides):
    cfg = config.resolve(presets.load_preset("srgan-x4")[0], ["data.name=digits", *overrides])
    G = nn.Sequential(nn.Upsample(scale_factor=2), conv(seed=1))
    nets = {"G": G, "D": SRD()}
    lr, hr = images(seed=10).add(1).div(2)[:, :, :2, :2], images(seed=11).add(1).div(2)
    d_name, g_name = superres.ADVERSARIAL[cfg.superres.adversarial]  # the recipe's own pick from the one registry
    ctx = superres.SRContext(nets=nets, **no_opt(), drawn=StepBatch(lambda: (lr, hr)), cfg=cfg,
                             d_loss=D_LOSSES[d_name], g_loss=G_LOSSES[g_name])
    return ctx, nets, lr, hr


@pytest.mark.parametrize("adversarial", ["plain", "relativistic"])
def test_srgan_g_loss_weighs_pixel_feature_and_adversarial_terms(adversarial):
    ctx, nets, lr, hr = sr_ctx("superres.pixel_weight=0.5", "superres.feature_loss=d-features",
                               "superres.feature_weight=0.25", "superres.adversarial_weight=0.125",
                               f"superres.adversarial={adversarial}")
    loss, stats = superres.g_term(True, ctx)
    D = nets["D"]
    with torch.no_grad():
        sr = nets["G"](lr)
        pixel = F.mse_loss(sr, hr)
        feature = F.mse_loss(D.feature_maps(sr), D.feature_maps(hr))
        adv = G_LOSSES[superres.ADVERSARIAL[adversarial][1]](D(sr), D(hr))
    assert loss.item() == pytest.approx((0.5 * pixel + 0.25 * feature + 0.125 * adv).item(), rel=1e-5)
    assert set(stats) == {"pixel_mse", "feat_dconv", "g_adversarial"}
    srresnet_loss, _ = superres.g_term(False, ctx)  # srresnet: no adversarial term
    assert srresnet_loss.item() == pytest.approx((0.5 * pixel + 0.25 * feature).item(), rel=1e-5)


def test_srgan_d_takes_hr_as_real_and_sr_as_fake():
    ctx, nets, lr, hr = sr_ctx("superres.adversarial=plain")
    loss, _ = superres.d_term(ctx)
    with torch.no_grad():
        real, fake = nets["D"](hr), nets["D"](nets["G"](lr))
    plain = D_LOSSES[superres.ADVERSARIAL["plain"][0]]
    assert loss.item() == pytest.approx(plain(real, fake).item(), rel=1e-5)
    assert plain(real, fake).item() != pytest.approx(plain(fake, real).item())


# ---- the recipes read their weights from the config ----

def built(tmp_path, preset, *overrides):
    from ganforge.engine.loop import Trainer

    quiet = ["log.tensorboard=false", "log.progress=false", "train.steps=1"]
    return Trainer(config.resolve(presets.load_preset(preset)[0], [*quiet, *overrides]), tmp_path / "run").built


def test_the_cycle_recipe_takes_its_weights_and_pool_from_the_config(tmp_path):
    from translation_data import inverted_npz

    b = built(tmp_path, "cyclegan-inverted", f"data.name={inverted_npz(tmp_path, 40)}", "model.g.blocks=1",
              "model.g.base_channels=4", "model.d.layers=1", "model.d.base_channels=4", "translation.cycle=3",
              "translation.identity=0.25", "translation.pool_size=7", "translation.pool_swap=0.3")
    ctx = b.parts.context
    assert (ctx.cycle, ctx.identity) == (3.0, 0.25)
    assert {(p.size, p.swap) for p in ctx.pools.values()} == {(7, 0.3)}


def test_the_pix2pix_recipe_takes_its_weights_from_the_config(tmp_path):
    from translation_data import edges_npz

    b = built(tmp_path, "pix2pix-edges", f"data.name={edges_npz(tmp_path, 40)}", "model.g.depth=4",
              "model.g.base_channels=4", "model.d.layers=1", "model.d.base_channels=4", "translation.l1=7",
              "translation.gan=0.5", "translation.conditional_d=false")
    ctx = b.parts.context
    assert (ctx.l1_weight, ctx.gan_weight, ctx.conditional) == (7.0, 0.5, False)


def test_the_ganomaly_g_phase_weighs_its_terms_as_configured(tmp_path):
    b = built(tmp_path, "ganomaly-mnist", "data.name=digits", "data.digit=null", "model.z_dim=8",
              "model.g.base_channels=8", "model.d.base_channels=8", "train.batch_size=8", "anomaly.w_adv=2",
              "anomaly.w_con=40", "anomaly.w_enc=3")
    ctx = b.parts.context
    (g_phase,) = [p for p in b.parts.phases if p.name == "G"]
    loss, stats = g_phase.terms[0](ctx)
    expected = 2 * stats["adv"] + 40 * stats["con"] + 3 * stats["enc"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_fanogan_encoder_stage_takes_kappa_and_its_length_from_the_config(tmp_path):
    b = built(tmp_path, "fanogan-mnist", "data.name=digits", "data.digit=null", "model.z_dim=8",
              "model.g.base_channels=8", "model.d.base_channels=8", "train.batch_size=8", "train.steps=50",
              "anomaly.encoder_steps=20", "anomaly.kappa=0.4")
    (encoder,) = [w for w in b.parts.phases if w.name == "E"]
    assert (encoder.start, encoder.stop) == (30, None)
    loss, stats = encoder.phase.terms[0](b.parts.context)
    expected = stats["izi_residual"] + 0.4 * stats["izi_feature"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


# ---- noise-to-image ----

def test_noise_to_image_updates_d_train_d_steps_times_per_g_update(tiny_trainer):
    tr = tiny_trainer("train.steps=2", "train.d_steps=3")
    counts = {"D": 0, "G": 0}
    for name in counts:
        optimizer, step = tr.built.optimizers[name], tr.built.optimizers[name].step

        def counted(*args, _name=name, _step=step, **kwargs):
            counts[_name] += 1
            return _step(*args, **kwargs)

        optimizer.step = counted
    tr.fit()
    assert counts == {"D": 6, "G": 2}
