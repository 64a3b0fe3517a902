"""Each stabilising technique switched on in a short run: its defining property holds in training."""

import json

import pytest
import torch
from torch import nn

from ganforge.runs.run import load_run
from ganforge.training.ema import EmaModel

def test_ema_matches_its_closed_form():
    G = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        G.weight.fill_(0.0)
    ema = EmaModel(G, beta=0.9)
    values = [1.0, 2.0, 3.0]
    for v in values:
        with torch.no_grad():
            G.weight.fill_(v)
        ema.update(step=10)
    expected = sum((1 - 0.9) * 0.9 ** (len(values) - 1 - i) * v for i, v in enumerate(values))
    assert abs(ema.model.weight.item() - expected) < 1e-6
    ema_start = EmaModel(G, beta=0.9, start=5)
    with torch.no_grad():
        G.weight.fill_(7.0)
    ema_start.update(step=0)  # before start: a plain copy
    assert ema_start.model.weight.item() == 7.0


def test_ema_generator_is_used_for_sampling_and_survives_resume(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=20", "ema.beta=0.9")
    tr.fit()
    ckpt = sorted((tmp_path / "run" / "checkpoints").iterdir())[-1]
    assert (ckpt / "G_ema.safetensors").exists()
    G = load_run(tmp_path / "run").generator
    for a, b in zip(G.parameters(), tr.built.emas['G_ema'].model.parameters()):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(tr.built.emas['G_ema'].model.parameters(), tr.built.nets["G"].parameters()))


def test_weight_clipping_bounds_every_weight(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=10", "reg.clip=0.01", "loss.d=wasserstein", "loss.g=wasserstein",
                  "model.d.irange=0.5")
    tr.fit()
    assert max(p.abs().max().item() for p in tr.built.nets["D"].parameters()) <= 0.01


def test_diffaugment_sees_real_and_fake_alike(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=1", "augment.policy=translation,cutout", "log.every=1")
    seen = []
    inner = tr.built.parts.context.d_input

    def spy(x, step):
        seen.append(x.shape)
        return inner(x, step)

    tr.built.parts.context.d_input = spy
    tr.fit()
    # D phase: real then fake; G phase: fake. Every input of D went through the augmentation.
    assert len(seen) == 3


def test_instance_noise_anneals_to_zero(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=1", "reg.instance_noise=0.5", "reg.instance_noise_steps=100")
    x = torch.zeros(1000, 1, 8, 8)
    assert abs(tr.built.parts.context.d_input(x, 0).std().item() - 0.5) < 0.02
    assert abs(tr.built.parts.context.d_input(x, 50).std().item() - 0.25) < 0.02
    assert tr.built.parts.context.d_input(x, 100).abs().max() == 0


@pytest.mark.parametrize("extra", [
    ["reg.gp=10", "loss.d=wasserstein", "loss.g=wasserstein", "model.d.input_dropout=0", "model.d.hidden_dropout=0"],
    ["reg.r1=1", "reg.r1_every=4"],
    ["reg.ortho=1e-4"],
    ["reg.feature_matching=1"],
    ["reg.historical=1e-3"],
    ["loss.d=hinge", "loss.g=hinge"],
    ["loss.d=least-squares", "loss.g=least-squares", "loss.real_label=0.9"],
    ["loss.real_label=0.9", "optim.d.lr=2e-4"],
])
def test_technique_trains_and_logs_its_term(tmp_path, extra, tiny_trainer):
    tr = tiny_trainer("train.steps=10", *extra)
    result = tr.fit()
    assert result.step == 10
    stats = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    keys = set().union(*stats)
    for setting, key in (("reg.gp", "gp"), ("reg.r1", "r1"), ("reg.ortho", "ortho"),
                         ("reg.feature_matching", "feature_matching")):
        if any(e.startswith(setting + "=") for e in extra):
            assert key in keys, (setting, keys)


def test_resume_with_stateful_techniques_is_exact(tmp_path, tiny_trainer):
    extra = ["ema.beta=0.9", "reg.historical=1e-3", "augment.policy=color,translation", "reg.instance_noise=0.1"]
    full = tiny_trainer("train.steps=20", *extra, name="full")
    full.fit()
    tiny_trainer("train.steps=10", *extra, name="split").fit()
    resumed = tiny_trainer("train.steps=20", *extra, name="split", resume=True)
    resumed.fit()
    for a, b in [(full.built.nets["G"], resumed.built.nets["G"]), (full.built.nets["D"], resumed.built.nets["D"]),
                 (full.built.emas['G_ema'].model, resumed.built.emas['G_ema'].model)]:
        for p, q in zip(a.state_dict().values(), b.state_dict().values()):
            assert torch.equal(p, q)


def test_truncation_keeps_noise_inside_the_threshold():
    from ganforge.sampling import sample_noise

    z = sample_noise(500, 16, "normal", "cpu", torch.Generator().manual_seed(0), truncation=0.5)
    assert z.abs().max() <= 0.5 and z.std() > 0.2


def test_evaluation_during_training_logs_and_keeps_the_best_checkpoint(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=150", "eval.every=50", "eval.metrics=[modes500_3std]",
                  "train.batch_size=64", "log.every=50", preset="gan2014-ring8")
    tr.fit()
    lines = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    evals = [line for line in lines if any(k.startswith("eval/") for k in line)]
    assert [e["step"] for e in evals] == [50, 100, 150]
    key = tr.evaluator.primary
    best = (tmp_path / "run" / "checkpoints" / "best")
    assert (best / "manifest.json").exists()
    values = [e[f"eval/{key}"] for e in evals]
    higher = tr.evaluator.directions[key] == "higher"
    assert tr.best["value"] == (max(values) if higher else min(values))
    assert load_run(tmp_path / "run", "best").step == tr.best["step"]
