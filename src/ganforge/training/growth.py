"""A growth schedule any recipe can use: networks that grow stage by stage, with a linear fade-in.

Progressive growing (Karras et al. 2018) trains at 4x4 first, then fades in each larger stage
over a stated number of images (alpha 0 -> 1) and trains it stable for as many again. The
schedule is a function of *images seen*, kept by :class:`Growth`, which is at once:

- a phase (it runs first in every step and sets the level on every network that grows, i.e.
  that has ``set_growth(level)`` and ``growth_levels``), and
- a stream (its ``state_dict`` goes into every checkpoint as ``growth``: the images seen and
  the schedule), so a run killed mid-fade resumes at exactly the same alpha.

Nothing here knows what the networks are: a recipe adds the Growth to its phases (first) and to
its streams, and any network following the protocol grows (``ganforge.nets.progan`` does).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganforge.errors import ConfigError


@dataclass(frozen=True)
class GrowthSchedule:
    """Level as a function of images seen: ``levels`` stages (0 .. levels-1); stage 0 trains for
    ``stable_images``; each later stage fades in over ``fade_images`` and then trains for
    ``stable_images``; the last stage stays. A level ``k - 1 + alpha`` is stage k at fade-in alpha."""

    levels: int
    fade_images: int
    stable_images: int

    def level(self, images: int) -> float:
        if images < self.stable_images or self.levels == 1:
            return 0.0
        period = self.fade_images + self.stable_images
        stage, within = divmod(images - self.stable_images, period)
        stage += 1
        if stage >= self.levels:
            return float(self.levels - 1)
        alpha = 1.0 if self.fade_images == 0 else min(within / self.fade_images, 1.0)
        return stage - 1 + alpha


def growing(nets: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """The networks that follow the growth protocol."""
    return {name: net for name, net in nets.items() if hasattr(net, "set_growth") and hasattr(net, "growth_levels")}


class Growth:
    """Sets the level of every growing network at the start of each step; checkpointed as a stream."""

    every = 1

    def __init__(self, nets: dict[str, nn.Module], fade_images: int, stable_images: int, batch_size: int,
                 name: str = "growth"):
        self.nets = growing(nets)
        if not self.nets:
            raise ConfigError("a growth schedule needs networks that grow (e.g. model.g.arch and model.d.arch "
                              "progan); use recipe noise-to-image for fixed-size networks")
        levels = {net.growth_levels for net in self.nets.values()}
        if len(levels) != 1:
            raise ConfigError(f"the growing networks have different numbers of stages "
                              f"({', '.join(f'{n}: {net.growth_levels}' for n, net in self.nets.items())}); "
                              f"build them for the same image size")
        self.schedule = GrowthSchedule(levels.pop(), fade_images, stable_images)
        self.batch_size, self.name, self.images = batch_size, name, 0
        self.in_effect = 0.0  # the level the networks hold this step (set by run, first phase of each step)
        self.device = next(next(iter(self.nets.values())).buffers()).device

    @property
    def level(self) -> float:
        return self.schedule.level(self.images)

    def run(self, ctx) -> dict[str, torch.Tensor]:
        level = self.level
        for net in self.nets.values():
            net.set_growth(level)
        self.in_effect = level
        self.images += self.batch_size
        return {"growth_level": torch.tensor(level, device=self.device)}

    def state_dict(self) -> dict:
        s = self.schedule
        return {"images": self.images, "levels": s.levels, "fade_images": s.fade_images,
                "stable_images": s.stable_images}

    def load_state_dict(self, state: dict) -> None:
        self.images = int(state["images"])
