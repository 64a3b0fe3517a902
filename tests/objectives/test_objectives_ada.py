"""ADA: p rises while D overfits, stays at 0 while it does not; the operations are differentiable; it trains."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ganforge.cli import main
from ganforge.objectives.ada import Ada, augment, colour, translate

CPU = torch.device("cpu")


def test_p_rises_on_an_overfitting_d_and_stays_at_zero_on_a_healthy_one():
    torch.manual_seed(0)
    overfit, healthy = (Ada(0.6, interval=4, kimg=10.0, batch=50, device=CPU) for _ in range(2))
    ps = []
    for _ in range(40):
        overfit.observe(torch.randn(50) + 4.0)  # large positive logits on reals: r_t = 1
        stats = healthy.observe(torch.randn(50))  # D cannot tell: r_t ~ 0
        ps.append(float(overfit.p))
    step = 50 * 4 / 10_000  # batch * interval / (kimg * 1000)
    assert ps == sorted(ps) and float(overfit.p) == pytest.approx(10 * step)
    assert float(healthy.p) == 0.0 and abs(float(stats["ada_rt"])) < 0.3
    assert float(overfit.rt) == 1.0
    for _ in range(400):  # clipped at 1
        overfit.observe(torch.full((50,), 3.0))
    assert float(overfit.p) == 1.0


def test_p_falls_back_when_d_stops_overfitting():
    ada = Ada(0.6, interval=1, kimg=1.0, batch=100, device=CPU)
    for _ in range(5):
        ada.observe(torch.full((100,), 2.0))
    high = float(ada.p)
    for _ in range(3):
        ada.observe(torch.full((100,), -2.0))
    assert high == pytest.approx(0.5) and float(ada.p) == pytest.approx(0.2)


def test_operations_are_identity_at_p0_and_differentiable_at_p1():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 8, 8, requires_grad=True)
    assert torch.equal(augment(x, torch.tensor(0.0)), x)
    y = augment(x, torch.tensor(1.0))
    assert y.shape == x.shape and torch.isfinite(y).all()
    changed = (y - x).flatten(1).abs().amax(1) > 1e-3
    assert changed.all()  # every image got (at least) the colour operations
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_a_run_with_ada_logs_p_and_rt(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "dcgan-digits", "--steps", "6", "--out", "r", "--set", "augment.ada_target=0.6",
            "--set", "augment.ada_interval=1", "--set", "augment.ada_kimg=0.05", "--set", "log.every=1",
            "--set", "log.tensorboard=false", "--set", "model.g.base_channels=8", "--set", "model.d.base_channels=8",
            "--set", "train.batch_size=16", "--set", "log.sample_every=6", "--set", "log.checkpoint_every=6"]
    assert main(argv) == 0
    rows = [json.loads(line) for line in (tmp_path / "r" / "stats.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "ada_p" in r]
    assert len(rows) == 6 and all(0.0 <= r["ada_p"] <= 1.0 and -1.0 <= r["ada_rt"] <= 1.0 for r in rows)
    assert any(r["ada_rt"] != 0 for r in rows)  # r_t measured every D update (ada_interval=1)
    assert (tmp_path / "r" / "checkpoints" / "step-0000006" / "ada.safetensors").is_file()  # p is checkpointed


def test_ada_refuses_graphs_true_but_takes_auto(tmp_path, capsys):
    """ADA's p moves on the host, so a captured D update is refused outright (true); auto, the dcgan-mnist
    family's default, is accepted (on CUDA the phase falls back to eager with a warning)."""
    base = ["train", "dcgan-digits", "--steps", "1", "--set", "augment.ada_target=0.6", "--set", "log.tensorboard=false",
            "--set", "model.g.base_channels=8", "--set", "model.d.base_channels=8", "--set", "train.batch_size=16"]
    assert main([*base, "--out", str(tmp_path / "t"), "--set", "speed.graphs=true"]) == 2
    assert "cannot be captured; set speed.graphs=auto or false" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "a"), "--set", "speed.graphs=auto"]) == 0


def test_xflip_and_rotation_draw_as_the_paper_at_p1():
    """Karras et al. 2020, appendix B: a chosen x-flip draws i ~ U{0, 1} (half the images flipped at p = 1),
    a chosen rotation k ~ U{0, 3} quarter turns (a quarter keep their orientation)."""
    from ganforge.objectives.ada import rotate90, xflip
    torch.manual_seed(0)
    n = 4000
    x = torch.arange(16.0).view(1, 1, 4, 4).expand(n, 1, 4, 4)
    one = torch.tensor(1.0)
    flipped = (xflip(x, one) == x.flip(3)).flatten(1).all(1).float().mean()
    kept = (rotate90(x, one) == x).flatten(1).all(1).float().mean()
    assert float(flipped) == pytest.approx(0.5, abs=0.04)
    assert float(kept) == pytest.approx(0.25, abs=0.04)
    assert torch.equal(xflip(x, torch.tensor(0.0)), x) and torch.equal(rotate90(x, torch.tensor(0.0)), x)


def test_translation_and_contrast_draw_as_the_reference_at_p1():
    """stylegan2-ada's pipeline: an integer shift is round(U(-1/8, 1/8) * size), so at 32 px the shifts of 4 are
    half as likely as the others (a uniform draw of -4..4 gave them 2/9); brightness b ~ N(0, 0.2) is added
    and contrast c ~ lognormal(0, 0.5 ln 2) then scales about 0, mid grey (it scaled about each image's mean,
    which leaves a flat image unchanged). Read back: a pixel of 0 becomes b*c, a pixel of 1 (1 + b)*c."""
    torch.manual_seed(0)
    n, one = 4000, torch.tensor(1.0)
    ramp = torch.arange(32.0)
    x = torch.stack([ramp.view(1, 32).expand(32, 32), ramp.view(32, 1).expand(32, 32)]).expand(n, 2, 32, 32)
    shifted = translate(x, one)
    dx, dy = 16 - shifted[:, 0, 16, 16], 16 - shifted[:, 1, 16, 16]  # no reflection reaches the centre
    for d in (dx, dy):
        assert set(d.tolist()) <= set(range(-4, 5))
        assert float((d.abs() == 4).float().mean()) == pytest.approx(1 / 8, abs=0.03)
        assert float((d == 0).float().mean()) == pytest.approx(1 / 8, abs=0.03)
    pixels = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2).expand(n, 1, 1, 2)
    y = colour(pixels, one)
    c = y[:, 0, 0, 1] - y[:, 0, 0, 0]
    b = y[:, 0, 0, 0] / c
    assert float(c.log().mean()) == pytest.approx(0.0, abs=0.02)
    assert float(c.log().std()) == pytest.approx(0.5 * math.log(2), abs=0.02)
    assert float(b.mean()) == pytest.approx(0.0, abs=0.015)
    assert float(b.std()) == pytest.approx(0.2, abs=0.012)
