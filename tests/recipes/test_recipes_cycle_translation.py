"""CycleGAN as a recipe: four networks and phases, image pools in the checkpoint, exact resume, learning."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ganforge import config
from ganforge.engine.loop import Trainer
from ganforge.errors import ConfigError
from ganforge.runs.run import load_run
from translation_data import QUIET, TINY_D, digits16, inverted_npz, write

CYCLE = ["recipe=cycle-translation", "model.g.arch=resnet-translator", "model.g.blocks=1", "model.g.base_channels=4",
         *TINY_D, *QUIET, "loss.d=mse", "loss.g=mse", "translation.pool_size=8"]
MIN_CORRELATION = 0.4  # a learnt G's outputs against the true translations (0.75-0.77 measured, seed 0, one thread)


def trainer(tmp_path, data, *extra, name="run", resume=False):
    return Trainer(config.resolve(None, [*CYCLE, f"data.name={data}", *extra]), tmp_path / name, resume=resume)


def weights(run):
    last = sorted(p for p in (run / "checkpoints").iterdir() if p.name.startswith("step-"))[-1]
    return {f"{f.stem}.{k}": v for f in last.glob("*.safetensors") for k, v in load_file(f).items()}


def test_four_networks_one_step_each_and_the_pools_are_checkpointed(tmp_path):
    tr = trainer(tmp_path, inverted_npz(tmp_path), "train.steps=2", "log.checkpoint_every=2")
    assert list(tr.built.nets) == ["G_AB", "G_BA", "D_A", "D_B"]
    assert [p.name for p in tr.built.parts.phases] == ["G_AB", "G_BA", "D_A", "D_B"]
    before = {n: [p.detach().clone() for p in net.parameters()] for n, net in tr.built.nets.items()}
    tr.fit()
    for name, net in tr.built.nets.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters())), name
    saved = weights(tmp_path / "run")
    assert int(saved["pool_A.count"]) == 8 and saved["pool_B.images"].shape == (8, 1, 16, 16)
    log = json.loads((tmp_path / "run" / "stats.jsonl").read_text().splitlines()[-1])
    assert {"cycle_A", "cycle_B", "identity_G_AB", "D_real_A", "D_fake_B", "lr_G_BA"} <= log.keys()


def test_least_squares_in_a_translation_recipe_is_said_to_be_the_halved_form_and_mse_is_not(tmp_path, capsys):
    """A config written before round 21 says least-squares and meant the reference's nn.MSELoss: it now trains on
    the LSGAN paper's halved form, and one warning line says so and names mse; the presets' mse says nothing."""
    data = inverted_npz(tmp_path)
    trainer(tmp_path, data, "train.steps=1", "loss.d=least-squares", "loss.g=least-squares", name="ls")
    err = capsys.readouterr().err
    assert err.count("ganforge: warning: cycle-translation: loss least-squares") == 1 and "loss.g=mse" in err
    trainer(tmp_path, data, "train.steps=1", name="mse")
    assert "least-squares" not in capsys.readouterr().err


def test_one_step_g_losses_are_their_logged_parts_with_the_configured_weights(tmp_path):
    """loss_G_AB = g_adv + cycle * (A -> B -> A + B -> A -> B) + cycle * identity * |G_AB(b) - b| (10, 10, 5 as
    configured), and the same for G_BA, rebuilt from one step's log (both cycles are logged for each G)."""
    tr = trainer(tmp_path, inverted_npz(tmp_path), "train.steps=1")
    tr.fit()
    log = json.loads((tmp_path / "run" / "stats.jsonl").read_text().splitlines()[-1])
    cycle, identity = tr.cfg.translation.cycle, tr.cfg.translation.identity
    assert (cycle, cycle * identity) == (10.0, 5.0)
    for g, source in (("G_AB", "A"), ("G_BA", "B")):
        parts = log[f"g_adv_{g}"] + cycle * (log[f"cycle_{source}"] + log[f"backward_cycle_{g}"]) \
            + cycle * identity * log[f"identity_{g}"]
        assert log[f"loss_{g}"] == pytest.approx(parts, rel=1e-5), g


def test_resume_is_exact_pools_included(tmp_path):
    data = inverted_npz(tmp_path)
    trainer(tmp_path, data, "train.steps=8", "log.checkpoint_every=4", name="straight").fit()
    trainer(tmp_path, data, "train.steps=4", "log.checkpoint_every=4", name="split").fit()
    trainer(tmp_path, data, "train.steps=8", "log.checkpoint_every=4", name="split", resume=True).fit()
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "split")
    assert a.keys() == b.keys() and any(k.startswith("pool_A.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def correlation_with(out: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-image Pearson correlation of ``out`` with ``truth``: 1 for the right mapping (whatever its
    contrast), -1 for the input handed back untouched, 0 for an output that ignores its input (a constant image
    has no variance, counted 0)."""
    o = out.reshape(len(out), -1).astype(float)
    t = truth.reshape(len(truth), -1).astype(float)
    o, t = o - o.mean(1, keepdims=True), t - t.mean(1, keepdims=True)
    norm = np.sqrt((o ** 2).sum(1) * (t ** 2).sum(1))
    return float(np.where(norm > 0, (o * t).sum(1) / np.where(norm > 0, norm, 1.0), 0.0).mean())


def test_correlation_scores_the_mapping_and_not_a_constant():
    x, _ = digits16(200)
    x = x[150:]
    truth = 255 - x
    assert correlation_with(truth, truth) == pytest.approx(1.0)
    assert correlation_with(x, truth) == pytest.approx(-1.0)  # the input handed back
    assert correlation_with(np.full_like(x, 128), truth) == 0.0  # a constant grey
    assert correlation_with(np.broadcast_to(np.median(truth, 0), x.shape).copy(), truth) < 0.9  # the best constant


def test_cyclegan_learns_inversion_both_ways(tmp_path):
    """Without the identity term: at this size (one block of width 4, 16 px, 100 images a domain) it keeps G
    from telling the domains apart (inverting a B image costs 5 * |2b| of identity loss); the presets' wider Gs
    learn with it (docs/benchmarks.md). Judged by the correlation of each output with its true translation, which
    a G that ignores its input (0) or hands it back (-1) cannot reach. The L1 error against the best constant
    image was tried first and passed or failed with the thread count, so the test runs on one thread.

    Round 18: the earlier setting (300 steps at constant lr, a 1-layer D of width 4) learnt on seed 0 of one
    machine (0.75-0.77) but handed the input back on another CPU (-0.36/-0.27, AMD EPYC AVX2) and stayed at
    0.30/0.35 on seed 1: it learnt or not by float rounding. The presets' schedule (constant for half the run,
    then linearly to 0) and a 2-layer D of width 8 learn on every seed tried: 400 steps, seeds 0-5 on one
    thread, AB 0.74/0.91/0.91/0.92/0.68/0.90 and BA 0.76/0.87/0.91/0.91/0.64/0.87."""
    data = inverted_npz(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer(tmp_path, data, "train.steps=400", "translation.identity=0", "model.d.layers=2",
                "model.d.base_channels=8", *[f"optim.{n}.linear_decay_{k}=200" for n in "gd" for k in ("start", "steps")]
                ).fit()
    finally:
        torch.set_num_threads(threads)
    model = load_run(tmp_path / "run").model
    x, _ = digits16(200)
    x = x[150:]
    ab, ba = correlation_with(model.translate(x), 255 - x), correlation_with(model.translate(255 - x, "BA"), x)
    assert ab > MIN_CORRELATION and ba > MIN_CORRELATION, (ab, ba)


def test_identity_needs_equal_channels(tmp_path, one_line):
    x, y = digits16(40)
    mixed = write(tmp_path / "mixed.npz", x, np.repeat(x, 3, 1), y, paired=False)
    with pytest.raises(ConfigError) as e:
        trainer(tmp_path, f"npz:{mixed}", "train.steps=1")
    assert "translation.identity=0" in one_line(e)
    trainer(tmp_path, f"npz:{mixed}", "train.steps=1", "translation.identity=0", name="ok").fit()
