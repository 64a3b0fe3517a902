"""One draw per training step, shared by every phase of that step.

Some recipes update several networks on one batch: GANomaly's G and D, pix2pix's D and G, SRGAN's
D and G (both see the same minibatch, as in the paper) and CycleGAN's four networks. Every phase of
one step must see the same batch (D judges the images G was just trained on, and the losses the
papers write are of one minibatch), and the next step a fresh one. :class:`StepBatch` is that rule,
written once: the first ask of a step draws, every later ask of the same step gets that draw back,
and the first ask of the next step draws anew.

The draw happens at the step's first ask, not when the step starts, so a stream is read exactly when
the recipes always read it: a step whose phases never ask draws nothing, and the order of random
draws (hence every sample of a seeded run) is what it was before this class existed.

A step is named by :attr:`StepContext.draw_key <ganforge.training.phases.StepContext.draw_key>`, the step
number and how many checkpoints the guard has restored into the running loop: after a rollback the retried
step has a number already seen, and must still draw from the restored (or reseeded) stream, not reuse the
failed attempt's batch.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class StepBatch(Generic[T]):
    """``draw()`` called once per step: :meth:`at` gives the same object for the same step.

    ``draw`` is typically a stream's ``next`` (a real batch, an (LR, HR) pair); it can be any maker of
    what a step's phases share, e.g. ``dict`` for a fresh dictionary the phases fill during the step.
    """

    def __init__(self, draw: Callable[[], T]):
        self.draw = draw
        self.step: Hashable | None = None  # the step the held draw belongs to; None before the first draw
        self.held: T | None = None

    def at(self, step: Hashable) -> T:
        """This step's draw (``step``: the context's ``draw_key``, or any name of a step): drawn on the step's
        first ask, the same object on every later ask of that step."""
        if self.step != step:
            self.held, self.step = self.draw(), step
        return self.held
