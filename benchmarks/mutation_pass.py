"""A focused mutation pass: break one defining line of a recipe, regulariser or net, and see a test fail.

Each mutation below names a file under ``src/ganforge``, an exact snippet of it, its replacement and
what the change means (a weight ignored, a sign flipped, an output dropped, a flag ignored, two
arguments swapped), with the fast test files (or test ids) that should notice. For each one the
script applies the change, runs ``python -m pytest -x -q`` on those tests and records *killed* (a test
failed) or *survived* (all passed). docs/testing.md has the table of the last pass and explains every
survivor.

    nice -n 10 python benchmarks/mutation_pass.py                  # the whole pass (~15 min of CPU)
    nice -n 10 python benchmarks/mutation_pass.py --only cycle-weight-ignored
    python benchmarks/mutation_pass.py --check                     # every snippet still found once?

**It never writes to the working tree.** Other people edit ``src/`` while a pass runs, so a mutated
file must never be seen there, even for a second. The script copies ``src/ganforge`` once into a
temporary folder, applies each mutation to the copy only, and runs the tests with that copy first on
``PYTHONPATH`` (checked before the pass: ``import ganforge`` must resolve to the copy). Around each
test run the mutated copy is restored in a ``finally`` and compared byte for byte with what was read;
the pass stops if the copy changed on disk in between or does not come back identical. A snippet that
is not found exactly once (the code moved on) is reported as *not applied*, not counted.

Each test run is ``pytest.main`` in a child forked from a process that has already imported torch and
the other heavy libraries (but not ganforge), so a run costs its tests and ganforge's import, not a new
interpreter; on two shared cores that is what makes ~60 mutations fit in a quarter of an hour.

Why not mutmut (PyPI): it mutates every operator of every line it is pointed at and runs the chosen
tests for each, which for recipes/, objectives/ and nets/ is thousands of mutants; at ~10-20 s per
test run on two shared cores that is days, not the quarter of an hour there is. It also rewrites the
files in place, which other people are editing. A named list aims each mutation at a line that defines
a technique, so every survivor is a real gap or a stated equivalence.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "ganforge"
TIMEOUT = 600  # seconds per test run; a run that takes longer is reported as "timeout" (counted as killed)


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to src/ganforge
    original: str
    replacement: str
    description: str
    tests: tuple[str, ...]  # pytest files or ids, relative to the repository root


T_OBJ = "tests/objectives/test_objectives_wiring.py"
T_DP = "tests/recipes/test_recipes_dp_noise_to_image.py"
T_REG = "tests/objectives/test_objectives_regularizers.py"
T_LOSS = "tests/objectives/test_objectives_losses.py"
T_TECH = "tests/engine/test_engine_techniques.py"
T_REC = "tests/recipes/test_recipes_wiring.py"
T_SG2 = "tests/nets/test_nets_stylegan2.py"
T_SG2W = "tests/nets/test_nets_stylegan2_wiring.py"
T_PL = "tests/objectives/test_objectives_path_length.py"
T_FRECHET = "tests/metrics/test_metrics_frechet.py"
T_SCORE = "tests/anomaly/test_anomaly_scoring.py"
T_DCR = "tests/privacy/test_privacy_distances.py"
T_AUDIT_NEAR = ("tests/privacy/test_privacy_audit.py::"
                "test_near_copies_of_training_images_raise_the_near_copy_and_ratio_flags")


def _rec(*tests: str) -> tuple[str, ...]:
    """Test ids in the recipes wiring file (which also builds trainers: ids keep the pass fast)."""
    return tuple(f"{T_REC}::{t}" for t in tests)


M = Mutation
MUTATIONS: list[Mutation] = [
    # ---- objectives/: every regulariser's weight, defining maths and attach flag ----
    M("gp-weight-ignored", "objectives/gradient_penalty.py", "return weight * gp, {", "return gp, {",
      "gradient penalty: reg.gp ignored (weight 1)", (T_OBJ,)),
    M("gp-no-minus-one", "objectives/gradient_penalty.py", ".norm(2, dim=1) - 1).pow(2)", ".norm(2, dim=1)).pow(2)",
      "gradient penalty: ||grad||^2 instead of (||grad|| - 1)^2", (T_REG,)),
    M("gp-no-interpolation", "objectives/gradient_penalty.py",
      "x_hat = eps * real.detach() + (1 - eps) * fake.detach()", "x_hat = real.detach()",
      "gradient penalty: taken at real data, not at interpolates", (T_OBJ,)),
    M("gp-never-attached", "objectives/gradient_penalty.py", "if cfg.reg.gp > 0:", "if cfg.reg.gp > 1e9:",
      "gradient penalty: flag ignored (never attached)", (T_OBJ,)),
    M("r1-interval-factor-dropped", "objectives/r1.py", "return (weight / 2) * gain * r1", "return (weight / 2) * r1",
      "R1: lazy interval k not multiplied in", (T_OBJ,)),
    M("r1-gain-ignores-d-steps", "objectives/r1.py", "gain = r.r1_every * cfg.train.d_steps", "gain = r.r1_every",
      "R1: lazy gain counts steps, not D updates (weaker with d_steps > 1)", (T_OBJ,)),
    M("r1-not-squared", "objectives/r1.py", "input_gradient(D, real, y).pow(2).sum(1).mean()",
      "input_gradient(D, real, y).abs().sum(1).mean()", "R1: L1 norm of the gradient instead of squared L2",
      (T_REG,)),
    M("r1-every-step", "objectives/r1.py", "after=plan.d, every=r.r1_every", "after=plan.d, every=1",
      "R1: reg.r1_every ignored (runs every step)", (T_OBJ,)),
    M("lazy-betas-uncorrected", "objectives/registry.py",
      "return replace(opt, lr=opt.lr * c, betas=tuple(b ** c for b in opt.betas))",
      "return replace(opt, lr=opt.lr * c)", "lazy regularisation: Adam betas not corrected", (T_OBJ,)),
    M("drift-weight-ignored", "objectives/drift.py", "return weight * drift, {", "return drift, {",
      "drift: reg.drift ignored", (T_OBJ,)),
    M("drift-not-squared", "objectives/drift.py", "batch_mean(ctx.d_logits(ctx.shared.real, y).pow(2))",
      "batch_mean(ctx.d_logits(ctx.shared.real, y))", "drift: mean logit instead of mean squared logit", (T_OBJ,)),
    M("aux-fake-term-ignored", "objectives/aux_classifier.py", "    if on_fake:\n", "    if False:\n",
      "ACGAN: reg.aux_on_fake ignored (D never learns fake classes)", (T_OBJ,)),
    M("aux-g-weight-ignored", "objectives/aux_classifier.py", "return weight * loss, {\"aux_G\"",
      "return loss, {\"aux_G\"", "ACGAN: reg.aux_weight ignored in G's term", (T_OBJ,)),
    M("fm-weight-ignored", "objectives/feature_matching.py", "return weight * fm, {", "return fm, {",
      "feature matching: weight ignored", (T_OBJ,)),
    M("fm-no-gradient-to-g", "objectives/feature_matching.py", "- fake_features.mean(0)).pow(2)",
      "- fake_features.detach().mean(0)).pow(2)", "feature matching: output detached (G gets no gradient)", (T_OBJ,)),
    M("ortho-diagonal-kept", "objectives/orthogonal.py",
      "off = gram * (1 - torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype))", "off = gram",
      "orthogonal: the diagonal is penalised too (full ||W W^T||)", (T_REG,)),
    M("ortho-on-wrong-net", "objectives/orthogonal.py", "partial(orthogonal_term, cfg.reg.ortho, plan.g)",
      "partial(orthogonal_term, cfg.reg.ortho, plan.d)", "orthogonal: penalises D's weights in G's phase", (T_OBJ,)),
    M("historical-hook-dropped", "objectives/historical.py", "        plan.add_hook(name, average.update)\n", "",
      "historical averaging: the running mean is never updated", (T_OBJ,)),
    M("historical-not-a-mean", "objectives/historical.py", "alpha=1.0 / self.count)", "alpha=1.0)",
      "historical averaging: keeps the last weights, not their mean", (T_OBJ,)),
    M("clip-on-g", "objectives/weight_clipping.py", "plan.add_hook(plan.d, clipper(plan.nets[plan.d], cfg.reg.clip))",
      "plan.add_hook(plan.g, clipper(plan.nets[plan.g], cfg.reg.clip))", "weight clipping: clips G, not D", (T_OBJ,)),
    M("pl-interval-factor-dropped", "objectives/path_length.py", "return weight * every * penalty,",
      "return weight * penalty,", "path length: lazy interval k not multiplied in", (T_SG2W,)),
    M("pl-mean-not-decayed", "objectives/path_length.py", "state.mean.lerp_(lengths.mean().float(), decay)",
      "state.mean.lerp_(lengths.mean().float(), 1.0)", "path length: reg.path_length_decay ignored", (T_SG2W,)),
    M("instance-noise-not-annealed", "objectives/augment.py", "sigma = sigma0 * max(0.0, 1.0 - step / span)",
      "sigma = sigma0", "instance noise: never annealed", (T_TECH + "::test_instance_noise_anneals_to_zero",)),
    M("diffaugment-skipped", "objectives/augment.py", "if augment is not None and x.dim() == 4:", "if False:",
      "DiffAugment: policy ignored", (T_TECH + "::test_diffaugment_sees_real_and_fake_alike",)),
    M("d-loss-real-fake-swapped", "objectives/adversarial.py",
      "fake, y_fake)\n    return ctx.d_loss(real_logits, fake_logits), d_shown(",
      "fake, y_fake)\n    return ctx.d_loss(fake_logits, real_logits), d_shown(", "adversarial: D's real and fake logits swapped", (T_OBJ,)),
    M("label-smoothing-ignored", "objectives/losses.py",
      "real = real_label * F.softplus(-real_logits) + (1 - real_label) * F.softplus(real_logits)",
      "real = F.softplus(-real_logits)", "minimax D loss: loss.real_label ignored", (T_LOSS,)),
    M("non-saturating-sign", "objectives/losses.py", "return F.softplus(-fake_logits).mean()",
      "return F.softplus(fake_logits).mean()", "non-saturating G loss: sign flipped", (T_LOSS,)),
    M("translation-d-not-halved", "objectives/translation.py", "D_HALF = 0.5", "D_HALF = 1.0",
      "translation: D's loss not halved", ("tests/objectives/test_objectives_translation.py",)),
    M("translation-d-unconditional", "objectives/translation.py",
      "return torch.cat([a, image], 1) if conditional else image", "return image",
      "pix2pix: conditional D does not see the input", ("tests/objectives/test_objectives_translation.py",)),
    M("translation-g-lsgan-halved", "objectives/losses.py", "    return ((fake_logits - 1) ** 2).mean()",
      "    return 0.5 * ((fake_logits - 1) ** 2).mean()",
      "CycleGAN: G's mse (reference LSGAN) term halved (cycle and identity then weigh twice the paper's)",
      ("tests/objectives/test_objectives_translation.py",)),
    M("relativistic-g-plain", "objectives/losses.py", "    return d_relativistic(fake_logits, real_logits)",
      "    return g_non_saturating(fake_logits)", "ESRGAN G loss: not relativistic", (T_LOSS,)),
    # ---- recipes/: each recipe's own weights, flags and data flow ----
    M("cycle-weight-ignored", "recipes/cycle_translation.py",
      "loss = adversarial + ctx.cycle * (forward_cycle + backward_cycle)",
      "loss = adversarial + (forward_cycle + backward_cycle)", "CycleGAN: translation.cycle ignored (the issue's)",
      _rec("test_cycle_g_loss_is_adversarial_plus_weighted_cycles_and_identity")),
    M("cycle-backward-dropped", "recipes/cycle_translation.py",
      "loss = adversarial + ctx.cycle * (forward_cycle + backward_cycle)",
      "loss = adversarial + ctx.cycle * forward_cycle", "CycleGAN: the backward cycle is dropped",
      _rec("test_cycle_g_loss_is_adversarial_plus_weighted_cycles_and_identity")),
    M("cycle-identity-weight", "recipes/cycle_translation.py", "loss = loss + ctx.cycle * ctx.identity * same",
      "loss = loss + ctx.identity * same", "CycleGAN: identity not scaled by the cycle weight",
      _rec("test_cycle_g_loss_is_adversarial_plus_weighted_cycles_and_identity")),
    M("pool-output-discarded", "recipes/cycle_translation.py", "fake = ctx.pools[domain].query(fake)",
      "ctx.pools[domain].query(fake)", "CycleGAN: the image pool's output discarded (the issue's)",
      _rec("test_cycle_d_judges_real_images_against_the_pools_output")),
    M("cycle-config-ignored", "recipes/cycle_translation.py", "cycle=tr.cycle, identity=tr.identity",
      "cycle=10.0, identity=tr.identity", "CycleGAN: translation.cycle not read from the config",
      _rec("test_the_cycle_recipe_takes_its_weights_and_pool_from_the_config")),
    M("pix2pix-l1-weight-ignored", "recipes/paired_translation.py", "loss = ctx.l1_weight * distance",
      "loss = distance", "pix2pix: translation.l1 ignored",
      _rec("test_pix2pix_g_loss_is_l1_weight_times_l1_plus_gan_weight_times_the_conditional_adversarial")),
    M("pix2pix-gan-weight-ignored", "recipes/paired_translation.py", "loss = loss + ctx.gan_weight * adversarial",
      "loss = loss + adversarial", "pix2pix: translation.gan ignored",
      _rec("test_pix2pix_g_loss_is_l1_weight_times_l1_plus_gan_weight_times_the_conditional_adversarial")),
    M("pix2pix-d-real-without-target", "recipes/paired_translation.py",
      "real_logits = d_patches(ctx, \"D\", conditioned(a, b, ctx.conditional))",
      "real_logits = d_patches(ctx, \"D\", conditioned(b, b, ctx.conditional))", "pix2pix: D's real pair is (b, b)",
      _rec("test_pix2pix_d_sees_input_with_target_as_real_and_input_with_output_as_fake")),
    M("pix2pix-config-ignored", "recipes/paired_translation.py", "l1_weight=tr.l1, gan_weight=tr.gan",
      "l1_weight=100.0, gan_weight=tr.gan", "pix2pix: translation.l1 not read from the config",
      _rec("test_the_pix2pix_recipe_takes_its_weights_from_the_config")),
    M("ganomaly-adv-weight-ignored", "recipes/ganomaly.py", "return w_adv * adv + w_con * con + w_enc * enc",
      "return adv + w_con * con + w_enc * enc", "GANomaly: w_adv ignored",
      _rec("test_ganomaly_g_loss_weighs_adversarial_contextual_and_encoder_terms")),
    M("ganomaly-d-swapped", "recipes/ganomaly.py", "loss = d_loss(real, fake)",
      "loss = d_loss(fake, real)", "GANomaly: D's real and fake swapped",
      (*_rec("test_ganomaly_d_takes_images_as_real_and_reconstructions_as_fake"),
       "tests/recipes/test_recipes_ganomaly.py")),
    M("ganomaly-config-ignored", "recipes/ganomaly.py", "partial(g_term, a.w_adv, a.w_con, a.w_enc)",
      "partial(g_term, a.w_adv, 50.0, a.w_enc)", "GANomaly: anomaly.w_con not read from the config",
      _rec("test_the_ganomaly_g_phase_weighs_its_terms_as_configured")),
    M("fanogan-kappa-ignored", "recipes/fanogan.py", "return image + kappa * feature, {",
      "return image + feature, {", "f-AnoGAN: kappa ignored",
      _rec("test_fanogan_encoder_loss_is_residual_plus_kappa_times_the_feature_residual")),
    M("fanogan-no-encoder-stage", "recipes/fanogan.py", "gan_steps = cfg.train.steps - cfg.anomaly.encoder_steps",
      "gan_steps = cfg.train.steps", "f-AnoGAN: the encoder stage never starts",
      _rec("test_the_fanogan_encoder_stage_takes_kappa_and_its_length_from_the_config")),
    M("sr-adversarial-weight-ignored", "recipes/superres.py", "loss = loss + s.adversarial_weight * adv",
      "loss = loss + adv", "SRGAN: superres.adversarial_weight ignored",
      _rec("test_srgan_g_loss_weighs_pixel_feature_and_adversarial_terms")),
    M("sr-feature-weight-ignored", "recipes/superres.py", "loss = loss + s.feature_weight * feat",
      "loss = loss + feat", "SRGAN: superres.feature_weight ignored",
      _rec("test_srgan_g_loss_weighs_pixel_feature_and_adversarial_terms")),
    M("sr-pixel-weight-ignored", "recipes/superres.py", "loss, stats = s.pixel_weight * pixel,",
      "loss, stats = pixel,", "SRResNet/SRGAN: superres.pixel_weight ignored",
      _rec("test_srgan_g_loss_weighs_pixel_feature_and_adversarial_terms")),
    M("sr-d-swapped", "recipes/superres.py", "real, fake = D(hr).float(), D(sr).float()",
      "real, fake = D(sr).float(), D(hr).float()", "SRGAN: D's HR and SR swapped",
      _rec("test_srgan_d_takes_hr_as_real_and_sr_as_fake")),
    M("dp-clip-ignored", "recipes/private.py", "max_grad_norm=cfg.dp.max_grad_norm,",
      "max_grad_norm=1e6,", "DP: dp.max_grad_norm ignored (no clipping)",
      ("tests/recipes/test_recipes_dp_noise_to_image.py::"
       "test_each_update_is_the_mean_of_gradients_clipped_to_max_grad_norm_plus_noise_of_its_multiple",)),
    M("dp-noise-ignored", "recipes/private.py", "noise_multiplier=cfg.dp.noise_multiplier,\n",
      "noise_multiplier=1e-3,\n", "DP: dp.noise_multiplier ignored by the optimiser (the accountant still reads it)",
      ("tests/recipes/test_recipes_dp_noise_to_image.py::"
       "test_each_update_is_the_mean_of_gradients_clipped_to_max_grad_norm_plus_noise_of_its_multiple",)),
    M("dp-relativistic-d-allowed", "objectives/losses.py",
      '    "relativistic": DLoss(d_relativistic),',
      '    "relativistic": DLoss(d_relativistic, per_sample=True),',
      "DP: the relativistic D loss (each logit against the batch's mean) accepted", (T_DP,)),
    M("dp-minibatch-std-allowed", "recipes/private.py",
      "if isinstance(m, MinibatchStd) and m.group_size != 1:", "if isinstance(m, MinibatchStd) and False:",
      "DP: a D with minibatch std over groups (one record moves the others' logits) accepted", (T_DP,)),
    M("dp-training-split-eval-allowed", "recipes/private.py",
      "            if overlaps_training(split, cfg.data.split):", "            if False:",
      "DP: in-training eval on the private training split accepted", (T_DP,)),
    M("dp-batches-shuffled", "recipes/dp_noise_to_image.py", "        return PoissonBatches(env.data.x,",
      "        return super().real_stream(env, output_range)\n        return PoissonBatches(env.data.x,",
      "DP: D's real images drawn as shuffled fixed-size batches, not the Poisson sample the accountant counts",
      (T_DP,)),
    M("dp-fakes-unpaired", "recipes/dp_noise_to_image.py",
      "    fake, y_fake = fake[:k], (y_fake[:k] if y_fake is not None else None)\n", "",
      "DP: a Poisson draw of k real images judged beside max(k, 2) generated ones (not one pair per sample)",
      ("tests/recipes/test_recipes_dp_noise_to_image.py::"
       "test_an_empty_poisson_draw_is_a_noise_only_update_that_is_counted",)),
    M("dp-historical-allowed", "recipes/private.py", "    if cfg.reg.historical > 0:  # a term on D's",
      "    if cfg.reg.historical > 1e9:  # a term on D's",
      "DP: historical averaging accepted, which Opacus's noised gradient silently drops for D",
      ("tests/recipes/test_recipes_dp_noise_to_image.py::"
       "test_a_term_on_d_s_weights_alone_is_refused_as_opacus_would_drop_it",)),
    M("attention-keys-unpooled", "nets/layers.py", "        if min(h, w) >= 2:\n            k, v = F.max_pool2d(",
      "        if False:\n            k, v = F.max_pool2d(",
      "self-attention: every pixel attends over all positions (the references pool keys and values 2x2)",
      ("tests/nets/test_nets_layers.py",)),
    M("ssgan-mnist-theta-halved", "nets/ssgan.py", "MNIST_THETA_STD = 0.1", "MNIST_THETA_STD = 0.05",
      "semi-supervised MNIST D: weight-norm directions drawn at 0.05, not the reference's 0.1",
      ("tests/nets/test_nets_ssgan.py",)),
    M("ssgan-conv-g-init-skipped", "recipes/semi_supervised.py", "            G.init_from_noise(z(cfg.train.batch_size))",
      "            pass", "semi-supervised CIFAR G: the output layer's data-dependent init never run",
      ("tests/nets/test_nets_ssgan_conv.py",)),
    M("dp-epsilon-never-reported", "recipes/private.py", "    parts.log_figures = state.figures\n", "",
      "DP: the accountant counts but no record states epsilon",
      ("tests/recipes/test_recipes_dp_noise_to_image.py::"
       "test_every_log_record_carries_epsilon_after_its_last_update_also_the_run_s_short_last_one",)),
    M("loop-log-figures-dropped", "engine/loop.py", "        figures = self.built.parts.log_figures()",
      "        figures = {}", "engine: a recipe's log_figures never reach the record (DP's epsilon unlogged)",
      ("tests/recipes/test_recipes_dp_noise_to_image.py::"
       "test_every_log_record_carries_epsilon_after_its_last_update_also_the_run_s_short_last_one",)),
    M("guard-judges-log-figures", "engine/loop.py", "reason = self.guard.check(stats, self.built.nets,",
      "reason = self.guard.check({**stats, **figures}, self.built.nets,",
      "engine: the guard judges stated figures as training statistics (a run without DP noise 'diverges')",
      ("tests/recipes/test_recipes_dp_noise_to_image.py::"
       "test_a_run_without_noise_trains_and_states_an_infinite_epsilon_instead_of_diverging",)),
    M("step-batch-ignores-rollbacks", "engine/rollback.py", "    trainer.built.parts.context.restores += 1",
      "    pass", "rollback: a retried step reuses the failed attempt's once-per-step batch (StepBatch)",
      ("tests/engine/test_engine_rollback.py::test_the_lr_factor_compounds_at_each_retry",)),
    M("mlp-deconv-dense-grid", "nets/maxout_conv.py",
      "self.to_grid = nn.Identity() if widths[-1] == cells else nn.Linear(widths[-1], cells)",
      "self.to_grid = nn.Linear(widths[-1], cells)",
      "2014 CIFAR-10 conv G: a dense 8000x8000 layer before the deconv where the yaml only reshapes",
      ("tests/nets/test_nets_maxout_conv.py",)),
    M("translation-lsgan-unwarned", "recipes/translation_model.py", "            warn(LSGAN_CHANGED.format(",
      "            (LSGAN_CHANGED.format(",
      "translation: least-squares (the halved form since round 21) trained without the warning that names mse",
      ("tests/recipes/test_recipes_cycle_translation.py::"
       "test_least_squares_in_a_translation_recipe_is_said_to_be_the_halved_form_and_mse_is_not",)),
    M("label-smoothing-without-targets-allowed", "config/validation.py",
      "    _check(cfg.loss.real_label == 1.0 or d_loss.has_targets,", "    _check(True,",
      "config: label smoothing accepted for a D loss with no targets (DLoss.has_targets ignored)",
      ("tests/config/test_config_validation.py::test_label_smoothing_needs_a_loss_with_targets",)),
    M("sr-d-stats-unshown", "recipes/superres.py", "    return loss, d_shown(ctx, real, fake)",
      "    return loss, {}",
      "SRGAN: D's update logs no D_real/D_fake (the names the progress line and curves.png's D panel read)",
      ("tests/recipes/test_recipes_superres.py::"
       "test_srgan_starts_from_the_srresnet_checkpoint_and_trains_g_against_d",)),
    M("dp-attention-small-batch-allowed", "recipes/private.py", "ATTENTION_MIN_BATCH = 32",
      "ATTENTION_MIN_BATCH = 1", "DP: self-attention at a batch where an empty Poisson draw (a functorch crash) is likely",
      ("tests/recipes/test_recipes_dp_noise_to_image.py::"
       "test_self_attention_at_a_batch_where_a_draw_may_be_empty_is_refused",)),
    M("dp-feature-matching-allowed", "recipes/private.py", "    if cfg.reg.feature_matching > 0:",
      "    if cfg.reg.feature_matching > 1e9:",
      "DP: feature matching (a real batch in G's loss, outside DP-SGD) accepted",
      ("tests/recipes/test_recipes_dp_noise_to_image.py::"
       "test_settings_that_feed_real_data_outside_d_s_private_updates_are_refused",)),
    M("r1-step-as-own-phase", "objectives/r1.py", "if r.r1 > 0 and r.r1_every == 1:",
      "if r.r1 > 0 and r.r1_every == 0:", "R1 every step: its own D phase again (two D optimiser steps a step)",
      (T_OBJ,)),
    M("biggan-embedding-normalised", "nets/biggan.py", "without_spectral_norm(nn.Embedding(", "(nn.Embedding(",
      "BigGAN: G's shared class embedding spectrally normalised (BigGAN-PyTorch keeps it plain)",
      ("tests/nets/test_nets_biggan.py",)),
    M("sg2-mixing-maps-twice", "nets/stylegan2.py", "w2 = w.roll(1, 0)", "w2 = self.map(z.roll(1, 0))",
      "StyleGAN2: the mixing latent mapped again, moving w_avg twice a mixed batch", (T_SG2,)),
    M("fanogan-scores-with-ema", "recipes/fanogan.py", "        return {}\n", "        return super().averaged()\n",
      "f-AnoGAN: scored with G_ema, which its encoder was never fitted to",
      ("tests/recipes/test_recipes_fanogan.py",)),
    M("dp-g-sees-data-mean", "recipes/dp_noise_to_image.py", "        starts where a G without it does.\"\"\"\n        return None",
      "        starts where a G without it does.\"\"\"\n        return super().data_mean(data)",
      "DP: G's output bias starts at the training images' mean, outside DP-SGD",
      ("tests/recipes/test_recipes_dp_noise_to_image.py::test_g_s_output_bias_never_starts_at_the_training_images_mean",)),
    M("progressive-no-growth", "recipes/progressive.py", "phases=[growth, *parts.phases]", "phases=parts.phases",
      "ProGAN: the growth phase is dropped (the nets never grow)",
      ("tests/nets/test_nets_progan.py::test_progan_presets_take_one_d_and_one_g_step",)),
    M("style-mixing-swapped", "recipes/style_based.py", "ws = torch.cat([ws[:, :layer], next(fine)[:, layer:]], 1)",
      "ws = torch.cat([next(fine)[:, :layer], ws[:, layer:]], 1)", "StyleGAN2 sampling: coarse and fine swapped",
      ("tests/recipes/test_recipes_style_based.py",)),
    M("d-steps-ignored", "recipes/noise_to_image.py", "((plan.d, cfg.train.d_steps), (plan.g, 1))",
      "((plan.d, 1), (plan.g, 1))", "noise-to-image: train.d_steps ignored",
      _rec("test_noise_to_image_updates_d_train_d_steps_times_per_g_update")),
    M("augment-not-wired", "recipes/noise_to_image.py", "d_input=objectives.input_transform(cfg),",
      "d_input=lambda x, step: x,", "noise-to-image: augmentation / instance noise never reach D",
      (T_TECH + "::test_diffaugment_sees_real_and_fake_alike",)),
    # ---- nets/: the defining lines of StyleGAN2, ProGAN and equalised lr ----
    M("sg2-demodulate-off", "nets/stylegan2.py", "demodulate=not self.rgb", "demodulate=False",
      "StyleGAN2 G: demodulation off (the issue's)", (T_SG2W,)),
    M("sg2-rgb-demodulated", "nets/stylegan2.py", "demodulate=not self.rgb", "demodulate=True",
      "StyleGAN2 G: toRGB demodulated too", (T_SG2W,)),
    M("sg2-mapping-lr-ignored", "nets/stylegan2.py", "EqualizedLinear(a, b, lr_mul=mapping_lr)",
      "EqualizedLinear(a, b, lr_mul=1.0)", "StyleGAN2 G: mapping lr multiplier ignored", (T_SG2,)),
    M("sg2-w-avg-frozen", "nets/stylegan2.py", "1 - self.w_avg_beta)", "0.0)",
      "StyleGAN2 G: w_avg never tracks w", (T_SG2,)),
    M("sg2-no-pixel-norm", "nets/stylegan2.py", "w = pixel_norm(z)", "w = z",
      "StyleGAN2 G: z not normalised before the mapping", (T_SG2W,)),
    M("sg2-skip-dropped", "nets/stylegan2.py",
      "img = F.interpolate(img, scale_factor=2, mode=\"bilinear\", align_corners=False) + \\",
      "img = 0 * F.interpolate(img, scale_factor=2, mode=\"bilinear\", align_corners=False) + \\",
      "StyleGAN2 G: lower resolutions' toRGB dropped from the skip sum", (T_SG2W,)),
    M("sg2-no-mbstd", "nets/stylegan2.py", "h = lrelu(self.conv(self.mbstd(h)))",
      "h = lrelu(self.conv(torch.cat([h, h[:, :1] * 0], 1)))", "StyleGAN2 D: minibatch std replaced by zeros",
      (T_SG2W,)),
    M("sg2-mixing-never", "nets/stylegan2.py", "if float(torch.rand(())) < self.mixing:", "if False:",
      "StyleGAN2 G: style mixing never happens in training", (T_SG2,)),
    M("progan-g-no-fade", "nets/progan.py", "return old.lerp(new, alpha)", "return new",
      "ProGAN G: no fade-in (new block at full weight)", ("tests/nets/test_nets_progan.py",)),
    M("sampling-labels-share-noise-stream", "sampling.py",
      "self.labels = label_generator(seed, device) if conditional and wanted is None else None",
      "self.labels = self.noise if conditional and wanted is None else None",
      "sampling: random labels drawn from the noise's stream (a chunk size changes every later sample)",
      ("tests/test_sampling.py",)),
    M("sampling-truncation-redraws", "sampling.py", "return torch.special.ndtri(u).clamp_(-t, t).to(z.dtype)",
      "return torch.where(z.abs() > t, torch.randn_like(z).clamp_(-t, t), z)",
      "sampling: z-truncation redraws from the global stream (not the cut distribution's map)",
      ("tests/test_sampling.py",)),
    M("progan-reals-not-faded", "recipes/progressive.py",
      "return fade_reals(x, self.growth.in_effect, self.growth.schedule.levels), y", "return x, y",
      "ProGAN: real images not faded between two resolutions during a stage's fade-in",
      ("tests/recipes/test_recipes_progressive.py",)),
    M("progan-g-output-ignored", "nets/progan.py", "img = self.squash(self.render(z, stage, alpha))",
      "img = self.render(z, stage, alpha)", "ProGAN G: model.g.output ignored (always the linear image)",
      ("tests/nets/test_nets_progan.py",)),
    M("sg2-g-output-ignored", "nets/stylegan2.py", "return self.squash(img)", "return img",
      "StyleGAN2 G: model.g.output ignored (always the linear image)", (T_SG2,)),
    M("equalized-lr-mul-ignored", "nets/equalized.py", "self.scale = gain * lr_mul / math.sqrt(in_features)",
      "self.scale = gain / math.sqrt(in_features)", "equalised linear: lr_mul ignored at run time",
      ("tests/nets/test_nets_equalized.py",)),
    # ---- the other two: the pool itself and LOGAN ----
    M("pool-never-swaps", "training/image_pool.py", "elif p < self.swap:", "elif p < 0.0:",
      "image pool: never returns a past fake", ("tests/training/test_training_image_pool.py",)),
    M("logan-members-swapped", "privacy/membership.py", "**auroc_ci(s_mem, s_non, seed=seed)}",
      "**auroc_ci(s_non, s_mem, seed=seed)}", "LOGAN: members and non-members swapped (the issue's)",
      ("tests/privacy/test_privacy_membership.py::test_logan_calls_the_training_images_members_for_an_overfit_d",)),
    # ---- round 14: metrics, EMA, anomaly scores, the privacy audit, the guard, tabular, the monitor ----
    M("kid-seed-ignored", "metrics/frechet.py",
      "torch.manual_seed(seed)\n        mean, std = metric.compute()\n",
      "mean, std = metric.compute()\n",
      "KID: seed ignored (the subsets follow the global RNG state)",
      (f"{T_FRECHET}::test_kid_depends_on_its_seed_and_not_on_the_global_rng_state",)),
    M("prdc-coverage-le", "metrics/prdc.py", "(_nearest(real, fake) < radii)", "(_nearest(real, fake) <= radii)",
      "coverage: a fake on a ball's edge counts as inside (<= for the strict <)",
      ("tests/metrics/test_metrics_prdc.py::"
       "test_a_real_whose_nearest_fake_is_exactly_on_its_ball_edge_is_not_covered",)),
    M("ema-buffers-not-copied", "training/ema.py", "            e.copy_(b)", "            pass",
      "EMA: buffers (batch-norm running statistics) not copied",
      ("tests/training/test_training_ema.py::test_buffers_such_as_batch_norm_running_stats_are_copied_not_averaged",)),
    M("fanogan-score-kappa-dropped", "anomaly/scoring.py",
      "return image + self.run.config.anomaly.kappa * feature, rec", "return image, rec",
      "f-AnoGAN score: the kappa * feature term dropped",
      (f"{T_SCORE}::test_fanogan_kappa_adds_kappa_times_the_feature_term",)),
    M("anogan-lambda-ignored", "anomaly/scoring.py", "return (1 - lam) * residual + lam * discrimination",
      "return residual", "AnoGAN: anomaly.anogan_lambda ignored (residual only)",
      (f"{T_SCORE}::test_the_anogan_score_is_the_lambda_weighted_loss_at_the_found_code",)),
    M("anogan-seed-ignored", "anomaly/scoring.py", "manual_seed(self.seed)",
      "manual_seed(0)", "AnoGAN: the scorer's seed ignored (the same starting codes for every seed)",
      (f"{T_SCORE}::test_anogan_scores_depend_on_the_seed",)),
    M("residual-map-unscaled", "anomaly/scoring.py", ".abs().mean(1) / (self.hi - self.lo))", ".abs().mean(1))",
      "anomaly residual map: not divided by the image range",
      (f"{T_SCORE}::test_the_residual_map_is_the_pixel_difference_in_units_of_the_image_range",)),
    M("audit-ratio-flag-never", "privacy/audit.py", 'if r["ratio"] < 0.9:', 'if r["ratio"] < 0.0:',
      "privacy audit: the DCR ratio flag never raised", (T_AUDIT_NEAR,)),
    M("audit-nearcopy-flag-never", "privacy/audit.py", 'if r["near_copy_p_value"] < FLAG_P_VALUE and',
      'if False and r["near_copy_p_value"] < FLAG_P_VALUE and', "privacy audit: the near-copy flag never raised",
      (T_AUDIT_NEAR,)),
    M("dcr-pvalue-off-by-one", "privacy/distances.py", "binom.sf(self.near_copies - 1, n",
      "binom.sf(self.near_copies, n", "DCR near-copy p-value: P(X > k) for P(X >= k)",
      (f"{T_DCR}::test_the_near_copy_p_value_is_the_binomial_tail_at_or_above_the_count",)),
    M("dcr-ratio-mean", "privacy/distances.py",
      "return float(np.median(self.synthetic) / max(np.median(self.holdout), 1e-12))",
      "return float(np.mean(self.synthetic) / max(np.mean(self.holdout), 1e-12))", "DCR ratio: means for medians",
      (f"{T_DCR}::test_the_ratio_is_of_medians_not_means",)),
    M("guard-collapse-or", "engine/guard.py", 'collapsed = stats["D_fake"] < c.collapse_d_fake and stats["loss_D"]',
      'collapsed = stats["D_fake"] < c.collapse_d_fake or stats["loss_D"]',
      "divergence guard: collapse on either signal (or for and)",
      ("tests/engine/test_engine_guard.py::test_collapse_needs_both_a_low_d_fake_and_a_low_d_loss",)),
    M("guard-collapse-never-reset", "engine/guard.py",
      "self.collapse_steps = self.collapse_steps + steps if collapsed else 0",
      "self.collapse_steps = self.collapse_steps + steps",
      "divergence guard: a healthy reading does not reset the count",
      ("tests/engine/test_engine_guard.py::"
       "test_collapse_must_hold_for_consecutive_steps_a_healthy_reading_resets_the_count",)),
    M("transform-inverse-alpha-unclipped", "tabular/transform.py",
      "v = np.clip(alpha.astype(np.float64), -1, 1) * 4", "v = alpha.astype(np.float64) * 4",
      "tabular inverse: alpha not clipped to [-1, 1]",
      ("tests/tabular/test_tabular_transform.py::test_alpha_beyond_one_inverts_as_alpha_one",)),
    M("monitor-fixed-real-seed-ignored", "training/monitor.py", "generator=torch.Generator().manual_seed(seed))[:n]",
      "generator=torch.Generator().manual_seed(0))[:n]", "collapse monitor: the fixed real batch ignores its seed",
      ("tests/training/test_training_monitor.py::test_the_fixed_real_batch_is_chosen_by_its_seed",)),
]


def snapshot(dest: Path) -> Path:
    """A private copy of src/ganforge under ``dest/src``; what every mutation is applied to."""
    src = dest / "src"
    shutil.copytree(PACKAGE, src / "ganforge", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return src


def environment(src: Path) -> None:
    """Put the copy first on the import path of this process and of any process a test starts; no
    bytecode is written, so no stale ``.pyc`` of a mutated module can outlive its run."""
    os.environ["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(src))


def preload() -> None:
    """Import the heavy third-party modules once, so each forked test run starts in a second instead of
    paying torch's import (and torch._dynamo's, which the first Adam triggers) again. ganforge itself is
    *not* imported here: every test run imports it afresh, from the mutated copy."""
    import matplotlib  # noqa: F401
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import safetensors.torch  # noqa: F401
    import sklearn.datasets  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import torch
    import torch._dynamo  # noqa: F401
    import yaml  # noqa: F401

    torch.set_num_threads(1)  # one core each: the machine is shared
    if any(name == "ganforge" or name.startswith("ganforge.") for name in sys.modules):
        raise SystemExit("ganforge was imported before the pass: the mutated copy would not be used")


def _forked(fn) -> tuple[int, float]:
    """Run ``fn() -> exit code`` in a forked child (stdout/stderr to /dev/null); (code, seconds); code -9 on timeout."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child
        code = 3
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            code = int(fn())
        finally:
            os._exit(code)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.monotonic() - start
        if time.monotonic() - start > TIMEOUT:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -9, time.monotonic() - start
        time.sleep(0.05)


def check_copy_is_imported(src: Path) -> None:
    def imported_from_copy() -> int:
        import ganforge

        return 0 if Path(ganforge.__file__).resolve().is_relative_to(src.resolve()) else 1

    if _forked(imported_from_copy)[0] != 0:
        raise SystemExit(f"the tests would not import ganforge from the mutated copy in {src}: stopping")


def run_tests(tests: tuple[str, ...]) -> tuple[str, float]:
    """(outcome, seconds): passed / failed / error / timeout, of ``pytest -x -q tests`` in a forked child."""
    import pytest

    def tests_pass() -> int:
        os.chdir(ROOT)
        return int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", *tests]))

    code, seconds = _forked(tests_pass)
    outcome = {0: "passed", 1: "failed", -9: "timeout"}.get(code, "error")
    return outcome, seconds


def apply_and_test(m: Mutation, src: Path) -> dict:
    """Mutate the copy, run the tests, restore the copy (verified byte for byte) whatever happens."""
    target = src / "ganforge" / m.path
    if not target.exists():
        return {"status": "not applied", "detail": "file not found"}
    before = target.read_bytes()
    text = before.decode()
    found = text.count(m.original)
    if found != 1:
        return {"status": "not applied", "detail": f"snippet found {found} times"}
    mutated = text.replace(m.original, m.replacement).encode()
    target.write_bytes(mutated)
    try:
        outcome, seconds = run_tests(m.tests)
    finally:
        now = target.read_bytes()
        target.write_bytes(before)
        if now != mutated:
            raise SystemExit(f"{target} changed on disk during the test run of {m.name}: stopping the pass")
        if target.read_bytes() != before:
            raise SystemExit(f"{target} is not byte-identical after restoring it from {m.name}: stopping the pass")
    status = {"passed": "survived", "failed": "killed", "timeout": "killed (timeout)"}.get(outcome, "killed (error)")
    return {"status": status, "seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="rerun: nice -n 10 python benchmarks/mutation_pass.py --json mutation.json")
    parser.add_argument("--only", action="append", choices=[m.name for m in MUTATIONS], help="run only these")
    parser.add_argument("--check", action="store_true", help="only check that every snippet is found once")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of every test used")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    if args.check:
        bad = [(m.name, (PACKAGE / m.path).read_text().count(m.original)) for m in chosen
               if not (PACKAGE / m.path).exists() or (PACKAGE / m.path).read_text().count(m.original) != 1]
        for name, count in bad:
            print(f"{name}: snippet found {count} times")
        print(f"{len(chosen) - len(bad)} of {len(chosen)} mutations apply")
        return 1 if bad else 0
    with tempfile.TemporaryDirectory(prefix="ganforge-mutation-") as tmp:
        src = snapshot(Path(tmp))
        environment(src)
        preload()
        check_copy_is_imported(src)
        if not args.no_baseline:
            tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
            outcome, seconds = run_tests(tests)
            print(f"baseline (unmutated copy, {len(tests)} test targets): {outcome} in {seconds:.0f}s", flush=True)
            if outcome != "passed":
                print("the tests fail without a mutation: fix that first", file=sys.stderr)
                return 1
        results = []
        for m in chosen:
            r = {**asdict(m), **apply_and_test(m, src)}
            results.append(r)
            print(f"{m.name:<34} {r['status']:<16} {r.get('seconds', '')!s:>6}  {m.description}", flush=True)
    applied = [r for r in results if r["status"] != "not applied"]
    survived = [r for r in applied if r["status"] == "survived"]
    rate = len(survived) / len(applied) if applied else 0.0
    print(f"\n{len(applied)} mutations applied, {len(applied) - len(survived)} killed, {len(survived)} survived "
          f"({rate:.0%}); {len(results) - len(applied)} not applied")
    print("\n| mutation | file | what it breaks | result |\n|---|---|---|---|")
    for r in results:
        print(f"| `{r['name']}` | {r['path']} | {r['description']} | {r['status']} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "survival_rate": rate}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
