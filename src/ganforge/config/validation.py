"""Checks on a RunConfig that its types cannot express: ranges, choices, net options.

Kept apart from the schema because the valid choices belong to other packages
(the loss names to ``losses``, augmentation policies to ``augment``, each
architecture's options to its builder in ``nets.registry``): asking them
means a new loss or builder is accepted without editing the config code.
"""

from __future__ import annotations

from ganforge.config.schema import OptimConfig, RunConfig
from ganforge.errors import ConfigError, did_you_mean
from ganforge.nets import registry
from ganforge.objectives import augment, losses


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def validate(cfg: RunConfig) -> None:
    """Range and choice checks that types alone cannot express."""
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
    r = cfg.reg
    for name in ("gp", "r1", "ortho", "feature_matching", "historical", "instance_noise", "aux_weight"):
        _check(getattr(r, name) >= 0, f"reg.{name} must be >= 0, got {getattr(r, name)}")
    _check(r.r1_every >= 1, f"reg.r1_every must be >= 1, got {r.r1_every}")
    _check(r.instance_noise_steps >= 1, f"reg.instance_noise_steps must be >= 1, got {r.instance_noise_steps}")
    if r.clip is not None:
        _check(r.clip > 0, f"reg.clip must be > 0 or null, got {r.clip}")
    _check(0 < cfg.loss.real_label <= 1, f"loss.real_label must be in (0, 1], got {cfg.loss.real_label}")
    _check(cfg.loss.real_label == 1.0 or cfg.loss.d in ("minimax", "least-squares"),
           f"loss.real_label (label smoothing) needs a loss with targets (minimax or least-squares), "
           f"not '{cfg.loss.d}'; set loss.real_label=1.0")
    augment.parse_policy(cfg.augment.policy)
    if cfg.ema.beta is not None:
        _check(0 < cfg.ema.beta < 1, f"ema.beta must be in (0, 1) or null, got {cfg.ema.beta}")
    _check(cfg.ema.start >= 0, f"ema.start must be >= 0, got {cfg.ema.start}")
    g = cfg.guard
    _check(g.action in ("stop", "rollback"), f"guard.action must be stop or rollback, got '{g.action}'")
    _check(g.max_retries >= 0, f"guard.max_retries must be >= 0, got {g.max_retries}")
    _check(0 < g.lr_factor <= 1, f"guard.lr_factor must be in (0, 1], got {g.lr_factor}")
    _check(g.collapse_steps >= 1, f"guard.collapse_steps must be >= 1, got {g.collapse_steps}")
    _check(cfg.model.z_dim >= 1, f"model.z_dim must be >= 1, got {cfg.model.z_dim}")
    z_dists = ("uniform", "normal")
    _check(cfg.model.z_dist in z_dists,
           f"model.z_dist must be one of {', '.join(z_dists)}, got '{cfg.model.z_dist}'"
           f"{did_you_mean(cfg.model.z_dist, z_dists)}")
    for role, names in (("d", losses.D_LOSSES), ("g", losses.G_LOSSES)):
        value = getattr(cfg.loss, role)
        _check(value in names, f"loss.{role} '{value}' is not a known loss{did_you_mean(value, names)}; "
                               f"choose one of {', '.join(sorted(names))}")
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
    if cfg.data.channels is not None:
        _check(cfg.data.channels in (1, 3), f"data.channels must be 1, 3 or null, got {cfg.data.channels}")
    _check(cfg.data.size is None or cfg.data.size >= 1, f"data.size must be an integer >= 1 or null, got {cfg.data.size}")
    if cfg.data.resolution is not None:
        _check(cfg.data.resolution >= 1, f"data.resolution must be >= 1, got {cfg.data.resolution}")
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
    _check(sp.graphs in (True, False, "auto"), f"speed.graphs must be true, false or auto, got {sp.graphs!r}")
    registry.check_spec("generator", cfg.model.g, "model.g")
    registry.check_spec("discriminator", cfg.model.d, "model.d")


__all__ = ["validate"]
