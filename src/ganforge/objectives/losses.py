"""Adversarial objectives as pure functions of discriminator logits.

A loss never touches an optimiser or a network: it maps D's logits to a scalar to
minimise, so phases can combine it with regularisers freely. Each D loss also says how
its logit is shown in the log as "D(x)": a probability for the minimax loss, the raw
score for the others (a critic's output is not a probability), and declares what checks elsewhere need
to know (whether it has targets, whether it is a per-sample sum: :class:`DLoss`). With D(x) =
sigmoid(logit), ``softplus(-l) = -log D`` and ``softplus(l) = -log(1 - D)``, which
stay finite where D saturates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from ganforge.errors import ConfigError

Tensor = torch.Tensor


def batch_mean(values: Tensor) -> Tensor:
    """The mean over the batch; for an empty batch, a zero still on the graph (not mean's NaN). A private D's
    real batch is a Poisson draw, which may hold no sample: its update is then noise alone, and a term that
    averages over the real batch must add nothing rather than make the whole loss NaN."""
    return values.mean() if values.numel() else values.sum()


def d_minimax(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """-[log D(x) + log(1 - D(G(z)))]: D's side of the 2014 value function.

    ``real_label`` < 1 is one-sided label smoothing (Salimans et al. 2016): the real target
    becomes e.g. 0.9 while the fake target stays 0, so D is not rewarded for extreme confidence
    on real data and its gradients for G stay informative.
    """
    real = real_label * F.softplus(-real_logits) + (1 - real_label) * F.softplus(real_logits)
    return real.mean() + F.softplus(fake_logits).mean()


def g_minimax(fake_logits: Tensor) -> Tensor:
    """log(1 - D(G(z))): the paper's equation; its gradient vanishes when D rejects G(z) confidently."""
    return -F.softplus(fake_logits).mean()


def g_non_saturating(fake_logits: Tensor) -> Tensor:
    """-log D(G(z)): same fixed point, strong gradients early in training (the paper's code)."""
    return F.softplus(-fake_logits).mean()


def d_wasserstein(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """The critic's estimate of -W(P_r, P_g) (Arjovsky et al. 2017): needs a Lipschitz critic
    (weight clipping, a gradient penalty or spectral norm)."""
    return fake_logits.mean() - real_logits.mean()


def g_wasserstein(fake_logits: Tensor) -> Tensor:
    return -fake_logits.mean()


def d_hinge(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """Hinge loss (Lim & Ye 2017; SNGAN, SAGAN, BigGAN): D stops pushing once a margin of 1 is met."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_hinge(fake_logits: Tensor) -> Tensor:
    return -fake_logits.mean()


def d_least_squares(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """LSGAN (Mao et al. 2017), targets a=0 fake, b=1 real: penalises samples far from the boundary
    even when correctly classified, which keeps gradients alive. The 1/2 factors follow the paper."""
    return 0.5 * ((real_logits - real_label) ** 2).mean() + 0.5 * (fake_logits ** 2).mean()


def g_least_squares(fake_logits: Tensor) -> Tensor:
    return 0.5 * ((fake_logits - 1) ** 2).mean()


def d_mse(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """The pix2pix/CycleGAN reference's ``GANLoss('lsgan')``: ``nn.MSELoss`` against targets 1 (or
    ``real_label``) and 0, per-element means with no LSGAN 1/2 factors. Its own name, not a second meaning of
    ``least-squares``, so one config value means one loss in every recipe; CycleGAN's cycle (10) and identity (5)
    weights are set against this scale (the translation recipes halve D's sum once, as the reference does)."""
    return ((real_logits - real_label) ** 2).mean() + (fake_logits ** 2).mean()


def g_mse(fake_logits: Tensor) -> Tensor:
    """The reference's ``GANLoss('lsgan')`` for G, ``nn.MSELoss(D(G(x)), 1)``: CycleGAN's ``E[(D(G(x)) - 1)^2]``
    (Zhu et al. sec. 4), no 1/2, so the cycle and identity weights keep the paper's balance against it."""
    return ((fake_logits - 1) ** 2).mean()


def d_relativistic(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """The relativistic average D loss (Jolicoeur-Martineau 2018; ESRGAN's RaGAN): each logit is judged
    against the mean logit of the other kind, -log sigma(C(x) - E C(G(z))) - log(1 - sigma(C(G(z)) - E C(x))),
    so only differences between real and fake logits count."""
    real, fake = real_logits - fake_logits.mean(), fake_logits - real_logits.mean()
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_relativistic(fake_logits: Tensor, real_logits: Tensor) -> Tensor:
    """G's relativistic average loss: D's with the roles swapped, so G gets gradient from how its samples
    compare with real ones (real logits carry no gradient into G; they are taken under no_grad)."""
    return d_relativistic(fake_logits, real_logits)


def _identity(logits: Tensor) -> Tensor:
    return logits


@dataclass(frozen=True)
class DLoss:
    """D's side of an adversarial objective, how its logit is shown as "D(x)" in the log, and the facts about it
    that config checks and recipes ask (declared here, so no code outside the registry tests a loss's name).

    ``has_targets``: the loss pulls real logits towards a target, which ``loss.real_label`` < 1 moves (label
    smoothing); the others have no target to move. ``per_sample``: the loss is a sum of terms each of one
    sample's own logits, so DP-SGD's per-sample clipping bounds what one record changes. Both default to False,
    the safe answer for a loss nobody has declared: label smoothing and DP are refused with one line.
    """

    fn: Callable[..., Tensor]
    shown: Callable[[Tensor], Tensor] = _identity
    real_label: float = 1.0  # < 1: one-sided label smoothing (losses with targets only)
    has_targets: bool = False
    per_sample: bool = False

    @property
    def shows_probability(self) -> bool:
        """D's output is shown as a probability (sigmoid of the logit), so a threshold on it means one."""
        return self.shown is torch.sigmoid

    def __call__(self, real_logits: Tensor, fake_logits: Tensor, real_label: float | None = None) -> Tensor:
        return self.fn(real_logits, fake_logits, real_label=self.real_label if real_label is None else real_label)


@dataclass(frozen=True)
class GLoss:
    """G's side of an adversarial objective: a function of D's logits on G's samples, and for a loss that
    compares them with real data (``needs_real``, the relativistic one) of D's logits on a real batch too."""

    fn: Callable[..., Tensor]
    needs_real: bool = False

    def __call__(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        if not self.needs_real:
            return self.fn(fake_logits)
        if real_logits is None:
            raise ConfigError(f"the G loss {self.fn.__name__} compares G's samples with real data, and this recipe's "
                              f"G term gives it no real logits; choose another loss.g")
        return self.fn(fake_logits, real_logits)


# The one registry of adversarial losses every recipe uses (loss.d / loss.g; super-resolution's
# superres.adversarial names a pair of them: recipes/superres.py).
# least-squares is the LSGAN paper's (1/2 factors) and mse the pix2pix/CycleGAN reference code's (no 1/2), in
# every recipe alike.
D_LOSSES: dict[str, DLoss] = {
    "minimax": DLoss(d_minimax, shown=torch.sigmoid, has_targets=True, per_sample=True),
    "wasserstein": DLoss(d_wasserstein, per_sample=True), "hinge": DLoss(d_hinge, per_sample=True),
    "least-squares": DLoss(d_least_squares, has_targets=True, per_sample=True),
    "mse": DLoss(d_mse, has_targets=True, per_sample=True),
    # each logit is compared with the other side's mean logit, so not per sample; its probability is of a logit
    # difference, so the logit is shown raw
    "relativistic": DLoss(d_relativistic),
}
G_LOSSES: dict[str, GLoss] = {
    "minimax": GLoss(g_minimax), "non-saturating": GLoss(g_non_saturating), "wasserstein": GLoss(g_wasserstein),
    "hinge": GLoss(g_hinge), "least-squares": GLoss(g_least_squares), "mse": GLoss(g_mse),
    "relativistic": GLoss(g_relativistic, needs_real=True),
}


def d_losses_where(fact: Callable[[DLoss], bool]) -> list[str]:
    """The names of the D losses a fact holds for, in registry order: what an error message offers instead."""
    return [name for name, entry in D_LOSSES.items() if fact(entry)]


def d_loss_for(d: str, real_label: float) -> DLoss:
    """The D loss ``loss.d`` names, with ``loss.real_label`` as its real target: what every recipe with an
    adversarial D uses (one place, so label smoothing cannot be forgotten by one of them)."""
    return replace(D_LOSSES[d], real_label=real_label)


def g_loss_without_real(g: str, recipe: str) -> GLoss:
    """The G loss ``loss.g`` names, for a recipe whose G term has no real logits to give it: one line before
    training starts, rather than at its first G step, when the loss needs them."""
    loss = G_LOSSES[g]
    if loss.needs_real:
        usable = ", ".join(name for name, entry in G_LOSSES.items() if not entry.needs_real)
        raise ConfigError(f"loss.g={g} compares G's samples with D's view of real data, which recipe {recipe}'s G "
                          f"term does not give it; choose one of {usable}")
    return loss
