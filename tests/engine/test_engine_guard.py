"""The divergence guard stops or rolls back a run whose losses or weights go NaN, or that collapses."""

import json

import pytest
import torch

from ganforge.runs import checkpoint
from ganforge.engine.rollback import TrainingDiverged

def _inject_nan_at(trainer, calls):
    """A loss term that poisons D's loss on its ``calls``-th use."""
    state = {"n": 0}

    def poison(ctx):
        state["n"] += 1
        bad = state["n"] == calls
        return torch.tensor(float("nan") if bad else 0.0), {}

    trainer.built.phases[0].terms.append(poison)
    return state


def _events(run_dir):
    lines = (run_dir / "stats.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if "event" in json.loads(line)]


def test_nan_stops_the_run_with_a_clear_line_and_keeps_good_checkpoints(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=40")
    _inject_nan_at(tr, calls=23)
    with pytest.raises(TrainingDiverged, match="training diverged at step 25: .*NaN/inf"):
        tr.fit()
    events = _events(tmp_path / "run")
    assert [e["event"] for e in events] == ["diverged"]
    good = checkpoint.list_checkpoints(tmp_path / "run" / "checkpoints")
    assert [p.name for p in good] == ["step-0000010", "step-0000020"]
    tensors, _ = checkpoint.load(good[-1])
    assert all(torch.isfinite(t).all() for group in tensors.values() for t in group.values())


def test_nan_with_rollback_retries_from_the_last_checkpoint_with_lower_lr(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=40", "guard.action=rollback", "guard.lr_factor=0.5")
    _inject_nan_at(tr, calls=23)  # fires once; the retry runs clean
    result = tr.fit()
    assert result.step == 40
    events = _events(tmp_path / "run")
    assert [e["event"] for e in events] == ["rollback"]
    assert "rolled back to step-0000020" in events[0]["message"]
    assert tr.built.schedules["G"].scale == 0.5 and tr.guard.retries == 1
    assert all(torch.isfinite(p).all() for net in tr.built.nets.values() for p in net.parameters())


def test_rollback_gives_up_after_max_retries(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=40", "guard.action=rollback", "guard.max_retries=2")
    tr.built.phases[0].terms.append(lambda ctx: (torch.tensor(float("nan")), {}))  # every step is poisoned
    with pytest.raises(TrainingDiverged, match="after 2 rollback"):
        tr.fit()
    assert [e["event"] for e in _events(tmp_path / "run")] == ["rollback", "rollback", "diverged"]


def test_nan_weights_are_never_checkpointed(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=10", "log.every=1000")
    tr.fit()
    with torch.no_grad():
        next(tr.built.nets["G"].parameters())[0, 0] = float("inf")
    with pytest.raises(TrainingDiverged, match="weights of G"):
        tr.save_checkpoint()
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path / "run" / "checkpoints")] == ["step-0000010"]


def test_collapse_signal(tmp_path, tiny_trainer):
    # A D that wins outright: thresholds set so this run's early statistics count as collapse.
    tr = tiny_trainer("train.steps=40", "guard.collapse_d_fake=1.0", "guard.collapse_d_loss=100",
                  "guard.collapse_steps=10")
    with pytest.raises(TrainingDiverged, match="collapse: mean D\\(G\\(z\\)\\)"):
        tr.fit()
    assert tr.step == 10


def _guard(**kw):
    from ganforge.config.schema import GuardConfig
    from ganforge.engine.guard import DivergenceGuard

    return DivergenceGuard(GuardConfig(collapse_d_fake=0.1, collapse_d_loss=0.05, collapse_steps=20, **kw))


NETS = {"G": torch.nn.Linear(1, 1)}
COLLAPSED = {"D_fake": 0.01, "loss_D": 0.01}
HEALTHY = {"D_fake": 0.4, "loss_D": 1.2}


def test_collapse_needs_both_a_low_d_fake_and_a_low_d_loss():
    for mixed in ({"D_fake": 0.01, "loss_D": 1.2}, {"D_fake": 0.4, "loss_D": 0.01}):
        guard = _guard()
        assert all(guard.check(mixed, NETS, steps=10) is None for _ in range(10)), mixed
        assert guard.collapse_steps == 0
    guard = _guard()
    assert guard.check(COLLAPSED, NETS, steps=10) is None and guard.collapse_steps == 10
    assert "collapse: mean D(G(z)) < 0.1 and D loss < 0.05 for 20 steps" in guard.check(COLLAPSED, NETS, steps=10)
    assert guard.collapse_steps == 0  # counted afresh after firing


def test_collapse_must_hold_for_consecutive_steps_a_healthy_reading_resets_the_count():
    guard = _guard()
    for _ in range(10):  # 10 collapsed steps, 10 healthy, ...: never 20 in a row
        assert guard.check(COLLAPSED, NETS, steps=10) is None
        assert guard.check(HEALTHY, NETS, steps=10) is None
        assert guard.collapse_steps == 0
