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
         *TINY_D, *QUIET, "loss.d=least-squares", "loss.g=least-squares", "translation.pool_size=8"]
RATIO_TO_CONSTANT = 0.9  # a learnt G's L1 error, at most this share of the best constant image's (0.83 measured)


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


def test_cyclegan_learns_inversion_both_ways(tmp_path):
    """Without the identity term: at this size (one block of width 4, 16 px, 100 images a domain) it keeps G
    from telling the domains apart (inverting a B image costs 5 * |2b| of identity loss), and runs with it stay
    anti-correlated with the truth after 300 steps; the presets' wider Gs learn with it (docs/benchmarks.md)."""
    data = inverted_npz(tmp_path)
    trainer(tmp_path, data, "train.steps=300", "translation.identity=0").fit()
    model = load_run(tmp_path / "run").model
    x, _ = digits16(200)
    x = x[150:]
    out = model.translate(x)
    # Measured against the best input-blind answer (one constant image for every input: the per-pixel median of
    # the truth, the constant with the least L1), not the untouched input, which a constant grey beats by half:
    # a G that ignores its input fails.
    truth = 255 - x.astype(float)
    constant = np.abs(np.median(truth, 0, keepdims=True) - truth).mean()
    err = np.abs(out.astype(float) - truth).mean()
    assert err < RATIO_TO_CONSTANT * constant, (err, constant)
    back = model.translate(255 - x, "BA")  # B -> A from true B images, against the same constant baseline
    constant_a = np.abs(np.median(x, 0, keepdims=True) - x.astype(float)).mean()
    err_a = np.abs(back.astype(float) - x).mean()
    assert err_a < RATIO_TO_CONSTANT * constant_a, (err_a, constant_a)


def test_identity_needs_equal_channels(tmp_path, one_line):
    x, y = digits16(40)
    mixed = write(tmp_path / "mixed.npz", x, np.repeat(x, 3, 1), y, paired=False)
    with pytest.raises(ConfigError) as e:
        trainer(tmp_path, f"npz:{mixed}", "train.steps=1")
    assert "translation.identity=0" in one_line(e)
    trainer(tmp_path, f"npz:{mixed}", "train.steps=1", "translation.identity=0", name="ok").fit()
