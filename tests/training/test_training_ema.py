"""The moving average of G stated as a half-life in images with a ramp-up, or as a beta per step:
its defining effect on the weights, its independence of the batch size, and an exact resume."""

import json
import math

import pytest
import torch
import yaml
from torch import nn
from warned import warned

from ganforge import config, presets
from ganforge.cli import main
from ganforge.errors import ConfigError
from ganforge.runs import rundir
from ganforge.training.ema import EmaModel, EmaSchedule


def _scalar_net(value: float) -> nn.Linear:
    """One float64 weight: the average's arithmetic shows without float32 rounding."""
    net = nn.Linear(1, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        net.weight.fill_(value)
    return net


def _set(net: nn.Linear, value: float) -> None:
    with torch.no_grad():
        net.weight.fill_(value)


def test_one_update_blends_old_and_new_with_beta_from_the_half_life():
    half_life, batch = 1000, 64
    G = _scalar_net(0.0)
    ema = EmaModel(G, EmaSchedule(batch_images=batch, half_life_images=half_life))
    _set(G, 1.0)
    ema.update(step=5)  # old 0, new 1
    beta = 0.5 ** (batch / half_life)
    assert ema.model.weight.item() == pytest.approx(beta * 0.0 + (1 - beta) * 1.0, rel=1e-12)
    _set(G, -2.0)
    old = ema.model.weight.item()
    ema.update(step=6)
    assert ema.model.weight.item() == pytest.approx(beta * old + (1 - beta) * -2.0, rel=1e-12)
    # The half-life is what it says: after half_life images the initial weight's share is one half.
    G = _scalar_net(1.0)
    ema = EmaModel(G, EmaSchedule(batch_images=50, half_life_images=1000))
    _set(G, 0.0)
    for step in range(1000 // 50):
        ema.update(step)
    assert ema.model.weight.item() == pytest.approx(0.5, rel=1e-12)


def test_ramp_up_makes_the_average_follow_g_early_and_reaches_the_half_life_later():
    half_life, batch, rampup = 20_000, 64, 0.05
    ramped = EmaSchedule(batch_images=batch, half_life_images=half_life, rampup=rampup)
    flat = EmaSchedule(batch_images=batch, half_life_images=half_life)
    betas = [ramped.beta_at(s) for s in range(8000)]
    assert betas[0] == 0.0  # images seen 0: the average starts as a copy of G
    assert all(a <= b for a, b in zip(betas, betas[1:]))  # the half-life only grows
    full = half_life / (batch * rampup)  # 6250 steps: rampup x images seen reaches the half-life
    assert betas[100] < flat.beta_at(100) and ramped.half_life_at(100) == pytest.approx(100 * batch * rampup)
    assert betas[int(full)] == flat.beta_at(int(full)) and betas[7999] == flat.beta_at(7999)
    assert betas[int(full) - 1] < flat.beta_at(0)

    # The effect on the weights: G drifts from 0 to 1 over 200 steps. The ramped average ends close
    # to G; the full half-life from step 0 still holds mostly the initial weights.
    G = _scalar_net(0.0)
    averages = {"ramped": EmaModel(G, ramped), "flat": EmaModel(G, flat)}
    for step in range(200):
        _set(G, (step + 1) / 200)
        for ema in averages.values():
            ema.update(step)
    ramped_w, flat_w = (averages[k].model.weight.item() for k in ("ramped", "flat"))
    assert ramped_w > 0.9 and flat_w < 0.3, (ramped_w, flat_w)


def test_the_same_half_life_decays_the_same_per_image_at_batch_32_and_64():
    schedules = {b: EmaSchedule.from_config(config.resolve(None, [f"train.batch_size={b}",
                                                                  "ema.half_life_images=3000"]).ema, b)
                 for b in (32, 64)}
    shares = {}
    for batch, schedule in schedules.items():
        G = _scalar_net(1.0)
        ema = EmaModel(G, schedule)
        _set(G, 0.0)
        for step in range(10, 10 + 6400 // batch):  # 6,400 images either way
            ema.update(step)
        shares[batch] = ema.model.weight.item()  # what is left of the old weight 1.0
    assert shares[32] == pytest.approx(shares[64], rel=1e-12)
    assert shares[64] == pytest.approx(0.5 ** (6400 / 3000), rel=1e-12)
    # A beta per step does not: the same 0.999 keeps more of the old weight per image at batch 64.
    per_step = {b: EmaSchedule(batch_images=b, beta=0.999) for b in (32, 64)}
    assert per_step[32].beta_at(0) ** 2 < per_step[64].beta_at(0)
    assert per_step[64].half_life_at(0) == pytest.approx(2 * per_step[32].half_life_at(0))


def test_start_delays_either_form():
    for schedule in (EmaSchedule(batch_images=8, beta=0.9, start=3),
                     EmaSchedule(batch_images=8, half_life_images=80, start=3)):
        assert [schedule.beta_at(s) for s in range(3)] == [0.0, 0.0, 0.0] and schedule.beta_at(3) >= 0.9


@pytest.mark.parametrize("overrides, message", [
    (["ema.beta=0.999", "ema.half_life_images=10000"], "both set the same average; keep one"),
    (["ema.rampup=0.05"], "ema.rampup .* ramps up ema.half_life_images, which is null"),
    (["ema.half_life_images=0"], "ema.half_life_images must be > 0"),
    (["ema.half_life_images=100", "ema.rampup=-1"], "ema.rampup must be > 0"),
    (["ema.beta=1"], r"ema.beta must be in \(0, 1\)"),
])
def test_a_moving_average_stated_two_ways_or_out_of_range_is_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        config.resolve(None, overrides)


def test_a_beta_over_a_preset_half_life_is_one_line_naming_the_fix(capsys, tmp_path):
    assert main(["train", "stylegan2-mnist", "--steps", "1", "--out", str(tmp_path / "r"),
                 "--set", "ema.beta=0.999"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ema.half_life_images=null" in err, err
    assert not (tmp_path / "r").exists()


def test_paper_presets_state_their_average_in_their_papers_units():
    def ema(name):
        cfg = config.resolve(presets.load_preset(name)[0])
        return cfg.ema, EmaSchedule.from_config(cfg.ema, cfg.train.batch_size)

    (sg2, sg2_schedule), (pg, _), (bg, _) = ema("stylegan2-cifar"), ema("progan-cifar"), ema("biggan-cifar")
    assert (sg2.half_life_images, sg2.rampup, sg2.beta) == (500_000, 0.05, None)  # ada's cifar: 500 kimg, 0.05
    assert (pg.beta, pg.half_life_images) == (0.999, None)  # ProGAN: per step
    assert (bg.beta, bg.start) == (0.9999, 1000)  # BigGAN: per G step, from launch_cifar_ema.sh's start
    # What a short run's average holds: after 480 steps at batch 64 the old beta 0.9999 kept 95% of the
    # initial weights; the ramped half-life is 1,536 images (24 steps) there.
    assert 0.9999 ** 480 > 0.95 and sg2_schedule.half_life_at(480) == pytest.approx(1536)


@pytest.fixture
def ramped(tmp_path, tiny_trainer):
    return lambda steps, **kw: tiny_trainer(f"train.steps={steps}", "ema.half_life_images=400", "ema.rampup=0.5",
                                            "ema.start=2", **kw)


def test_resume_continues_the_average_exactly_and_the_log_shows_the_ramp(tmp_path, ramped):
    full = ramped(30, name="full")
    full.fit()
    first = ramped(20, name="split")
    first.fit()
    resumed = ramped(30, name="split", resume=True)
    assert resumed.step == 20
    resumed.fit()
    a, b = full.built.emas["G_ema"].model.state_dict(), resumed.built.emas["G_ema"].model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], v) for k, v in full.built.nets["G"].state_dict().items())  # an average

    schedule = full.built.emas["G_ema"].schedule
    for run in ("full", "split"):
        records = [json.loads(line) for line in (tmp_path / run / "stats.jsonl").read_text().splitlines()]
        logged = {r["step"]: r["ema_beta"] for r in records if "ema_beta" in r}
        assert sorted(logged) == [5, 10, 15, 20, 25, 30]
        assert all(beta == schedule.beta_at(step - 1) for step, beta in logged.items())
    # batch 16, ramp 0.5: the half-life 400 is reached at step 50, so every logged beta is still rising
    assert [logged[s] for s in sorted(logged)] == sorted(set(logged.values()))
    assert logged[30] == pytest.approx(0.5 ** (16 / (29 * 16 * 0.5)))


def test_a_run_saved_before_half_lives_existed_loads_and_resumes(tmp_path, tiny_trainer):
    tiny_trainer("train.steps=10", "ema.beta=0.9").fit()
    path = tmp_path / "run" / rundir.CONFIG
    raw = yaml.safe_load(path.read_text())
    raw["ema"] = {"beta": 0.9, "start": 0}  # the ema section as runs wrote it before
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    cfg = rundir.read_config(tmp_path / "run")
    assert (cfg.ema.beta, cfg.ema.half_life_images, cfg.ema.rampup) == (0.9, None, None)
    resumed = tiny_trainer("train.steps=15", "ema.beta=0.9", resume=True)  # no "config differs" refusal
    assert resumed.step == 10
    assert resumed.fit().step == 15 and math.isclose(resumed.built.emas["G_ema"].beta_at(12), 0.9)


def test_a_ramped_average_under_graphs_goes_eager_alone_and_trains_the_same(tmp_path, tiny_trainer):
    """The ramp changes beta, a number an update's graph bakes in, at every step: after two captures the
    EMA phase runs eagerly (one warning naming why) while the other phases stay graphed, bit for bit."""
    runs = {}
    for flag in ("false", "true"):
        with warned() as caught:
            runs[flag] = tiny_trainer("train.steps=20", "ema.half_life_images=400", "ema.rampup=0.5",
                                      f"speed.graphs={flag}", name=f"graphs-{flag}")
            runs[flag].fit()
        said = [w for w in caught if "phase G_ema runs eagerly" in w]
        assert len(said) == (flag == "true"), said
    assert "changes every few steps" in said[0]
    phases = {p.name: p for p in runs["true"].built.phases}
    assert phases["G_ema"].eager_reason and not phases["G"].eager_reason and not phases["D"].eager_reason
    plain, fast = (runs[f].built.emas["G_ema"].model.state_dict() for f in ("false", "true"))
    assert all(torch.equal(plain[k], fast[k]) for k in plain)


def test_buffers_such_as_batch_norm_running_stats_are_copied_not_averaged():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EmaModel(G, EmaSchedule(batch_images=1, beta=0.9))
    G.train()
    G(torch.randn(16, 3) * 5 + 3)  # moves the source's running statistics
    bn, ebn = G[1], ema.model[1]
    assert not torch.equal(bn.running_mean, ebn.running_mean)
    ema.update(step=1)
    assert torch.equal(ebn.running_mean, bn.running_mean) and torch.equal(ebn.running_var, bn.running_var)
    assert ebn.num_batches_tracked.item() == bn.num_batches_tracked.item() == 1
