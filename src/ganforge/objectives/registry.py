"""How regularisers and extra terms join a run's phases: each registers one ``attach`` function.

A term file (``gradient_penalty.py``, ``r1.py``, ...) holds its maths, its loss term and an
``attach(cfg, plan)`` that reads its own config section and, when that asks for it, adds the
term (or a hook, or a phase) to the :class:`TermPlan` a recipe is assembling. The recipe then
turns the plan into phases. Nothing else names a regulariser: a new one is one new file here
plus its import in ``objectives/__init__.py``.

Order matters, so it is declared here (:data:`ORDER`), not left to import order: terms of one
update are summed in that order and some draw their own data (feature matching takes a fresh real
batch), so a different order is a different run. A new objective adds its name at the end of
``ORDER`` (existing runs stay bitwise the same) and declares the config keys it reads
(``register(name, reads={"reg": {...}})``): a recipe that attaches the objectives reads them all
(:func:`reads`), so ``--set`` refuses them on a recipe that does not (config/reads.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:  # annotations only: the config imports objectives to validate itself
    from ganforge.config import OptimConfig, RunConfig


Tensor = torch.Tensor
# A term maps the step context to (the scalar to minimise, detached statistics to log).
Term = Callable[[Any], tuple[Tensor, dict[str, Tensor]]]


@dataclass
class ExtraPhase:
    """A phase a term needs of its own (lazy R1: every ``every`` steps, after the phase ``after``)."""

    name: str
    net: str
    terms: list[Term]
    after: str
    every: int = 1
    log_loss: bool = True


@dataclass
class TermPlan:
    """What the phases of an adversarial recipe will be made of, filled in by the attach functions.

    ``d`` and ``g`` name the discriminator's and the generator's phases (and networks) of the
    recipe asking; ``terms``/``hooks`` are keyed by phase name; ``stateful`` collects components
    with state that checkpoints must keep (running averages), by checkpoint name.
    """

    nets: dict[str, nn.Module]
    d: str = "D"
    g: str = "G"
    terms: dict[str, list[Term]] = field(default_factory=dict)
    hooks: dict[str, list[Callable[[], None]]] = field(default_factory=dict)
    extra_phases: list[ExtraPhase] = field(default_factory=list)
    stateful: dict[str, Any] = field(default_factory=dict)

    def add_term(self, phase: str, term: Term) -> None:
        self.terms.setdefault(phase, []).append(term)

    def add_hook(self, phase: str, hook: Callable[[], None]) -> None:
        self.hooks.setdefault(phase, []).append(hook)


Attach = Callable[["RunConfig", TermPlan], None]
# The order in which objectives attach: their terms are added to an update, summed and draw data in this
# order (ADA's first term goes in front of D's others: it installs the augmentation before D sees an
# image). The order the golden samples were recorded with; a new objective goes last.
ORDER = ("gradient_penalty", "aux_classifier", "feature_matching", "orthogonal", "historical", "weight_clipping",
         "r1", "path_length", "drift", "ada")
ATTACHERS: dict[str, Attach] = {}
READS: dict[str, dict[str, frozenset[str]]] = {}


def register(name: str, *, reads: dict[str, set[str]]) -> Callable[[Attach], Attach]:
    """Decorator: ``attach`` joins every adversarial recipe's plan at its place in :data:`ORDER`;
    ``reads`` is every config key it reads, ``{section: {key, ...}}``."""
    if name not in ORDER:
        raise ValueError(f"objective '{name}' has no place in objectives.registry.ORDER; add it there (at the end, "
                         f"so existing runs keep their order)")

    def add(fn: Attach) -> Attach:
        if name in ATTACHERS:
            raise ValueError(f"objective '{name}' is registered twice")
        ATTACHERS[name] = fn
        READS[name] = {section: frozenset(keys) for section, keys in reads.items()}
        return fn

    return add


def attach_all(cfg: RunConfig, plan: TermPlan) -> TermPlan:
    """Let every registered objective add what ``cfg`` asks of it to ``plan``, in :data:`ORDER`."""
    for name in registered():
        ATTACHERS[name](cfg, plan)
    return plan


def registered() -> list[str]:
    """The registered objectives in the order they attach (:data:`ORDER`, whatever the import order)."""
    return [name for name in ORDER if name in ATTACHERS]


def reads() -> dict[str, frozenset[str]]:
    """The config keys the registered objectives read, by section: what a recipe that calls
    :func:`attach_all` reads through them."""
    out: dict[str, set[str]] = {}
    for declared in READS.values():
        for section, keys in declared.items():
            out.setdefault(section, set()).update(keys)
    return {section: frozenset(keys) for section, keys in out.items()}


# A lazy regulariser (its own phase every k > 1 steps on one network) says which network, "d" or
# "g", and k; None when the config leaves it off or not lazy.
Lazy = Callable[["RunConfig"], "tuple[str, int] | None"]
LAZY: list[Lazy] = []


def lazy(fn: Lazy) -> Lazy:
    """Decorator: declare a regulariser's lazy interval, so the optimiser settings can allow for it."""
    LAZY.append(fn)
    return fn


def lazy_corrected(cfg: RunConfig, role: str, opt: OptimConfig) -> OptimConfig:
    """``opt`` with StyleGAN2's correction for lazy regularisation (Karras et al. 2020, appendix B).

    With a regulariser in its own phase every k steps, the network's optimiser takes n + 1 steps
    where it would take n: n = k for G, n = k * ``train.d_steps`` for D (D updates d_steps times a
    step). The paper keeps the optimiser's behaviour per update unchanged by scaling with
    c = n / (n + 1): the learning rate to ``lr * c`` and Adam's betas to ``beta ** c`` (so the
    moments still average over the same number of updates). Without it the lazily-regularised
    network learns about (n+1)/n times faster than the one configured. Several lazy regularisers on
    one network add their extra steps. k = 1 is not lazy and left uncorrected (R1 at interval 1 is a
    term of D's own update, objectives/r1.py).
    """
    per_step = cfg.train.d_steps if role == "d" else 1  # the network's own updates per training step
    extra = 0.0
    for declared in LAZY:
        got = declared(cfg)
        if got is not None and got[0] == role and got[1] > 1:
            extra += 1.0 / (got[1] * per_step)
    if extra == 0:
        return opt
    c = 1.0 / (1.0 + extra)  # n / (n + 1) for one regulariser every k steps, n = k * (updates per step)
    return replace(opt, lr=opt.lr * c, betas=tuple(b ** c for b in opt.betas))
