"""The divergence guard: notice a run that has gone wrong before it wastes hours.

Checked only where the loop already reads statistics back (every ``log.every``
steps) and before each checkpoint is written, so a healthy run pays nothing per
step and no checkpoint ever holds NaN weights. What to do about it (stop, or
roll back to the last good checkpoint and retry with a smaller learning rate
and fresh random streams) is the config's ``guard`` section.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.config import GuardConfig


def nonfinite_weights(nets: dict[str, nn.Module]) -> list[str]:
    """Names of the networks holding a NaN or infinite parameter (one device read-back)."""
    flags = [torch.stack([torch.isfinite(p).all() for p in net.parameters()]).all() for net in nets.values()]
    ok = torch.stack(flags).tolist()
    return [name for name, fine in zip(nets, ok) if not fine]


class DivergenceGuard:
    def __init__(self, cfg: GuardConfig):
        self.cfg = cfg
        self.retries = 0
        self.collapse_steps = 0  # consecutive steps the collapse signal has held

    def check(self, stats: dict[str, float], nets: dict[str, nn.Module], steps: int) -> str | None:
        """Why the run has diverged, or None. ``steps``: how many steps ``stats`` average over."""
        bad = [k for k, v in stats.items() if not math.isfinite(v)]
        if bad:
            return f"{', '.join(bad)} became NaN/inf"
        broken = nonfinite_weights(nets)
        if broken:
            return f"the weights of {' and '.join(broken)} became NaN/inf"
        c = self.cfg
        if c.collapse_d_fake is not None and "D_fake" in stats and "loss_D" in stats:
            collapsed = stats["D_fake"] < c.collapse_d_fake and stats["loss_D"] < c.collapse_d_loss
            self.collapse_steps = self.collapse_steps + steps if collapsed else 0
            if self.collapse_steps >= c.collapse_steps:
                self.collapse_steps = 0
                return (f"collapse: mean D(G(z)) < {c.collapse_d_fake} and D loss < {c.collapse_d_loss} "
                        f"for {c.collapse_steps} steps (D wins outright; G gets no signal)")
        return None

    def can_retry(self) -> bool:
        return self.cfg.action == "rollback" and self.retries < self.cfg.max_retries

    def state_dict(self) -> dict:
        return {"retries": self.retries, "collapse_steps": self.collapse_steps}

    def load_state_dict(self, state: dict) -> None:
        self.retries = max(self.retries, int(state.get("retries", 0)))
        self.collapse_steps = int(state.get("collapse_steps", 0))
