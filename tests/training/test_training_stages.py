"""A phase in a window of steps runs only there: what staged training (f-AnoGAN) is built on."""

import torch

from ganforge.training.stages import Window, staged


class Counting:
    """A phase stand-in that records the steps it ran at."""

    def __init__(self, name, every=1):
        self.name, self.every, self.ran = name, every, []

    def run(self, ctx):
        self.ran.append(ctx.step)
        return {f"loss_{self.name}": torch.tensor(1.0)}


class Ctx:
    step = 0


def _drive(phases, steps):
    ctx, logged = Ctx(), []
    for step in range(steps):  # what the engine loop does with any phase
        ctx.step = step
        for p in phases:
            if step % p.every == 0:
                logged.append((step, sorted(p.run(ctx))))
    return logged


def test_stages_run_one_after_another_and_keep_every():
    gan_d, gan_g, enc = Counting("D"), Counting("G", every=2), Counting("E")
    phases = staged([([gan_d, gan_g], 4), ([enc], 3)])
    assert [p.name for p in phases] == ["D", "G", "E"] and [p.every for p in phases] == [1, 2, 1]
    logged = _drive(phases, 7)
    assert gan_d.ran == [0, 1, 2, 3] and gan_g.ran == [0, 2] and enc.ran == [4, 5, 6]
    assert (5, []) in logged  # outside its window a phase returns nothing to log


def test_a_window_can_end_and_the_last_stage_runs_to_the_end():
    w = Window(Counting("X"), start=2, stop=4)
    assert [w.active(s) for s in range(6)] == [False, False, True, True, False, False]
    last = staged([([Counting("A")], 2), ([Counting("B")], 1)])[-1]
    assert last.stop is None and last.active(10_000)
