"""The training loop's unit of work: a phase updates one network from a sum of loss terms.

Algorithm 1 of the 2014 paper is two phases: "D, k times" then "G". Every later
variant is more terms (a gradient penalty, feature matching, an auxiliary
classifier) or more phases (lazy R1 every 16 steps, the EMA of G), chosen from the
config by :func:`build_phases`; the loop itself never learns a variant's name.

Terms of one phase share a per-update ``ctx.cache``: the adversarial term leaves
the batches, labels and D's features there, so a later term (the gradient
penalty, the ACGAN classifier) reuses them instead of running D again.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge import losses, regularizers
from ganforge.augment import DiffAugment
from ganforge.config import RunConfig
from ganforge.training.ema import EmaGenerator
from ganforge.training.sampler import Noise, RealBatches
from ganforge.training.schedules import OptimSchedule

Tensor = torch.Tensor


@dataclass
class Context:
    """Everything a loss term may use during one step."""

    nets: dict[str, nn.Module]  # "G", "D"
    optimizers: dict[str, torch.optim.Optimizer]
    schedules: dict[str, OptimSchedule]
    real: RealBatches
    noise: Noise
    batch_size: int
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    d_output: Callable[[Tensor], Tensor] = torch.sigmoid  # logit -> the "D(x)" that is logged
    d_input: Callable[[Tensor, int], Tensor] = lambda x, step: x  # augmentation / instance noise
    num_classes: int | None = None
    labels_to_g: bool = False  # G is class-conditional
    labels_to_d: bool = False  # D's realness logit is class-conditional
    step: int = 0
    cache: dict[str, Any] = field(default_factory=dict)
    # bf16 autocast around the terms (speed.precision); losses are taken on fp32 logits.
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    # Under torchrun: the DDP wrappers ("G": G, "D": D's features+head as one forward). The
    # network being updated runs through its wrapper, so DDP averages its gradients.
    ddp: dict[str, nn.Module] = field(default_factory=dict)
    training: str = ""  # the network the running phase updates

    def fake_labels(self, n: int) -> Tensor | None:
        if self.num_classes is None or not (self.labels_to_g or self.labels_to_d):
            return None
        return self.noise.labels(n, self.num_classes)

    def generate(self, n: int) -> tuple[Tensor, Tensor | None]:
        y = self.fake_labels(n)
        G = self.ddp["G"] if self.training == "G" and "G" in self.ddp else self.nets["G"]
        return G(self.noise(n), y if self.labels_to_g else None), y

    def _features_and_logits(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        if self.training == "D" and "D" in self.ddp:
            f, logits = self.ddp["D"](x, y)
        else:
            D = self.nets["D"]
            f = D.features(x)
            logits = D.head(f, y)
        return f, logits.float()

    def d_logits(self, x: Tensor, y: Tensor | None) -> Tensor:
        """D's logits for (augmented) ``x``, as the input-gradient penalties need (``y`` as given)."""
        return self._features_and_logits(self.d_input(x, self.step), y)[1]

    def judge(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        """D's penultimate features and realness logits (fp32) for (augmented) ``x``."""
        return self._features_and_logits(self.d_input(x, self.step), y if self.labels_to_d else None)


# A term returns the scalar to minimise and detached statistics to log.
Term = Callable[[Context], tuple[Tensor, dict[str, Tensor]]]


def d_adversarial(ctx: Context) -> tuple[Tensor, dict[str, Tensor]]:
    """D's objective on a fresh real minibatch and a fresh generated one."""
    real, y_real = ctx.real.next()
    with torch.no_grad():
        fake, y_fake = ctx.generate(ctx.batch_size)
    f_real, real_logits = ctx.judge(real, y_real)
    f_fake, fake_logits = ctx.judge(fake, y_fake)
    ctx.cache.update(real=real, fake=fake, y_real=y_real, y_fake=y_fake, f_real=f_real, f_fake=f_fake)
    return ctx.d_loss(real_logits, fake_logits), {"D_real": ctx.d_output(real_logits.detach()).mean(),
                                                  "D_fake": ctx.d_output(fake_logits.detach()).mean()}


def g_adversarial(ctx: Context) -> tuple[Tensor, dict[str, Tensor]]:
    """G's objective: how D judges a fresh batch of samples, gradients through D into G."""
    fake, y_fake = ctx.generate(ctx.batch_size)
    f_fake, fake_logits = ctx.judge(fake, y_fake)
    ctx.cache.update(fake=fake, y_fake=y_fake, f_fake=f_fake)
    return ctx.g_loss(fake_logits), {}


def gradient_penalty(weight: float, ctx: Context) -> tuple[Tensor, dict[str, Tensor]]:
    c = ctx.cache
    y = c["y_real"] if ctx.labels_to_d else None  # interpolates carry the real batch's labels
    # The interpolation weights come from the noise stream, so they are resumed and shared out like z.
    gp = regularizers.gradient_penalty(ctx.d_logits, c["real"], c["fake"], y, eps=ctx.noise.uniform(len(c["real"])))
    return weight * gp, {"gp": gp.detach()}


def r1_penalty(weight: float, every: int, ctx: Context) -> tuple[Tensor, dict[str, Tensor]]:
    real, y = ctx.real.next()
    r1 = regularizers.r1_penalty(ctx.d_logits, real, y if ctx.labels_to_d else None)
    return (weight / 2) * every * r1, {"r1": r1.detach()}


def aux_classifier_d(weight: float, on_fake: bool, ctx: Context) -> tuple[Tensor, dict[str, Tensor]]:
    """ACGAN: D also learns to name the class of real (and, as published, of generated) samples."""
    D, c = ctx.nets["D"], ctx.cache
    loss = F.cross_entropy(D.classify(c["f_real"]), c["y_real"])
    if on_fake:
        loss = loss + F.cross_entropy(D.classify(c["f_fake"]), c["y_fake"])
    return weight * loss, {"aux_D": loss.detach()}


def aux_classifier_g(weight: float, ctx: Context) -> tuple[Tensor, dict[str, Tensor]]:
    """ACGAN: G is rewarded when D recognises the class it was asked for."""
    loss = F.cross_entropy(ctx.nets["D"].classify(ctx.cache["f_fake"]), ctx.cache["y_fake"])
    return weight * loss, {"aux_G": loss.detach()}


def feature_matching(weight: float, ctx: Context) -> tuple[Tensor, dict[str, Tensor]]:
    real, y = ctx.real.next()
    with torch.no_grad():
        f_real, _ = ctx.judge(real, y)
    fm = regularizers.feature_matching(f_real.float(), ctx.cache["f_fake"].float())
    return weight * fm, {"feature_matching": fm.detach()}


def orthogonal(weight: float, ctx: Context) -> tuple[Tensor, dict[str, Tensor]]:
    ortho = regularizers.orthogonal_penalty(ctx.nets["G"])
    return weight * ortho, {"ortho": ortho.detach()}


def historical(weight: float, average: regularizers.HistoricalAverage, ctx: Context) -> tuple[Tensor, dict]:
    return weight * average.penalty(), {}


@dataclass
class Phase:
    """Update network ``net`` ``repeat`` times, every ``every`` steps, on the sum of ``terms``.

    ``after_update`` hooks run after each optimiser step (weight clipping, running averages).
    """

    name: str
    net: str
    terms: list[Term]
    repeat: int = 1
    every: int = 1
    after_update: list[Callable[[], None]] = field(default_factory=list)
    log_loss: bool = True

    def run(self, ctx: Context) -> dict[str, Tensor]:
        """Returns the last repeat's loss and statistics (detached, still on the device)."""
        optimizer = ctx.optimizers[self.net]
        for name, other in ctx.nets.items():
            other.requires_grad_(name == self.net)  # no wasted gradients for the frozen net
        ctx.training = self.net
        out: dict[str, Tensor] = {}
        for _ in range(self.repeat):
            ctx.cache.clear()
            total = None
            out = {}
            for term in self.terms:
                with ctx.autocast():
                    loss, stats = term(ctx)
                loss = loss.float()
                total = loss if total is None else total + loss
                out.update(stats)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            for hook in self.after_update:
                hook()
            ctx.schedules[self.net].after_update(ctx.real.epoch)
            if self.log_loss:
                out[f"loss_{self.name}"] = total.detach()
        ctx.cache.clear()
        return out


@dataclass
class EmaPhase:
    """Not an optimiser step: folds G's new weights into its moving average after each G update."""

    ema: EmaGenerator
    every: int = 1
    name: str = "G_ema"

    def run(self, ctx: Context) -> dict[str, Tensor]:
        self.ema.update(ctx.step)
        return {}


def _clip(net: nn.Module, bound: float) -> Callable[[], None]:
    @torch.no_grad()
    def clip() -> None:
        for p in net.parameters():
            p.clamp_(-bound, bound)

    return clip


def build_phases(cfg: RunConfig, nets: dict[str, nn.Module], ema: EmaGenerator | None = None,
                 stateful: dict[str, Any] | None = None) -> list[Any]:
    """The phases the config asks for. ``stateful`` collects components whose state checkpoints keep."""
    r = cfg.reg
    stateful = {} if stateful is None else stateful
    d_terms: list[Term] = [d_adversarial]
    g_terms: list[Term] = [g_adversarial]
    d_hooks: list[Callable[[], None]] = []
    g_hooks: list[Callable[[], None]] = []
    if r.gp > 0:
        d_terms.append(functools.partial(gradient_penalty, r.gp))
    if hasattr(nets["D"], "classify"):
        d_terms.append(functools.partial(aux_classifier_d, r.aux_weight, r.aux_on_fake))
        g_terms.append(functools.partial(aux_classifier_g, r.aux_weight))
    if r.feature_matching > 0:
        g_terms.append(functools.partial(feature_matching, r.feature_matching))
    if r.ortho > 0:
        g_terms.append(functools.partial(orthogonal, r.ortho))
    if r.historical > 0:
        for name, terms, hooks in (("D", d_terms, d_hooks), ("G", g_terms, g_hooks)):
            average = regularizers.HistoricalAverage(nets[name])
            stateful[f"historical_{name}"] = average
            terms.append(functools.partial(historical, r.historical, average))
            hooks.append(average.update)
    if r.clip is not None:
        d_hooks.append(_clip(nets["D"], r.clip))
    phases: list[Any] = [Phase("D", "D", d_terms, repeat=cfg.train.d_steps, after_update=d_hooks)]
    if r.r1 > 0:
        phases.append(Phase("D_r1", "D", [functools.partial(r1_penalty, r.r1, r.r1_every)], every=r.r1_every,
                            log_loss=False))
    phases.append(Phase("G", "G", g_terms, after_update=g_hooks))
    if ema is not None:
        phases.append(EmaPhase(ema))
    return phases


def loss_functions(cfg: RunConfig) -> tuple[Callable, Callable, Callable]:
    """D's loss (with label smoothing bound in), G's loss, and how a logit is shown as "D(x)"."""
    d_loss = functools.partial(losses.D_LOSSES[cfg.loss.d], real_label=cfg.loss.real_label)
    shown = torch.sigmoid if cfg.loss.d == "minimax" else (lambda t: t)
    return d_loss, losses.G_LOSSES[cfg.loss.g], shown


def input_transform(cfg: RunConfig, generator: torch.Generator | None) -> Callable[[Tensor, int], Tensor]:
    """What D sees: DiffAugment and/or annealed instance noise, applied to real and fake alike."""
    augment = DiffAugment(cfg.augment.policy, generator) if cfg.augment.policy else None
    sigma0, span = cfg.reg.instance_noise, cfg.reg.instance_noise_steps

    def transform(x: Tensor, step: int) -> Tensor:
        if augment is not None and x.dim() == 4:
            x = augment(x)
        if sigma0 > 0:
            sigma = sigma0 * max(0.0, 1.0 - step / span)
            x = x + sigma * torch.randn(x.shape, device=x.device, generator=generator)
        return x

    return transform
