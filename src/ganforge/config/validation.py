"""Checks on a RunConfig that its types cannot express: ranges, choices, net options.

Also the checks on the layers before they are merged (:func:`check_keys`, :func:`check_kept`), where a
merge would hide what the user wrote. Kept apart from the schema because the valid choices belong to other packages
(the loss names to ``losses``, augmentation policies to ``augment``, each
architecture's options to its builder in ``nets.registry``): asking them
means a new loss or builder is accepted without editing the config code.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from ganforge.config.dormant import dormant
from ganforge.config.schema import NetSpec, OptimConfig, RunConfig
from ganforge.data.anomaly_protocols import is_protocol
from ganforge.errors import ConfigError, did_you_mean
from ganforge.nets import layers, registry
from ganforge.objectives import augment, losses


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def _check_ema(cfg: RunConfig) -> None:
    """The moving average is stated one way: a half-life in images (with an optional ramp-up) or a beta per step."""
    e = cfg.ema
    _check(e.beta is None or e.half_life_images is None,
           f"ema.beta ({e.beta} per step) and ema.half_life_images ({e.half_life_images}) both set the same "
           f"average; keep one and set the other to null (e.g. --set ema.half_life_images=null)")
    if e.beta is not None:
        _check(0 < e.beta < 1, f"ema.beta must be in (0, 1) or null, got {e.beta}")
    if e.half_life_images is not None:
        _check(e.half_life_images > 0, f"ema.half_life_images must be > 0 or null, got {e.half_life_images}")
    if e.rampup is not None:
        _check(e.half_life_images is not None,
               f"ema.rampup ({e.rampup}) ramps up ema.half_life_images, which is null; set ema.half_life_images "
               f"or set ema.rampup=null")
        _check(e.rampup > 0, f"ema.rampup must be > 0 or null, got {e.rampup}")
    _check(e.start >= 0, f"ema.start must be >= 0, got {e.start}")


def _check_finite(value: Any, path: str) -> None:
    """Every number in the config is finite. The range checks below refuse NaN (every comparison with it
    is false) but pass inf (``optim.d.lr=.inf`` > 0), which trains straight into NaN; no key means inf."""
    if isinstance(value, NetSpec):  # its options are written model.d.dropout, not model.d.options.dropout
        _check_finite(value.options, path)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _check_finite(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_finite(item, f"{path}[{i}]")
    elif isinstance(value, float):
        _check(math.isfinite(value), f"{path} must be a finite number, got {value}")


def validate(cfg: RunConfig) -> None:
    """Range and choice checks that types alone cannot express."""
    _check_finite(cfg, "")
    _check_seed(cfg)
    _check_train(cfg)
    _check_reg(cfg)
    _check_loss(cfg)
    _check_augment(cfg)
    _check_ema(cfg)
    _check_guard(cfg)
    _check_model(cfg)
    _check_optim(cfg)
    _check_data(cfg)
    _check_semi(cfg)
    _check_speed(cfg)
    _check_growth(cfg)
    _check_linear_decay(cfg)
    _check_translation(cfg)
    _check_dp(cfg)
    _check_graphs(cfg)
    _check_device(cfg.train.device)
    _check_tabular(cfg)
    _check_nets(cfg)
    _validate_superres(cfg)
    _check_anomaly(cfg)


def _check_seed(cfg: RunConfig) -> None:
    """The run's seed: numpy and torch take it."""
    # numpy's generators refuse a negative seed; the data registry did, as "data.seed=-1 is invalid"
    _check(cfg.seed >= 0, f"seed must be an integer >= 0, got {cfg.seed}")
    _check(cfg.seed <= SEED_MAX, f"seed must be at most 2**63-1 (torch's limit), got {cfg.seed}")


def _check_train(cfg: RunConfig) -> None:
    """The train section's counts, the log section's intervals and the evaluation's."""
    t, lg = cfg.train, cfg.log
    _check(t.steps >= 0, f"train.steps must be >= 0, got {t.steps}")
    _check(t.batch_size >= 1, f"train.batch_size must be >= 1, got {t.batch_size}")
    _check(t.d_steps >= 1, f"train.d_steps must be >= 1, got {t.d_steps}")
    for name in ("every", "sample_every", "checkpoint_every", "sample_count", "keep_checkpoints"):
        value = getattr(lg, name)
        _check(value >= 1, f"log.{name} must be >= 1, got {value}")
    _check(cfg.eval.every >= 0, f"eval.every must be >= 0 (0 = off), got {cfg.eval.every}")
    if cfg.eval.n is not None:
        _check(cfg.eval.n >= 2, f"eval.n must be >= 2 or null, got {cfg.eval.n}")


def _check_reg(cfg: RunConfig) -> None:
    """The regularisers' weights, intervals and the clip."""
    r = cfg.reg
    for name in ("gp", "r1", "ortho", "feature_matching", "historical", "instance_noise", "aux_weight"):
        _check(getattr(r, name) >= 0, f"reg.{name} must be >= 0, got {getattr(r, name)}")
    _check(r.r1_every >= 1, f"reg.r1_every must be >= 1, got {r.r1_every}")
    for name in ("path_length", "drift"):
        _check(getattr(r, name) >= 0, f"reg.{name} must be >= 0, got {getattr(r, name)}")
    _check(r.path_length_every >= 1, f"reg.path_length_every must be >= 1, got {r.path_length_every}")
    _check(0 < r.path_length_decay <= 1, f"reg.path_length_decay must be in (0, 1], got {r.path_length_decay}")
    _check(r.instance_noise_steps >= 1, f"reg.instance_noise_steps must be >= 1, got {r.instance_noise_steps}")
    if r.clip is not None:
        _check(r.clip > 0, f"reg.clip must be > 0 or null, got {r.clip}")
        # WGAN's clipping and R1 are alternative ways to tame D (a weight bound, a zero-centred gradient penalty),
        # and lazy R1's own D phase (reg.r1_every > 1) is not followed by a clip (objectives/r1.py)
        _check(r.r1 == 0, f"reg.clip ({r.clip}) and reg.r1 ({r.r1}) together: they are alternatives, and lazy R1's "
                          f"own D update is not clipped; set reg.r1=0 or reg.clip=null")


def _check_loss(cfg: RunConfig) -> None:
    """The losses' names, then the label smoothing the D loss allows."""
    # the names first: the checks below ask the registry about the loss that loss.d names (DLoss's declared facts)
    for role, names in (("d", losses.D_LOSSES), ("g", losses.G_LOSSES)):
        value = getattr(cfg.loss, role)
        _check(value in names, f"loss.{role} '{value}' is not a known loss{did_you_mean(value, names)}; "
                               f"choose one of {', '.join(sorted(names))}")
    d_loss = losses.D_LOSSES[cfg.loss.d]
    _check(0 < cfg.loss.real_label <= 1, f"loss.real_label must be in (0, 1], got {cfg.loss.real_label}")
    _check(cfg.loss.real_label == 1.0 or d_loss.has_targets,
           f"loss.real_label (label smoothing) needs a loss with targets "
           f"({', '.join(losses.d_losses_where(lambda loss: loss.has_targets))}), "
           f"not '{cfg.loss.d}'; set loss.real_label=1.0")


def _check_augment(cfg: RunConfig) -> None:
    """The augmentation policy and ADA's settings."""
    augment.parse_policy(cfg.augment.policy)
    a = cfg.augment
    _check(a.ada_interval >= 1, f"augment.ada_interval must be >= 1, got {a.ada_interval}")
    _check(a.ada_kimg > 0, f"augment.ada_kimg must be > 0, got {a.ada_kimg}")
    if a.ada_target is not None:
        _check(0 < a.ada_target < 1, f"augment.ada_target must be in (0, 1) or null, got {a.ada_target}")
        # auto (the dcgan-mnist family's default) leaves ADA's D phase eager on CUDA with one warning
        _check(cfg.speed.graphs is not True, "augment.ada_target (ADA) adjusts p on the host, so its D update "
                                             "cannot be captured; set speed.graphs=auto or false")


def _check_guard(cfg: RunConfig) -> None:
    """The divergence guard, and the collapse monitor's batch (log.diversity_n) it watches."""
    d_loss, lg = losses.D_LOSSES[cfg.loss.d], cfg.log
    g = cfg.guard
    _check(g.action in ("stop", "rollback"), f"guard.action must be stop or rollback, got '{g.action}'")
    _check(g.max_retries >= 0, f"guard.max_retries must be >= 0, got {g.max_retries}")
    _check(0 < g.lr_factor <= 1, f"guard.lr_factor must be in (0, 1], got {g.lr_factor}")
    _check(g.collapse_steps >= 1, f"guard.collapse_steps must be >= 1, got {g.collapse_steps}")
    # a threshold on a probability, mean D(G(z)) < collapse_d_fake: 1 fires on any step D's loss allows
    _check(g.collapse_d_fake is None or 0 < g.collapse_d_fake <= 1,
           f"guard.collapse_d_fake must be in (0, 1] or null, got {g.collapse_d_fake}")
    _check(g.collapse_d_loss > 0, f"guard.collapse_d_loss must be > 0, got {g.collapse_d_loss}")
    _check(g.collapse_d_fake is None or d_loss.shows_probability,
           f"guard.collapse_d_fake is a threshold on mean D(G(z)) as a probability, which D shows only under "
           f"loss.d={' or '.join(losses.d_losses_where(lambda loss: loss.shows_probability))} "
           f"('{cfg.loss.d}' shows raw scores); set guard.collapse_d_fake=null, or watch G's "
           f"variety with guard.stop_on_diversity=true")
    _check(g.collapse_diversity >= 0, f"guard.collapse_diversity must be >= 0, got {g.collapse_diversity}")
    _check(g.diversity_warmup >= 0, f"guard.diversity_warmup must be >= 0, got {g.diversity_warmup}")
    _check(lg.diversity_n == 0 or lg.diversity_n >= 2,
           f"log.diversity_n must be 0 (off) or >= 2 (distances need pairs), got {lg.diversity_n}")


def _check_model(cfg: RunConfig) -> None:
    """The noise G reads (model.z_dim, model.z_dist)."""
    _check(cfg.model.z_dim >= 1, f"model.z_dim must be >= 1, got {cfg.model.z_dim}")
    z_dists = ("uniform", "normal")
    _check(cfg.model.z_dist in z_dists,
           f"model.z_dist must be one of {', '.join(z_dists)}, got '{cfg.model.z_dist}'"
           f"{did_you_mean(cfg.model.z_dist, z_dists)}")


def _check_optim(cfg: RunConfig) -> None:
    """Each optimiser's name and ranges."""
    for role in ("g", "d"):
        o: OptimConfig = getattr(cfg.optim, role)
        opts = ("sgd", "adam", "rmsprop")
        _check(o.name in opts, f"optim.{role}.name must be one of {', '.join(opts)}, got '{o.name}'"
                               f"{did_you_mean(o.name, opts)}")
        _check(o.lr > 0, f"optim.{role}.lr must be > 0, got {o.lr}")
        _check(o.lr_decay >= 1.0, f"optim.{role}.lr_decay must be >= 1 (1 = constant), got {o.lr_decay}")
        _check(0 <= o.momentum < 1, f"optim.{role}.momentum must be in [0, 1), got {o.momentum}")
        _check(all(0 <= b < 1 for b in o.betas), f"optim.{role}.betas must both be in [0, 1), got {list(o.betas)}")
        _check(o.momentum_ramp_epochs >= 2,
               f"optim.{role}.momentum_ramp_epochs must be >= 2, got {o.momentum_ramp_epochs}")
        # torch's optimisers refuse a negative decay, and momentum_final is the momentum the ramp ends at
        _check(o.weight_decay >= 0, f"optim.{role}.weight_decay must be >= 0 (0 = off), got {o.weight_decay}")
        _check(o.momentum_final is None or 0 <= o.momentum_final < 1,
               f"optim.{role}.momentum_final must be in [0, 1) or null (constant momentum), got {o.momentum_final}")
        _check(o.lr_min >= 0, f"optim.{role}.lr_min (the decayed learning rate's floor) must be >= 0, got {o.lr_min}")


def _check_data(cfg: RunConfig) -> None:
    """The data section's sizes, limits and label seed."""
    if cfg.data.channels is not None:
        _check(cfg.data.channels in (1, 3), f"data.channels must be 1, 3 or null, got {cfg.data.channels}")
    _check(cfg.data.size is None or cfg.data.size >= 1, f"data.size must be an integer >= 1 or null, got {cfg.data.size}")
    _check(cfg.data.limit is None or cfg.data.limit >= 1,
           f"data.limit must be an integer >= 1 or null (every image), got {cfg.data.limit}")
    if cfg.data.resolution is not None:
        _check(cfg.data.resolution >= 1, f"data.resolution must be >= 1, got {cfg.data.resolution}")
    _check(cfg.data.labels_per_class is None or cfg.data.labels_per_class >= 1,
           f"data.labels_per_class must be an integer >= 1 or null (every label), got {cfg.data.labels_per_class}")
    _check(cfg.data.label_seed is None or cfg.data.label_seed >= 0,  # numpy refuses a negative seed
           f"data.label_seed must be an integer >= 0 or null (the run's seed), got {cfg.data.label_seed}")
    _check(cfg.data.label_seed is None or cfg.data.label_seed <= SEED_MAX,
           f"data.label_seed must be at most 2**63-1 (torch's limit), got {cfg.data.label_seed}")


def _check_semi(cfg: RunConfig) -> None:
    """The semi-supervised section."""
    _check(cfg.semi.unlabelled >= 0, f"semi.unlabelled must be >= 0 (0 = labels only), got {cfg.semi.unlabelled}")


def _check_speed(cfg: RunConfig) -> None:
    """The speed section's choices (speed.graphs is checked after the recipes' sections)."""
    sp = cfg.speed
    _check(sp.precision in ("auto", "fp32", "bf16"),
           f"speed.precision must be auto, fp32 or bf16, got '{sp.precision}'{did_you_mean(sp.precision, ('bf16', 'fp32'))}")
    impls = ("auto", "fused", "foreach", "for-loop")
    _check(sp.optimizer in impls, f"speed.optimizer must be one of {', '.join(impls)}, got '{sp.optimizer}'"
                                  f"{did_you_mean(sp.optimizer, impls)}")
    modes = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
    _check(sp.compile in (True, False) or sp.compile in modes,
           f"speed.compile must be true, false or a torch.compile mode ({', '.join(modes)}), got {sp.compile!r}")
    for name in ("channels_last", "tf32", "cudnn_benchmark"):
        value = getattr(sp, name)
        _check(value in (True, False, "auto"), f"speed.{name} must be true, false or auto, got {value!r}")


def _check_growth(cfg: RunConfig) -> None:
    """Progressive growing's images per stage."""
    gr = cfg.growth
    _check(gr.fade_images >= 0, f"growth.fade_images must be >= 0, got {gr.fade_images}")
    _check(gr.stable_images >= 0, f"growth.stable_images must be >= 0, got {gr.stable_images}")
    _check(gr.fade_images + gr.stable_images > 0, "growth.fade_images and growth.stable_images are both 0, which "
                                                 "leaves no images for any stage; set growth.stable_images to "
                                                 "the images each stage trains on (progan-mnist: 10000)")


def _check_linear_decay(cfg: RunConfig) -> None:
    """Each optimiser's linear learning-rate decay."""
    for role in ("g", "d"):
        o = getattr(cfg.optim, role)
        if o.linear_decay_start is not None:
            _check(o.linear_decay_start >= 0, f"optim.{role}.linear_decay_start must be >= 0 or null, "
                                              f"got {o.linear_decay_start}")
            _check(o.linear_decay_steps >= 1, f"optim.{role}.linear_decay_steps must be >= 1, "
                                              f"got {o.linear_decay_steps}")
            _check(o.lr_decay == 1.0, f"optim.{role}.linear_decay_start and lr_decay={o.lr_decay} are two schedules; "
                                      f"set optim.{role}.lr_decay=1.0 to use the linear decay")
            _check_decay_reaches_the_end(cfg, role, o)


def _check_translation(cfg: RunConfig) -> None:
    """The translation section's weights and image pool."""
    tr = cfg.translation
    for name in ("l1", "gan", "cycle", "identity"):
        _check(getattr(tr, name) >= 0, f"translation.{name} must be >= 0, got {getattr(tr, name)}")
    _check(tr.pool_size >= 0, f"translation.pool_size must be >= 0 (0 = no pool), got {tr.pool_size}")
    _check(0 <= tr.pool_swap <= 1, f"translation.pool_swap must be in [0, 1], got {tr.pool_swap}")
    _check(tr.test_mode in ("eval", "train"), f"translation.test_mode must be eval or train, got '{tr.test_mode}'")
    _check(tr.l1 > 0 or tr.gan > 0, "translation.l1 and translation.gan are both 0, so G has no loss; "
                                    "set one of them above 0")


def _check_dp(cfg: RunConfig) -> None:
    """The DP-SGD section."""
    dp = cfg.dp
    _check(dp.noise_multiplier >= 0, f"dp.noise_multiplier must be >= 0, got {dp.noise_multiplier}")
    _check(dp.max_grad_norm > 0, f"dp.max_grad_norm must be > 0, got {dp.max_grad_norm}")
    _check(0 < dp.delta < 1, f"dp.delta must be in (0, 1), got {dp.delta}")


def _check_graphs(cfg: RunConfig) -> None:
    """speed.graphs: true, false or auto."""
    sp = cfg.speed
    _check(sp.graphs in (True, False, "auto"), f"speed.graphs must be true, false or auto, got {sp.graphs!r}")


def _check_nets(cfg: RunConfig) -> None:
    """The two networks' specs (against their builders), then D's minibatch-std groups."""
    registry.check_spec("generator", cfg.model.g, "model.g")
    registry.check_spec("discriminator", cfg.model.d, "model.d")
    _check_mbstd_group(cfg)


# The largest seed: torch.manual_seed takes an int64 (the run adds small stream offsets to it, training/seeds.py,
# which stay inside torch's uint64 range from here), numpy any integer >= 0.
SEED_MAX = 2**63 - 1


def _check_device(name: str) -> None:
    """train.device must be a name torch knows ("banana" failed only once the run had started); whether a
    CUDA device exists is the run's check (engine/build.py), so a GPU run can be dry-run on a laptop."""
    if name == "auto":
        return
    try:
        torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"train.device '{name}' is not a device; use auto, cpu, cuda or cuda:N") from None


def _check_tabular(cfg: RunConfig) -> None:
    """The tabular section's ranges (recipes/tabular.py reads it), here so --dry-run refuses them too."""
    t = cfg.tabular
    _check(t.cond >= 0, f"tabular.cond must be >= 0 (0 = no conditional cross-entropy), got {t.cond}")
    _check(t.epochs is None or t.epochs >= 1,
           f"tabular.epochs must be >= 1, or null to train for train.steps, got {t.epochs}")
    _check(t.score_rows >= 0, f"tabular.score_rows must be >= 0 (0 = no convergence figure), got {t.score_rows}")


def _check_mbstd_group(cfg: RunConfig) -> None:
    """A D with a minibatch-std layer splits each batch into groups: refuse a batch that does not split
    before the run directory is made (the group stated, or its builder's default; the layer itself checks the
    batches it is given, split among processes)."""
    group = registry.resolved_options("discriminator", cfg.model.d).get("mbstd_group")
    if isinstance(group, int) and group >= 1:
        problem = layers.mbstd_group_problem(group, cfg.train.batch_size)
        _check(problem is None, problem or "")
        n = cfg.log.diversity_n  # the collapse monitor passes its fixed batch of G's samples through D at once
        _check(n <= group or n % group == 0,
               f"log.diversity_n={n} does not split into groups of model.d.mbstd_group={group} for the minibatch "
               f"std (the collapse monitor passes its fixed batch through D at once); set log.diversity_n to a "
               f"multiple of {group} (e.g. {max(group, n - n % group)}), or 0 to turn the monitor off")


SR_PIXEL_LOSSES = ("mse", "l1")
SR_ADVERSARIAL = ("plain", "relativistic")
SR_FEATURE_LOSSES = ("none", "vgg19", "d-features")


def _validate_superres(cfg: RunConfig) -> None:
    """The super-resolution section (read only by the srresnet and srgan recipes)."""
    s = cfg.superres
    if s.hr_crop is not None:
        _check(s.hr_crop >= 2, f"superres.hr_crop must be >= 2 or null (the whole image), got {s.hr_crop}")
    for name, value, choices in (("pixel_loss", s.pixel_loss, SR_PIXEL_LOSSES),
                                 ("adversarial", s.adversarial, SR_ADVERSARIAL),
                                 ("feature_loss", s.feature_loss, SR_FEATURE_LOSSES)):
        _check(value in choices, f"superres.{name} must be one of {', '.join(choices)}, got '{value}'"
                                 f"{did_you_mean(str(value), choices)}")
    for name in ("pixel_weight", "adversarial_weight", "feature_weight"):
        _check(getattr(s, name) >= 0, f"superres.{name} must be >= 0, got {getattr(s, name)}")


def _check_anomaly(cfg: RunConfig) -> None:
    """The anomaly section's ranges (ganforge.anomaly and its recipes) and data.digit."""
    a = cfg.anomaly
    if cfg.data.digit is not None:
        _check(0 <= cfg.data.digit <= 9, f"data.digit must be a digit 0-9 or null, got {cfg.data.digit}")
    _check(a.encoder_steps >= 0, f"anomaly.encoder_steps must be >= 0, got {a.encoder_steps}")
    _check(a.encoder_steps < cfg.train.steps or cfg.train.steps == 0 or a.encoder_steps == 0,
           f"anomaly.encoder_steps ({a.encoder_steps}) must be less than train.steps ({cfg.train.steps}): the "
           f"steps before it train the GAN; raise train.steps or lower anomaly.encoder_steps")
    for name in ("kappa", "w_adv", "w_con", "w_enc"):
        _check(getattr(a, name) >= 0, f"anomaly.{name} must be >= 0, got {getattr(a, name)}")
    _check(a.anogan_steps >= 1, f"anomaly.anogan_steps must be >= 1, got {a.anogan_steps}")
    _check(0 <= a.anogan_lambda <= 1, f"anomaly.anogan_lambda must be in [0, 1], got {a.anogan_lambda}")
    _check(a.anogan_lr > 0, f"anomaly.anogan_lr must be > 0, got {a.anogan_lr}")
    _check(0 < a.threshold_quantile < 1,
           f"anomaly.threshold_quantile must be in (0, 1), got {a.threshold_quantile}")
    _check(cfg.data.split == "train" or not is_protocol(cfg.data.name),
           f"data.split={cfg.data.split} would train on images that anomaly eval then uses ({cfg.data.name}'s valid "
           f"split fixes the threshold, its test split is measured); set data.split=train")


def _check_decay_reaches_the_end(cfg: RunConfig, role: str, o: OptimConfig) -> None:
    """A linear decay counts updates, not a share of the run: a preset's 750 + 750 under ``--steps 3000`` took
    the lr to 0 at update 1500 and trained the other half at lr 0, silently. The papers' schedule ends with
    the run; a decay that ends before it is refused with the numbers that do (one that ends after it just
    stops early, as a shortened run of the paper's schedule does)."""
    if f"optim.{role}.linear_decay_start" in dormant(cfg):
        return  # this network is not trained (pix2pix's L1 alone): the dormant check names what is unread
    updates = cfg.train.steps * (cfg.train.d_steps if role == "d" else 1)
    ends = o.linear_decay_start + o.linear_decay_steps
    if 0 < ends < updates:
        half = updates // 2
        who = "G" if role == "g" else f"D ({cfg.train.d_steps} a step)"
        raise ConfigError(f"optim.{role}.linear_decay_start={o.linear_decay_start} + linear_decay_steps="
                          f"{o.linear_decay_steps} take the lr to 0 at update {ends}, but train.steps="
                          f"{cfg.train.steps} gives {who} {updates} updates, the last {updates - ends} at lr 0; "
                          f"scale the decay with the run, e.g. --set optim.{role}.linear_decay_start={half} --set "
                          f"optim.{role}.linear_decay_steps={updates - half} (constant for half, then to 0)")


__all__ = ["validate"]
