"""What the divergence guard does and says when it rolls back or stops (engine/rollback.py, periodic.py)."""

import json

import pytest
import torch

from ganforge.engine import periodic
from ganforge.engine.rollback import TrainingDiverged


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def _events(run_dir):
    return [r for r in _records(run_dir) if "event" in r]


def _always_nan(tr):
    tr.built.phases[0].terms.append(lambda ctx: (torch.tensor(float("nan")), {}))


def test_the_lr_factor_compounds_at_each_retry(tmp_path, tiny_trainer):
    """guard.lr_factor multiplies at each retry: retry 2 runs at factor**2 and says so. Restoring the
    checkpoint's scale and multiplying once ran every retry at the same factor."""
    tr = tiny_trainer("train.steps=40", "guard.action=rollback", "guard.max_retries=2", "guard.lr_factor=0.5")
    _always_nan(tr)
    with pytest.raises(TrainingDiverged):
        tr.fit()
    messages = [e["message"] for e in _events(tmp_path / "run") if e["event"] == "rollback"]
    assert "lr x0.5" in messages[0] and "lr x0.25" in messages[1]
    assert tr.built.schedules["G"].scale == 0.25 and tr.built.schedules["D"].scale == 0.25
    # each restore renames the steps that follow, so a once-per-step draw (StepBatch) is made anew on a retry
    assert tr.built.parts.context.restores == 2 and tr.built.parts.context.draw_key[0] == 2


def test_stopping_with_no_checkpoint_does_not_claim_one_is_kept(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=40", "log.checkpoint_every=20")
    _always_nan(tr)
    with pytest.raises(TrainingDiverged) as e:
        tr.fit()
    assert "No checkpoint was written" in str(e.value) and "train again with --force" in str(e.value)
    assert "checkpoint is kept" not in str(e.value)


def test_giving_up_after_rollbacks_does_not_suggest_rollback(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=40", "guard.action=rollback", "guard.max_retries=1")
    _always_nan(tr)
    with pytest.raises(TrainingDiverged) as e:
        tr.fit()
    assert "guard.action=rollback" not in str(e.value) and "guard.max_retries" in str(e.value)


def test_a_rollback_drops_the_failed_attempts_records(tmp_path, tiny_trainer):
    """The retry logs the steps after the checkpoint again: each step appears once, as after a resume."""
    tr = tiny_trainer("train.steps=40", "guard.action=rollback")
    state = {"n": 0}

    def poison(ctx):
        state["n"] += 1
        return torch.tensor(float("nan") if state["n"] == 23 else 0.0), {}

    tr.built.phases[0].terms.append(poison)
    assert tr.fit().step == 40
    steps = [r["step"] for r in _records(tmp_path / "run") if "event" not in r]
    assert steps == sorted(set(steps)) and steps[-1] == 40
    assert [e["event"] for e in _events(tmp_path / "run")] == ["rollback"]


class _Evaluator:
    """Stands in for the metrics: records whether it was shown finite weights."""
    primary, directions = "score", {"score": "higher"}

    def __init__(self, tr):
        self.tr, self.saw = tr, []

    def __call__(self, sample):
        nets = self.tr.built.nets.values()
        self.saw.append(all(torch.isfinite(p).all() for net in nets for p in net.parameters()))
        return {"score": float(len(self.saw))}


def test_evaluation_never_scores_nan_weights_between_log_steps(tmp_path, tiny_trainer):
    """eval.every=3 with log.every=5: at step 9 the guard has not looked since step 5; the weights broken at
    step 7 were scored (and could be kept as the best) before the guard stopped the run at step 10."""
    tr = tiny_trainer("train.steps=20")
    tr.cfg.eval.every, tr.evaluator = 3, _Evaluator(tr)

    def poison(ctx):
        if ctx.step == 7:
            with torch.no_grad():
                next(tr.built.nets["G"].parameters()).fill_(float("nan"))
        return torch.tensor(0.0), {}

    tr.built.phases[0].terms.append(poison)
    with pytest.raises(TrainingDiverged, match="at step 9: the weights of G"):
        tr.fit()
    assert tr.evaluator.saw == [True, True]  # steps 3 and 6 only


def test_a_best_checkpoint_not_written_is_not_announced(tmp_path, tiny_trainer, monkeypatch, capsys):
    tr = tiny_trainer("train.steps=5")
    tr.fit()
    tr.evaluator = _Evaluator(tr)
    monkeypatch.setattr(periodic, "save_checkpoint", lambda trainer, label=None: None)  # as after a rollback
    capsys.readouterr()
    assert periodic.evaluate(tr) is None
    assert "kept in checkpoints/best" not in capsys.readouterr().out
