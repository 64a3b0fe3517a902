"""StepBatch: one draw per step, shared by every phase of that step, and a fresh one the next step."""

import torch

from ganforge.training.step_batch import StepBatch


class Counting:
    """A stream whose every draw is a new tensor holding how many draws came before."""

    def __init__(self):
        self.draws = 0

    def next(self):
        self.draws += 1
        return torch.tensor([self.draws - 1]), None


def test_the_phases_of_one_step_share_one_draw_and_the_next_step_draws_anew():
    stream = Counting()
    batch = StepBatch(stream.next)
    first = batch.at(0)
    assert batch.at(0) is first and stream.draws == 1  # D and G of step 0 see the same batch
    second = batch.at(1)
    assert second is not first and second[0].item() == 1 and stream.draws == 2
    assert batch.at(1) is second and stream.draws == 2


def test_nothing_is_drawn_before_the_first_ask_and_a_step_never_asked_draws_nothing():
    # The draw happens at a step's first ask, so a run's order of random draws is the recipes' own.
    stream = Counting()
    batch = StepBatch(stream.next)
    assert stream.draws == 0
    batch.at(3)
    batch.at(7)  # steps 4-6 never asked: no draw for them
    assert stream.draws == 2 and batch.at(7)[0].item() == 1


def test_a_resumed_run_draws_at_its_first_step_whatever_that_number_is():
    stream = Counting()
    assert StepBatch(stream.next).at(500)[0].item() == 0 and stream.draws == 1


def test_any_maker_works_such_as_a_fresh_dict_per_step():
    fills = StepBatch(dict)
    fills.at(0)["B"] = 1
    assert fills.at(0) == {"B": 1} and fills.at(1) == {}


def test_a_step_retried_after_a_rollback_draws_anew():
    """The engine counts restores in StepContext.restores: (restores, step) names a step, so the retried step
    5 reads the restored (or reseeded) stream instead of the failed attempt's batch."""
    stream = Counting()
    batch = StepBatch(stream.next)
    failed = batch.at((0, 5))
    retried = batch.at((1, 5))
    assert retried is not failed and stream.draws == 2 and batch.at((1, 5)) is retried
