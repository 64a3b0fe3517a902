"""Each stabilising technique switched on in a short run: its defining property holds in training."""

import json
import math

import pytest
import torch
from torch import nn

from ganforge import objectives
from ganforge.errors import ConfigError
from ganforge.runs import checkpoint
from ganforge.runs.run import load_run
from ganforge.training.ema import EmaModel, EmaSchedule

def test_ema_matches_its_closed_form():
    G = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        G.weight.fill_(0.0)
    ema = EmaModel(G, EmaSchedule(beta=0.9))
    values = [1.0, 2.0, 3.0]
    for v in values:
        with torch.no_grad():
            G.weight.fill_(v)
        ema.update(step=10)
    expected = sum((1 - 0.9) * 0.9 ** (len(values) - 1 - i) * v for i, v in enumerate(values))
    assert abs(ema.model.weight.item() - expected) < 1e-6
    ema_start = EmaModel(G, EmaSchedule(beta=0.9, start=5))
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


def _shifted(x, dy, dx):
    """x moved so that out[..., i, j] = x[..., i + dy, j + dx], zero where that falls outside."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    out[..., max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)] = \
        x[..., max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)]
    return out


def _square_masks(h, w, side):
    """1 everywhere but a side x side square (clipped at the border), for every square touching the image."""
    masks = []
    for top in range(1 - side, h):
        for left in range(1 - side, w):
            m = torch.ones(h, w)
            m[max(0, top):top + side, max(0, left):left + side] = 0
            masks.append(m)
    return torch.stack(masks)


def _explanations(raw, seen, max_shift, cutout_side):
    """[candidates, images] bool: which (shift, cutout square) turns each raw image into what D saw."""
    shifts = [(dy, dx) for dy in range(-max_shift, max_shift + 1) for dx in range(-max_shift, max_shift + 1)]
    h, w = raw.shape[-2:]
    masks = _square_masks(h, w, cutout_side) if cutout_side else torch.ones(1, h, w)
    candidates = torch.stack([_shifted(raw, dy, dx) * m for dy, dx in shifts for m in masks])
    return (candidates == seen.unsqueeze(0)).flatten(2).all(2)


# The collapse monitor runs D's features on its own fixed batches at every log step; the tests that
# count what D sees in training switch it off.
NO_MONITOR = ("log.diversity_n=0",)


def _spy_on_what_d_sees(tr):
    """Record (input to the augmentation, what D's first layer got) for every D evaluation, and the real
    batches drawn."""
    ctx, D = tr.built.parts.context, tr.built.nets["D"]
    record = {"raw": [], "seen": [], "real": [], "phase": []}
    inner_input, inner_features, inner_next = ctx.d_input, D.features, ctx.real.next

    def d_input(x, step):
        record["raw"].append(x.detach().clone())
        record["phase"].append(ctx.training)
        return inner_input(x, step)

    def features(x):
        record["seen"].append(x.detach().clone())
        return inner_features(x)

    def next_real():
        x, y = inner_next()
        record["real"].append(x.detach().clone())
        return x, y

    ctx.d_input, D.features, ctx.real.next = d_input, features, next_real
    return record


def test_diffaugment_sees_real_and_fake_alike(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=1", "augment.policy=translation,cutout", "log.every=1", *NO_MONITOR)
    seen = []
    inner = tr.built.parts.context.d_input

    def spy(x, step):
        seen.append(x.shape)
        return inner(x, step)

    tr.built.parts.context.d_input = spy
    record = _spy_on_what_d_sees(tr)
    tr.fit()
    # D phase: real then fake; G phase: fake. Every input of D went through the augmentation.
    assert len(seen) == 3
    assert record["phase"] == ["D", "D", "G"] and len(record["seen"]) == 3
    assert torch.equal(record["raw"][0], record["real"][0])  # the first thing augmented is the real batch
    n = record["raw"][0].shape[0]
    for raw, d_saw in zip(record["raw"], record["seen"]):
        # Each image is its raw self shifted by at most 1/8 of 8 pixels (zero padded), then with a square of
        # half the side zeroed, and nothing else; and not all images the same way (fresh draws per sample).
        fits = _explanations(raw, d_saw, max_shift=1, cutout_side=4)
        assert fits.any(0).all(), "an image D saw is not a translation + cutout of its raw self"
        assert not fits.all(1).any(), "one shift and one square explain every image: not drawn per sample"
        changed = (d_saw != raw).flatten(1).any(1)
        assert changed.sum() >= n // 2, f"only {int(changed.sum())} of {n} images were augmented"


def test_diffaugment_color_moves_each_image_mean_and_scales_its_contrast(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=1", "augment.policy=color", "log.every=1", *NO_MONITOR)
    record = _spy_on_what_d_sees(tr)
    tr.fit()
    assert len(record["seen"]) == 3
    for raw, d_saw in zip(record["raw"], record["seen"]):
        shift = (d_saw.mean((1, 2, 3)) - raw.mean((1, 2, 3)))
        # Brightness: +-0.5 per image (contrast keeps the mean; saturation is the identity on one channel).
        assert shift.abs().max() <= 0.5 + 1e-5
        assert shift.std() > 0.05, "every image got the same brightness"
        centred_raw = raw - raw.mean((1, 2, 3), keepdim=True)
        centred_seen = d_saw - d_saw.mean((1, 2, 3), keepdim=True)
        # Contrast: a factor in [0.5, 1.5] per image about its mean.
        factor = (centred_seen * centred_raw).sum((1, 2, 3)) / centred_raw.pow(2).sum((1, 2, 3))
        assert torch.allclose(centred_seen, factor.view(-1, 1, 1, 1) * centred_raw, atol=1e-5)
        assert factor.min() >= 0.5 - 1e-4 and factor.max() <= 1.5 + 1e-4 and factor.std() > 0.05


def test_without_a_policy_d_sees_the_raw_batches(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=2", "log.every=1", *NO_MONITOR)
    assert tr.cfg.augment.policy == ""  # the default: no augmentation
    record = _spy_on_what_d_sees(tr)
    tr.fit()
    assert record["phase"] == ["D", "D", "G"] * 2
    for raw, d_saw in zip(record["raw"], record["seen"]):
        assert torch.equal(raw, d_saw)
    assert torch.equal(record["seen"][0], record["real"][0]) and torch.equal(record["seen"][3], record["real"][1])


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


def _logits_per_step(tr):
    """Wraps D's evaluation: [{"D": [real logits, fake logits], "G": [fake logits]} per step] (each step's
    logits as the losses got them, dropout and all)."""
    ctx = tr.built.parts.context
    steps: list[dict[str, list[torch.Tensor]]] = []
    inner = ctx.discriminate

    def discriminate(x, y):
        f, logits = inner(x, y)
        if ctx.training == "D" and (not steps or "G" in steps[-1]):
            steps.append({})  # a new step begins with D's update
        steps[-1].setdefault(ctx.training, []).append(logits.detach().clone())
        return f, logits

    ctx.discriminate = discriminate
    return steps


def _train_and_compare(tmp_path, tr, steps=4):
    """Fit with log.every=1; the captured logits and the logged statistics, step by step."""
    assert tr.cfg.log.every == 1 and tr.cfg.train.d_steps == 1
    captured = _logits_per_step(tr)
    tr.fit()
    stats = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert len(captured) == len(stats) == steps
    assert all(len(c["D"]) == 2 and len(c["G"]) == 1 for c in captured)
    return captured, stats


def _close(logged, value):
    return abs(logged - float(value)) <= 1e-6 + 1e-5 * abs(float(value))


def test_hinge_loss_is_what_d_and_g_minimise(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=4", "log.every=1", "loss.d=hinge", "loss.g=hinge")
    # D stops being pushed once a margin of 1 is met: no gradient for real logits above 1 or fake below -1.
    real = torch.tensor([1.5, 0.5, -2.0], requires_grad=True)
    fake = torch.tensor([-1.5, -0.5, 2.0], requires_grad=True)
    gr, gf = torch.autograd.grad(tr.built.parts.context.d_loss(real, fake), (real, fake))
    assert gr[0] == 0 and gf[0] == 0
    assert torch.allclose(gr, torch.tensor([0, -1 / 3, -1 / 3])) and torch.allclose(gf, torch.tensor([0, 1 / 3, 1 / 3]))
    captured, stats = _train_and_compare(tmp_path, tr)
    for c, line in zip(captured, stats):
        (r, f), (g,) = c["D"], c["G"]
        assert _close(line["loss_D"], torch.relu(1 - r).mean() + torch.relu(1 + f).mean())
        assert _close(line["loss_G"], -g.mean())
        assert _close(line["D_real"], r.mean()) and _close(line["D_fake"], f.mean())  # raw scores, not sigmoid


def test_least_squares_loss_is_what_d_and_g_minimise(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=4", "log.every=1", "loss.d=least-squares", "loss.g=least-squares",
                      "loss.real_label=0.9")
    # Unlike the minimax loss, a real sample D already scores far past its target is pulled back to it.
    real = torch.tensor([3.0, 0.9], requires_grad=True)
    fake = torch.tensor([-2.0, 0.0], requires_grad=True)
    gr, gf = torch.autograd.grad(tr.built.parts.context.d_loss(real, fake), (real, fake))
    assert torch.allclose(gr, torch.tensor([1.05, 0.0])) and torch.allclose(gf, torch.tensor([-1.0, 0.0]))
    captured, stats = _train_and_compare(tmp_path, tr)
    for c, line in zip(captured, stats):
        (r, f), (g,) = c["D"], c["G"]
        assert _close(line["loss_D"], 0.5 * (r - 0.9).pow(2).mean() + 0.5 * f.pow(2).mean())
        assert _close(line["loss_G"], 0.5 * (g - 1).pow(2).mean())
        assert _close(line["D_real"], r.mean()) and _close(line["D_fake"], f.mean())


def test_one_sided_label_smoothing_is_what_d_minimises(tmp_path, tiny_trainer):
    tr = tiny_trainer("train.steps=10", "log.every=1", "loss.real_label=0.9", "optim.d.lr=1e-2")
    assert tr.cfg.loss.d == "minimax"
    # The defining effect: D's best logit for a real sample is log(0.9 / 0.1) = log 9, not +infinity.
    for d_loss, bounded in ((tr.built.parts.context.d_loss, True), (objectives.D_LOSSES["minimax"], False)):
        logit = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([logit], lr=2.0)
        for _ in range(300):
            opt.zero_grad()
            d_loss(logit, torch.zeros(1)).backward()
            opt.step()
        if bounded:
            assert abs(logit.item() - math.log(9)) < 1e-3
        else:
            assert logit.item() > 5  # without smoothing it keeps growing
    captured, stats = _train_and_compare(tmp_path, tr, steps=10)
    unsmoothed_gap = 0.0
    for c, line in zip(captured, stats):
        (r, f), _ = c["D"], c["G"]
        sp = torch.nn.functional.softplus
        assert _close(line["loss_D"], (0.9 * sp(-r) + 0.1 * sp(r)).mean() + sp(f).mean())
        assert _close(line["D_real"], torch.sigmoid(r).mean())  # minimax: shown as a probability
        unsmoothed_gap = max(unsmoothed_gap, abs(line["loss_D"] - (sp(-r).mean() + sp(f).mean()).item()))
    assert unsmoothed_gap > 1e-3  # the check above tells the smoothed loss from the plain one


def _trajectories(tr):
    """Each trained network's parameters after every one of its updates."""
    seen = {"D": [], "G": []}
    for phase in tr.built.phases:
        if getattr(phase, "net", None) in seen:
            net, store = tr.built.nets[phase.net], seen[phase.net]
            phase.after_update.append(lambda net=net, store=store: store.append(
                [p.detach().clone() for p in net.parameters()]))
    return seen


def _distance_to_running_mean(trajectory):
    means = [torch.stack(values).mean(0) for values in zip(*trajectory)]
    return sum((p - m).pow(2).sum() for p, m in zip(trajectory[-1], means)).item(), means


def test_historical_averaging_pulls_weights_to_their_running_mean(tmp_path, tiny_trainer):
    distances = {}
    for weight in (0.0, 0.1):
        tr = tiny_trainer("train.steps=20", f"reg.historical={weight}", name=f"w{weight}")
        trajectories = _trajectories(tr)
        tr.fit()
        for net, trajectory in trajectories.items():
            assert len(trajectory) == 20
            distances[net, weight], means = _distance_to_running_mean(trajectory)
            if weight:
                # The term's reference is the mean of the network's weights after each of its updates so far.
                average = tr.built.parts.stateful[f"historical_{net}"]
                assert average.count == 20
                for m, expected in zip(average.means, means):
                    assert torch.allclose(m, expected, atol=1e-6)
    for net in ("D", "G"):
        # Same seed, same data: with the term the weights end much closer to their running mean.
        assert distances[net, 0.1] < 0.2 * distances[net, 0.0], (net, distances)


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
    for bad in (0.01, float("nan"), float("inf")):  # nan and inf passed a plain `<` and truncated nothing
        with pytest.raises(ConfigError, match="truncation must be a number >= 0.05"):
            sample_noise(4, 16, "normal", "cpu", torch.Generator().manual_seed(0), truncation=bad)


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
    # the choice is said inside the checkpoint, so a copy under another name is still known as one
    chosen = json.loads((best / "state.json").read_text())[checkpoint.CHOSEN_BY_EVAL]
    assert chosen == {"key": key, "value": tr.best["value"], "step": tr.best["step"]}
    latest = sorted((tmp_path / "run" / "checkpoints").glob("step-*"))[-1]
    assert checkpoint.CHOSEN_BY_EVAL not in json.loads((latest / "state.json").read_text())


def test_what_a_run_shows_between_steps_never_changes_it(tiny_trainer):
    """A preview that draws random numbers (a recipe's own ``save_preview`` may) leaves the training after it
    the same: previews run under a forked RNG, as evaluation and the monitor do (engine/periodic.measuring).
    gan2014-digits' D has dropout, which draws from the global generator every step."""
    plain = tiny_trainer("train.steps=12", name="plain")
    plain.fit()
    shown = tiny_trainer("train.steps=12", "log.sample_every=3", name="shown")
    original, drawn = shown.built.parts.save_preview, []

    def preview(*args):
        drawn.append(torch.rand(100))
        return original(*args)

    shown.built.parts.save_preview = preview
    shown.fit()
    assert len(drawn) >= 3
    for name in ("G", "D"):
        for p, q in zip(plain.built.nets[name].state_dict().values(), shown.built.nets[name].state_dict().values()):
            assert torch.equal(p, q)
