"""Keys read only while a switch is on: SGD's momentum with Adam, ADA's interval with ADA off, a pix2pix
D's settings with its GAN term off. Such a key, given a value other than its default while its switch is
off, would change nothing, so it is refused in one line, as a key the recipe never reads is
(:mod:`ganforge.config.reads`); ``--resume`` ignores them, and the default is let through, so that a saved
or restated config loads.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ganforge.config.labels import typed_by_user
from ganforge.config.schema import LossConfig, OptimConfig, RunConfig
from ganforge.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class _Switch:
    """Keys read only while a switch is on: ``state(cfg)`` is the setting that has it off ("KEY=VALUE", KEY
    being the switch's own key), or None when on."""

    keys: tuple[str, ...]
    when: str  # when the keys are read, e.g. "optim.g.name=sgd"
    fix: str  # how to turn it on
    state: Any  # Callable[[RunConfig], str | None]
    # Only keys the user states (--set, flags) are refused, never a preset's: one that extends another with
    # the switch off inherits the other's settings on purpose (pix2pix-edges-l1, the paper's L1-alone ablation).
    explicit_only: bool = False


def _switches() -> list[_Switch]:
    out = []
    for role in ("g", "d"):
        name = lambda c, role=role: getattr(c.optim, role).name  # noqa: E731
        out.append(_Switch(tuple(f"optim.{role}.{k}" for k in ("momentum", "momentum_final", "momentum_ramp_epochs")),
                           f"optim.{role}.name=sgd (SGD's momentum)", f"set optim.{role}.name=sgd",
                           lambda c, name=name, role=role: None if name(c) == "sgd" else f"optim.{role}.name={name(c)}"))
        out.append(_Switch((f"optim.{role}.betas",), f"optim.{role}.name=adam (Adam's betas)",
                           f"set optim.{role}.name=adam",
                           lambda c, name=name, role=role: None if name(c) == "adam" else f"optim.{role}.name={name(c)}"))
    return out + [
        _Switch(("augment.ada_interval", "augment.ada_kimg"), "ADA is on (augment.ada_target set)",
                "set augment.ada_target (the paper's 0.6)",
                lambda c: "augment.ada_target=null" if c.augment.ada_target is None else None),
        _Switch(("guard.max_retries", "guard.lr_factor", "guard.reseed"), "guard.action=rollback",
                "set guard.action=rollback", lambda c: "guard.action=stop" if c.guard.action != "rollback" else None),
        _Switch(("guard.collapse_d_loss",), "the collapse signal is on (guard.collapse_d_fake set)",
                "set guard.collapse_d_fake (its threshold on mean D(G(z)))",
                lambda c: "guard.collapse_d_fake=null" if c.guard.collapse_d_fake is None else None),
        _Switch(("translation.pool_swap",), "the image pool is on (translation.pool_size above 0)",
                "set translation.pool_size (the papers' 50)",
                lambda c: "translation.pool_size=0" if c.translation.pool_size == 0 else None),
        _Switch(("superres.vgg19_weights", "superres.vgg19_sha256"), "superres.feature_loss=vgg19",
                "set superres.feature_loss=vgg19",
                lambda c: None if c.superres.feature_loss == "vgg19" else f"superres.feature_loss={c.superres.feature_loss}"),
        _Switch(("superres.feature_weight",), "a feature loss is on (superres.feature_loss vgg19 or d-features)",
                "set superres.feature_loss",
                lambda c: "superres.feature_loss=none" if c.superres.feature_loss == "none" else None),
        _Switch(("model.d.arch", "train.d_steps", "translation.conditional_d",
                 *(f"optim.d.{f.name}" for f in dataclasses.fields(OptimConfig)),
                 *(f"loss.{f.name}" for f in dataclasses.fields(LossConfig))),
                "pix2pix has its GAN term (translation.gan above 0: D, its optimiser and the losses)",
                "set translation.gan (the paper's 1)",
                lambda c: "translation.gan=0" if c.translation.gan == 0 else None, explicit_only=True),
    ]


def dormant(cfg: RunConfig) -> dict[str, tuple[_Switch, str]]:
    """Dotted key -> (its switch, the setting that has it off) for each key ``cfg``'s switches leave unread."""
    return {key: (sw, state) for sw in _switches() if (state := sw.state(cfg)) is not None for key in sw.keys}


def _value(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _states(layer: Any, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(layer, dict) or part not in layer:
            return False
        layer = layer[part]
    return True


def check_dormant(layers: list[tuple[str, dict]], cfg: RunConfig) -> None:
    """A key a layer states that the run reads only while a switch is on, given a value other than its default
    while the switch is off (SGD's momentum with Adam, ADA's interval with ADA off): a one-line ConfigError,
    as for a key the recipe never reads. The default is let through, so a saved or restated config loads.
    A preset's key is let through too when the user turned its switch off (``--set optim.g.name=adam`` on an
    SGD preset, ``--set superres.feature_loss=none`` on srgan-x4): the preset's setting is inherited, not
    stated, and the user cannot remove it from the preset."""
    off, default = dormant(cfg), RunConfig()
    for label, layer in layers:
        for key, (sw, state) in off.items():
            switch_key = state.split("=", 1)[0]
            turned_off_by_user = any(typed_by_user(lbl) and _states(lyr, switch_key) for lbl, lyr in layers)
            if not typed_by_user(label) and (sw.explicit_only or turned_off_by_user):
                continue
            if _states(layer, key) and _value(cfg, key) != _value(default, key):
                value = _value(cfg, key)
                shown = "null" if value is None else str(list(value) if isinstance(value, tuple) else value).lower()
                raise ConfigError(f"{key}={shown} (from {label}) is read only when {sw.when}, and this run has "
                                  f"{state}, so it would change nothing; remove it, or {sw.fix}")


__all__ = ["check_dormant", "dormant"]
