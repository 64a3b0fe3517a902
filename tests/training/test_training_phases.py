"""The log cadence the loop and the phases share (training/phases.closes_log_interval)."""

from ganforge.training.phases import StepContext, closes_log_interval


def test_a_log_interval_closes_every_few_steps_and_at_the_last_step_only():
    closing = [s for s in range(1, 12) if closes_log_interval(s, total=11, every=4)]
    assert closing == [4, 8, 11]
    assert [s for s in range(1, 9) if closes_log_interval(s, total=8, every=4)] == [4, 8]


def test_a_context_outside_the_loop_does_not_claim_to_log():
    assert StepContext(nets={}, optimizers={}, schedules={}).logs is False
