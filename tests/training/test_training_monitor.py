"""The collapse monitor: its figure on known generators, in stats.jsonl, the warning and the guard, and a
run that trains bitwise the same with it on or off."""

import json

import pytest
import torch
from scipy.spatial.distance import pdist
from torch import nn

from ganforge.data import load_dataset
from ganforge.engine.rollback import TrainingDiverged
from ganforge.metrics.judges import load_judge
from ganforge.training.monitor import KEY, DiversityMonitor, judge_figures, mean_pairwise_distance


class _Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Linear(64, 16)

    def features(self, x):
        return torch.relu(self.f(x.flatten(1)))


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]


def _constant_g(trainer):
    """Make the run's G draw one image for every z: its output layer keeps only its bias (which still trains)."""
    trainer.built.nets["G"].head.register_forward_hook(lambda m, inputs, out: out * 0 + m.bias)


def test_mean_pairwise_distance_is_scipys():
    x = torch.randn(30, 5, generator=torch.Generator().manual_seed(0))
    assert mean_pairwise_distance(x).item() == pytest.approx(pdist(x.numpy()).mean(), rel=1e-5)


def test_figure_is_zero_for_one_image_and_one_for_the_real_batch_itself():
    torch.manual_seed(0)
    real = torch.rand(50, 1, 8, 8)
    nets = {"D": _Critic()}
    same = DiversityMonitor(lambda nets: real.flip(0), real)(nets)  # the real batch in another order
    one = DiversityMonitor(lambda nets: real[:1].expand(50, -1, -1, -1), real)(nets)
    half = DiversityMonitor(lambda nets: real.mean(0) + 0.5 * (real - real.mean(0)), real)(nets)
    assert same[KEY] == pytest.approx(1.0, rel=1e-5)
    assert one[KEY] == 0.0
    assert 0.2 < half[KEY] < 0.8  # a spread shrunk towards the mean reads in between


def test_dead_critic_features_give_no_figure():
    nets = {"D": _Critic()}
    with torch.no_grad():
        nets["D"].f.weight.zero_()
        nets["D"].f.bias.fill_(-1.0)  # relu(-1) everywhere: every sample maps to one point
    assert DiversityMonitor(lambda nets: torch.rand(10, 64), torch.rand(10, 64))(nets) == {}


def test_constant_g_is_warned_about_and_stopped_by_the_guard(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=60", "guard.diversity_warmup=10", "guard.stop_on_diversity=true",
                      "guard.collapse_steps=15")
    _constant_g(tr)
    with pytest.raises(TrainingDiverged, match=f"collapse: {KEY} .* below 0.2 for 15 steps"):
        tr.fit()
    assert tr.step == 20  # judged from step 10 (warm-up), 15 steps held at the log of step 20
    records = _records(tmp_path / "run")
    assert [r["event"] for r in records if "event" in r] == ["collapse_warning", "diverged"]
    warning = next(r for r in records if r.get("event") == "collapse_warning")
    assert warning["step"] == 10 and "G's samples look collapsed" in warning["message"]
    figures = [r[KEY] for r in records if KEY in r]
    assert figures == [0.0] * 4  # steps 5, 10, 15, 20: one image, whatever z


def test_constant_g_warns_but_trains_on_without_the_switch(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=30", "guard.diversity_warmup=0", "guard.collapse_steps=5")
    _constant_g(tr)
    assert tr.fit().step == 30
    events = [r for r in _records(tmp_path / "run") if "event" in r]
    assert [e["event"] for e in events] == ["collapse_warning"]  # once, not at every log step
    assert "guard.stop_on_diversity=true" in events[0]["message"]


def test_a_diverse_g_that_trains_is_not_warned_about(tmp_path, tiny_trainer):
    # G initialised to spread (U(-0.5, 0.5) weights, no start at the data mean): it reads well above 0.2
    # from the first log step and rises as it trains (measured 0.44 -> 1.07 over 60 steps).
    tr = tiny_trainer("train.steps=60", "log.every=10", "guard.diversity_warmup=0", "guard.stop_on_diversity=true",
                      "guard.collapse_steps=10", "model.g.irange=0.5", "model.g.bias_from_data=false")
    assert tr.fit().step == 60
    records = _records(tmp_path / "run")
    assert not [r for r in records if "event" in r]
    figures = [r[KEY] for r in records if KEY in r]
    assert len(figures) == 6 and min(figures) > 0.3, figures
    assert figures[-1] > figures[0]


def test_the_monitor_does_not_change_training(tmp_path, tiny_trainer):
    """On (with a moving average, whose copy the monitor samples from) or off, the same weights and losses."""
    runs = {}
    for name, n in (("on", 64), ("off", 0)):
        tr = tiny_trainer("train.steps=20", "ema.beta=0.9", f"log.diversity_n={n}", name=name)
        tr.fit()
        runs[name] = (tr.built.nets, tr.built.emas["G_ema"].model, _records(tmp_path / name))
    (nets_on, ema_on, log_on), (nets_off, ema_off, log_off) = runs["on"], runs["off"]
    for name in nets_on:
        for a, b in zip(nets_on[name].state_dict().values(), nets_off[name].state_dict().values()):
            assert torch.equal(a, b), name
    assert all(torch.equal(a, b) for a, b in zip(ema_on.state_dict().values(), ema_off.state_dict().values()))
    assert ema_on.training == ema_off.training and nets_on["G"].training and nets_on["D"].training
    assert [r["loss_D"] for r in log_on if "loss_D" in r] == [r["loss_D"] for r in log_off if "loss_D" in r]
    assert all(KEY in r for r in log_on if "loss_D" in r) and not any(KEY in r for r in log_off)


def test_a_resumed_run_reads_the_same_figures(tmp_path, tiny_trainer):
    tiny_trainer("train.steps=20", name="whole").fit()
    tiny_trainer("train.steps=10", name="split").fit()
    tiny_trainer("train.steps=20", name="split", resume=True).fit()
    whole = {r["step"]: r[KEY] for r in _records(tmp_path / "whole") if KEY in r}
    split = {r["step"]: r[KEY] for r in _records(tmp_path / "split") if KEY in r}
    assert whole == split and sorted(whole) == [5, 10, 15, 20]


def test_with_the_judge_a_constant_g_is_one_class(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=10", "log.diversity_judge=true")
    _constant_g(tr)
    tr.fit()
    records = [r for r in _records(tmp_path / "run") if KEY in r]
    assert [(r["diversity_judge"], r["top_class_share"]) for r in records] == [(0.0, 1.0)] * 2


def test_the_judge_figures_of_real_digits_read_spread_and_several_classes():
    """The real batch against itself reads 1 in the judge's features, and no class holds most of it."""
    real = load_dataset("digits", split="train").x[:128].float() / 255.0
    figures = judge_figures(load_judge("lenet8"), real.flip(0), real, (0.0, 1.0))
    assert figures["diversity_judge"] == pytest.approx(1.0, rel=1e-5)
    assert figures["top_class_share"] < 0.3


def test_the_fixed_real_batch_is_chosen_by_its_seed():
    from ganforge.training.monitor import fixed_real

    x = torch.arange(200.0)[:, None]
    double = lambda t: 2 * t  # noqa: E731
    a, again, b = fixed_real(x, 16, 1, double), fixed_real(x, 16, 1, double), fixed_real(x, 16, 2, double)
    assert a.shape == (16, 1) and torch.equal(a, again)
    assert not torch.equal(a, b)
    assert set((a / 2).flatten().tolist()) <= set(range(200)) and len(set(a.flatten().tolist())) == 16
