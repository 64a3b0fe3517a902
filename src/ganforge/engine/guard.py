"""The divergence guard: notice a run that has gone wrong before it wastes hours.

Checked only where the loop already reads statistics back (every ``log.every``
steps) and before each checkpoint is written, so a healthy run pays nothing per
step and no checkpoint ever holds NaN weights. What to do about it (stop, or
roll back to the last good checkpoint and retry with a smaller learning rate
and fresh random streams) is the config's ``guard`` section.

Besides NaN/inf, two collapse signals, each held for ``guard.collapse_steps`` steps: D winning
outright (``guard.collapse_d_fake``), and G's samples losing their variety (the collapse
monitor's ``diversity_dfeat`` below ``guard.collapse_diversity``, :mod:`.monitor`), which also
gets a one-line warning the moment it drops, whether or not the guard acts on it
(``guard.stop_on_diversity``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.config import GuardConfig
from ganforge.training import monitor


def nonfinite_weights(nets: dict[str, nn.Module]) -> list[str]:
    """Names of the networks holding a NaN or infinite parameter (one device read-back)."""
    flags = [torch.stack([torch.isfinite(p).all() for p in net.parameters()]).all() for net in nets.values()]
    ok = torch.stack(flags).tolist()
    return [name for name, fine in zip(nets, ok) if not fine]


class DivergenceGuard:
    """Decides whether a run has diverged, from the statistics the loop already reads back every ``log.every``
    steps: NaN/inf in them or in the weights, or a collapse signal of the ``guard`` section held for
    ``guard.collapse_steps`` steps.

    A stateful object because collapse is judged over consecutive log records (``collapse_steps``,
    ``diversity_steps``) and rollbacks are capped (``retries``); :meth:`state_dict` puts all three in the
    checkpoint so a resumed run keeps counting, and a rollback (which reloads an older checkpoint) never
    lowers ``retries``. It only says why; stopping or rolling back is :mod:`.rollback`'s.
    """

    def __init__(self, cfg: GuardConfig):
        self.cfg = cfg
        self.retries = 0
        self.collapse_steps = 0  # consecutive steps the collapse signal has held
        self.diversity_steps = 0  # consecutive steps the diversity figure has stayed below its threshold
        self._diversity_low = False  # warned already (again once the figure has recovered)

    def check(self, stats: dict[str, float], nets: dict[str, nn.Module], steps: int, step: int = 0, *,
              partial: bool = False) -> str | None:
        """Why the run has diverged, or None. ``steps``: how many steps ``stats`` average over; ``step``: now;
        ``partial``: the record that ends a leg between log steps, whose steps the next full record counts
        again (a resumed run's), so only NaN/inf is checked and the collapse counters are left as they are."""
        bad = [k for k, v in stats.items() if not math.isfinite(v)]
        if bad:
            return f"{', '.join(bad)} became NaN/inf"
        broken = nonfinite_weights(nets)
        if broken:
            return f"the weights of {' and '.join(broken)} became NaN/inf"
        if partial:
            return None
        c = self.cfg
        if c.collapse_d_fake is not None and "D_fake" in stats and "loss_D" in stats:
            collapsed = stats["D_fake"] < c.collapse_d_fake and stats["loss_D"] < c.collapse_d_loss
            self.collapse_steps = self.collapse_steps + steps if collapsed else 0
            if self.collapse_steps >= c.collapse_steps:
                self.collapse_steps = 0
                return (f"collapse: mean D(G(z)) < {c.collapse_d_fake} and D loss < {c.collapse_d_loss} "
                        f"for {c.collapse_steps} steps (D wins outright; G gets no signal)")
        if c.stop_on_diversity and self._judges_diversity(stats, step):
            low = stats[monitor.KEY] < c.collapse_diversity
            self.diversity_steps = self.diversity_steps + steps if low else 0
            if self.diversity_steps >= c.collapse_steps:
                self.diversity_steps = 0
                return (f"collapse: {monitor.KEY} (the spread of G's samples over a real batch's, in D's features) "
                        f"below {c.collapse_diversity} for {c.collapse_steps} steps (G draws nearly one image)")
        return None

    def _judges_diversity(self, stats: dict[str, float], step: int) -> bool:
        """Whether there is a diversity figure and the warm-up is over: G's first samples are nearly alike
        by construction (DCGAN's N(0, 0.02) init, the 2014 G started at the data's mean), not by collapse."""
        return monitor.KEY in stats and step >= self.cfg.diversity_warmup

    def diversity_warning(self, stats: dict[str, float], step: int) -> str | None:
        """One line when the diversity figure falls below ``guard.collapse_diversity`` after the warm-up
        (once, and again only after it has recovered), so a collapse is seen even when the guard does not act."""
        if not self._judges_diversity(stats, step):
            return None
        value, threshold = stats[monitor.KEY], self.cfg.collapse_diversity
        was, self._diversity_low = self._diversity_low, value < threshold
        if not self._diversity_low or was:
            return None
        act = ("the guard acts if it stays there" if self.cfg.stop_on_diversity
               else "set guard.stop_on_diversity=true to stop such runs")
        return (f"warning: step {step}: G's samples look collapsed: {monitor.KEY} {value:.3g} < {threshold} "
                f"(their spread in D's features, over a real batch's); {act}")

    def can_retry(self) -> bool:
        return self.cfg.action == "rollback" and self.retries < self.cfg.max_retries

    def state_dict(self) -> dict:
        return {"retries": self.retries, "collapse_steps": self.collapse_steps,
                "diversity_steps": self.diversity_steps}

    def load_state_dict(self, state: dict) -> None:
        self.retries = max(self.retries, int(state.get("retries", 0)))
        self.collapse_steps = int(state.get("collapse_steps", 0))
        self.diversity_steps = int(state.get("diversity_steps", 0))
