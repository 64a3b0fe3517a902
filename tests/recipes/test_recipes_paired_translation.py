"""pix2pix as a recipe: one step of each network, learning (L1 falls), the ablation switches, the trained
model (translate, BatchNorm/dropout at test time) and the one-line refusals."""

import json

import numpy as np
import pytest
import torch

from ganforge import config
from ganforge.data.translation_tasks import canny_edges
from ganforge.engine.loop import Trainer
from ganforge.errors import ConfigError, DataError, GanforgeError
from ganforge.runs.run import load_run
from translation_data import QUIET, TINY_D, TINY_G, digits16, edges_npz, inverted_npz, write

PIX2PIX = ["recipe=paired-translation", *TINY_G, *TINY_D, *QUIET]
RATIO_TO_CONSTANT = 0.75  # a learnt G's L1 error, at most this share of the best constant image's (0.61 measured)


def trainer(tmp_path, data, *extra, name="run"):
    return Trainer(config.resolve(None, [*PIX2PIX, f"data.name={data}", *extra]), tmp_path / name)


def stats(run):
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


def test_one_step_updates_g_and_d(tmp_path, capsys):
    tr = trainer(tmp_path, edges_npz(tmp_path), "train.steps=1")
    assert list(tr.built.nets) == ["G", "D"]
    assert "receptive field 16x16" in capsys.readouterr().err  # printed at build ...
    assert tr.built.record["d_receptive_field"] == 16  # ... and recorded
    before = {n: [p.detach().clone() for p in net.parameters()] for n, net in tr.built.nets.items()}
    tr.fit()
    for name, net in tr.built.nets.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters())), name
    assert {"D_real", "D_fake", "l1", "g_adv", "loss_D", "loss_G"} <= stats(tmp_path / "run")[-1].keys()


def test_one_step_g_loss_is_its_logged_parts_with_the_configured_weights_and_d_reads_the_input(tmp_path):
    """loss_G = translation.l1 * l1 + translation.gan * g_adv (100 and 1), rebuilt from one step's log; and the
    conditional D is shown (a, b) as real and (a, G(a)) as fake, both with the step's own input a beside the image."""
    data = edges_npz(tmp_path)
    tr = trainer(tmp_path, data, "train.steps=1")
    D, seen = tr.built.nets["D"], []
    patches = D.patches
    D.patches = lambda x: seen.append(x.detach().clone()) or patches(x)
    tr.fit()
    log = stats(tmp_path / "run")[-1]
    weights = tr.cfg.translation
    assert (weights.l1, weights.gan) == (100.0, 1.0)
    assert log["loss_G"] == pytest.approx(weights.l1 * log["l1"] + weights.gan * log["g_adv"], rel=1e-5)
    real, fake, g_view = seen  # D's phase: real, fake; G's phase: its adversarial term
    x, _ = digits16(200)
    edges, digits = canny_edges(x), x

    def as_uint8(t):
        return np.rint((t.numpy() + 1) * 127.5).astype(np.uint8)

    a, b = as_uint8(real[:, :1]), as_uint8(real[:, 1:])
    for ai, bi in zip(a, b):  # each (a, b) D saw as real is one training pair, the edges first
        match = [i for i in range(len(x)) if np.array_equal(edges[i], ai) and np.array_equal(digits[i], bi)]
        assert match, "D's real input is not an (edges, digit) training pair"
    assert torch.equal(fake[:, :1], real[:, :1]) and torch.equal(g_view[:, :1], real[:, :1])
    assert not torch.equal(fake[:, 1:], real[:, 1:])


def test_pix2pix_learns_the_mapping_and_translates(tmp_path):
    data = edges_npz(tmp_path)
    trainer(tmp_path, data, "train.steps=300").fit()  # 60 steps halved l1 but stayed worse than a constant
    log = stats(tmp_path / "run")
    assert log[-1]["l1"] < 0.6 * log[0]["l1"], (log[0]["l1"], log[-1]["l1"])
    run = load_run(tmp_path / "run")
    x, _ = digits16(200)
    out = run.model.translate(canny_edges(x[:16]))
    assert out.shape == (16, 1, 16, 16) and out.dtype == np.uint8
    # Against the best input-blind answer, not the inverse image: one constant image for every input, the
    # per-pixel median digit (the constant with the least L1). An all-black G (77.8 against 45.9) or any other
    # constant ignores its input and fails; reading the edges passes.
    truth = x[:16].astype(float)
    constant = np.abs(np.median(x, 0, keepdims=True) - truth).mean()
    err = np.abs(out.astype(float) - truth).mean()
    assert err < RATIO_TO_CONSTANT * constant, (err, constant)
    with pytest.raises(GanforgeError) as e:
        run.model.translate(out, "BA")
    assert "no B -> A generator" in str(e.value)


def test_the_ablation_switches(tmp_path):
    # without its GAN term pix2pix reads no D setting, and one stated with --set is refused (config/dormant.py)
    with pytest.raises(ConfigError, match=r"model.d.arch=patchgan .* this run has translation.gan=0"):
        trainer(tmp_path, edges_npz(tmp_path), "translation.gan=0", name="l1")
    no_d = [s for s in PIX2PIX if not s.startswith(("model.d.", "optim.d."))]
    l1_only = Trainer(config.resolve(None, [*no_d, f"data.name={edges_npz(tmp_path)}", "translation.gan=0",
                                            "train.steps=2"]), tmp_path / "l1")
    assert list(l1_only.built.nets) == ["G"] and [p.name for p in l1_only.built.parts.phases] == ["G"]
    l1_only.fit()
    assert "g_adv" not in stats(tmp_path / "l1")[-1]
    gan_only = trainer(tmp_path, edges_npz(tmp_path), "translation.l1=0", "train.steps=2", name="gan")
    gan_only.fit()
    assert stats(tmp_path / "gan")[-1]["loss_G"] == pytest.approx(stats(tmp_path / "gan")[-1]["g_adv"], rel=1e-5)
    with pytest.raises(ConfigError):
        config.resolve(None, ["translation.l1=0", "translation.gan=0"])


def test_batchnorm_and_dropout_at_test_time_is_a_switch(tmp_path):
    trainer(tmp_path, edges_npz(tmp_path), "train.steps=3").fit()
    x, _ = digits16(32)
    model = load_run(tmp_path / "run").model
    G = model.generator
    running = [b.clone() for b in G.buffers()]
    alone, batched = model.translate(x[:1]), model.translate(x)[:1]
    assert np.array_equal(alone, batched)  # eval: an image's translation never depends on its batch
    model.cfg.translation.test_mode = "train"
    a, b = model.translate(x, seed=1), model.translate(x, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, model.translate(x, seed=2))  # seeded dropout
    assert not np.array_equal(model.translate(x[:1], seed=1), a[:1])  # batch statistics
    assert all(torch.equal(r, b) for r, b in zip(running, G.buffers()))  # running statistics untouched


def test_refusals_are_one_line(tmp_path, one_line):
    with pytest.raises(ConfigError) as e:
        trainer(tmp_path, inverted_npz(tmp_path), "train.steps=1", name="u")
    assert "needs paired data" in one_line(e)
    with pytest.raises(ConfigError) as e:
        trainer(tmp_path, "digits", "train.steps=1", name="one")
    assert "two-domain dataset" in one_line(e)
    x, y = digits16(40)
    odd = write(tmp_path / "odd.npz", x[:, :, :12, :12], x[:, :, :12, :12], y)
    with pytest.raises(ConfigError) as e:
        trainer(tmp_path, f"npz:{odd}", "train.steps=1", name="odd")
    assert "nearest valid size is 16x16" in one_line(e)
    trainer(tmp_path, edges_npz(tmp_path), "train.steps=1", name="ok").fit()
    rgb = np.zeros((2, 3, 16, 16), np.uint8)
    with pytest.raises(DataError) as e:
        load_run(tmp_path / "ok").model.translate(rgb)
    assert "3 channel(s) (RGB) but this model takes 1 (grey)" in one_line(e)
