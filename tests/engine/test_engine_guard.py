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
