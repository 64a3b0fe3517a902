"""Historical averaging (Salimans et al. 2016): each network is pulled towards the mean of its past weights.

Config: ``reg.historical`` (the weight; 0 = off), for D and G alike. The running means are
state a resumed run must restore, so they are registered with the plan's checkpointed state.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import torch
from torch import nn

from ganforge.objectives.registry import TermPlan, register

if TYPE_CHECKING:  # annotations only: the config imports objectives to validate itself
    from ganforge.config import RunConfig

Tensor = torch.Tensor


class HistoricalAverage:
    """||theta - running mean of past theta||^2, for one network."""

    enabled_by = "reg.historical"  # the config key that adds it (named when a resume would add it: engine/state.py)

    def __init__(self, net: nn.Module):
        self.net = net
        self.count = 0
        self.means = [p.detach().clone() for p in net.parameters()]

    def penalty(self) -> Tensor:
        return sum((p - m).pow(2).sum() for p, m in zip(self.net.parameters(), self.means))

    @torch.no_grad()
    def update(self) -> None:
        self.count += 1
        for p, m in zip(self.net.parameters(), self.means):
            m.add_(p.detach() - m, alpha=1.0 / self.count)

    def state_tensors(self) -> dict[str, Tensor]:
        return {f"{i}": m for i, m in enumerate(self.means)} | {"count": torch.tensor(self.count)}

    def load_state_tensors(self, tensors: dict[str, Tensor]) -> None:
        self.count = int(tensors["count"])
        for i, m in enumerate(self.means):
            m.copy_(tensors[f"{i}"])


def historical_term(weight: float, average: HistoricalAverage, ctx) -> tuple[Tensor, dict[str, Tensor]]:
    return weight * average.penalty(), {}


@register("historical", reads={"reg": {"historical"}})
def attach(cfg: RunConfig, plan: TermPlan) -> None:
    if cfg.reg.historical <= 0:
        return
    for name in (plan.d, plan.g):
        average = HistoricalAverage(plan.nets[name])
        plan.stateful[f"historical_{name}"] = average
        term = partial(historical_term, cfg.reg.historical, average)
        # Its running mean's weight 1/count is a host number that changes every update.
        term.graph_unsafe = "historical averaging's weight 1/count changes every update"  # (engine/graphs.py)
        plan.add_term(name, term)
        plan.add_hook(name, average.update)
