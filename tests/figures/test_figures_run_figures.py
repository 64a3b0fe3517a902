"""`ganforge figures`: the pieces, then end to end on tiny image and 2-D runs."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from ganforge.cli import main
from ganforge.figures import run_figures as rf
from ganforge.figures.run_figures import lerp, nearest_neighbours, slerp


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "gfdata"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny nets: threads only contend on a loaded CPU
    yield
    torch.set_num_threads(threads)


def test_interpolations_start_and_end_at_the_endpoints():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(4, 16, generator=g), torch.randn(4, 16, generator=g)
    t = torch.linspace(0, 1, 7)
    for fn in (lerp, slerp):
        path = fn(z0, z1, t)
        assert path.shape == (4, 7, 16)
        assert torch.allclose(path[:, 0], z0, atol=1e-5) and torch.allclose(path[:, -1], z1, atol=1e-5)
    # between vectors of equal norm a great circle keeps the norm; a straight line does not
    z1 = z1 / z1.norm(dim=1, keepdim=True) * z0.norm(dim=1, keepdim=True)
    norms = slerp(z0, z1, t).norm(dim=2)
    assert torch.allclose(norms, z0.norm(dim=1, keepdim=True).expand_as(norms), rtol=1e-4)
    assert (lerp(z0, z1, t).norm(dim=2)[:, 3] < z0.norm(dim=1) - 1e-3).all()
    assert torch.allclose(slerp(z0, z0, t)[:, 3], z0, atol=1e-5)  # parallel: no division by zero


def test_nearest_neighbours_match_brute_force(monkeypatch):
    rng = np.random.default_rng(0)
    pool = rng.integers(0, 256, (60, 1, 5, 5), dtype=np.uint8)
    queries = np.concatenate([pool[[7, 3]], rng.integers(0, 256, (20, 1, 5, 5), dtype=np.uint8)])
    monkeypatch.setattr("ganforge.figures.run_figures.BLOCK", 4)
    dist, idx = nearest_neighbours(queries, pool)
    flat_q, flat_p = queries.reshape(len(queries), -1) / 255.0, pool.reshape(len(pool), -1) / 255.0
    full = np.linalg.norm(flat_q[:, None] - flat_p[None], axis=2)
    assert np.array_equal(idx, full.argmin(1)) and np.allclose(dist, full.min(1), atol=1e-3)
    assert idx[0] == 7 and idx[1] == 3 and dist[0] < 1e-3  # a copied training image is found at distance 0


def _train(preset, out, steps=20):
    assert main(["train", preset, "--steps", str(steps), "--out", str(out), "--set", "log.tensorboard=false",
                 "--set", "log.every=5"]) == 0


def test_figures_of_an_image_run(tmp_path, capsys):
    run = tmp_path / "digits"
    _train("gan2014-digits", run)
    capsys.readouterr()
    assert main(["figures", str(run), "--n", "200"]) == 0
    out = capsys.readouterr().out
    assert "median distance to the nearest training item: samples" in out and "held-out real (test)" in out
    names = {p.name for p in (run / "figures").iterdir()}
    assert names == {"curves.png", "nn_distances.png", "interp_linear.png", "interp_slerp.png",
                     "nearest_neighbours.png"}
    sheet = Image.open(run / "figures" / "nearest_neighbours.png")
    assert sheet.size[0] >= 600  # readable: 16 (sample | nearest) pairs, 4 to a row, labelled
    strip = Image.open(run / "figures" / "interp_slerp.png")
    # 10 steps of 8x8 digits enlarged to 32 px with 1 px gaps, under a title band
    assert strip.size[0] >= 10 * 33 + 1 and strip.size[1] > 8 * 33 + 1
    assert np.asarray(strip.convert("L"))[:10].min() < 100  # the title's text is dark on white
    # probe, item 4: --n 2 drew 2 pairs instead of the documented 16 without a word
    assert "pairs of sample" not in out
    assert main(["figures", str(run), "--n", "2"]) == 0
    out = capsys.readouterr().out
    assert "nearest_neighbours.png: 2 pairs of sample and nearest training image, not 16: --n 2 draws only 2" in out


def test_figures_of_a_point_run(tmp_path, capsys):
    run = tmp_path / "ring"
    _train("gan2014-ring8", run)
    capsys.readouterr()
    assert main(["figures", str(run), "--n", "300"]) == 0
    out = capsys.readouterr().out
    assert "nearest_neighbours.png: skipped" in out and "held-out real (test)" in out
    names = {p.name for p in (run / "figures").iterdir()}
    assert names == {"curves.png", "nn_distances.png", "interp_linear.png", "interp_slerp.png", "samples.png"}


def test_figures_of_a_missing_run_is_one_line(tmp_path, capsys):
    assert main(["figures", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and err.count("\n") == 1


def test_figures_out_dir_follows_the_output_rule(tmp_path, capsys):
    run = tmp_path / "ring"
    _train("gan2014-ring8", run, steps=10)
    assert main(["figures", str(run), "--n", "100", "--out", str(tmp_path / "figs")]) == 0
    names = {p.name for p in (tmp_path / "figs").iterdir()}
    assert names == {"curves.png", "nn_distances.png", "interp_linear.png", "interp_slerp.png", "samples.png"}
    assert not (run / "figures").exists()
    before = (tmp_path / "figs" / "curves.png").read_bytes()
    capsys.readouterr()
    assert main(["figures", str(run), "--n", "100", "--out", str(tmp_path / "figs")]) == 2
    err = capsys.readouterr().err
    assert "curves.png already exists; pass --force" in err and err.count("\n") == 1
    assert (tmp_path / "figs" / "curves.png").read_bytes() == before
    assert main(["figures", str(run), "--n", "100", "--out", str(tmp_path / "figs"), "--force"]) == 0
    assert not [p for p in (tmp_path / "figs").iterdir() if p.name.startswith(".")]  # no temporary left


def _fails_writing_nothing(capsys, argv, out, *expected):
    capsys.readouterr()
    assert main([str(a) for a in argv]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "figure:" not in captured.out, err
    for text in expected:
        assert text in err, (text, err)
    assert not out.exists()


def test_figures_of_a_run_whose_every_checkpoint_is_damaged_fail_writing_nothing(tmp_path, tiny_runs, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_runs / "digits", run)
    for weights in run.glob("checkpoints/step-*/G.safetensors"):
        weights.write_bytes(weights.read_bytes()[:100])
    _fails_writing_nothing(capsys, ["figures", run, "--n", "20", "--out", tmp_path / "f"], tmp_path / "f",
                           "every checkpoint in", "is damaged")


@pytest.mark.parametrize("name,use", [("pix2pix", "ganforge translate"), ("sr", "ganforge upscale")])
def test_figures_of_a_run_without_noise_samples_are_refused_before_writing(tmp_path, tiny_runs, capsys, name, use):
    _fails_writing_nothing(capsys, ["figures", tiny_runs / name, "--n", "20", "--out", tmp_path / "f"],
                           tmp_path / "f", "draws no samples from noise", "nn_distances.png", "nothing was written",
                           use)


def test_figures_load_the_data_as_the_run_trained_on_it(tmp_path, tiny_runs, capsys, monkeypatch):
    """An anomaly protocol's digit (data.digit) comes from the run's config, as for training: figures has no --set."""
    seen = []
    real = rf.load_dataset

    def load(name, **kwargs):
        seen.append(kwargs)
        return real(name, **{k: v for k, v in kwargs.items() if k != "digit"})

    monkeypatch.setattr(rf, "load_dataset", load)
    run = tmp_path / "run"
    shutil.copytree(tiny_runs / "digits", run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"]["digit"] = 3
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["figures", str(run), "--n", "20", "--out", str(tmp_path / "f")]) == 0
    assert seen and all(kwargs["digit"] == 3 for kwargs in seen)


def test_figures_n_beyond_memory_is_refused_before_anything_is_drawn(tmp_path, capsys, monkeypatch):
    # probe F: figures --n 1000000000 ran on silently into an N x K x 2 float64 array
    from ganforge import memory
    from ganforge.runs.run import Run
    run = tmp_path / "ring"
    _train("gan2014-ring8", run)
    monkeypatch.setattr(memory, "available_memory", lambda: 10 ** 9)
    monkeypatch.setattr(Run, "sample_chunks", lambda *a, **k: pytest.fail("sampled before the memory check"))
    capsys.readouterr()
    assert main(["figures", str(run), "--n", "1000000000"]) == 2
    err = capsys.readouterr().err.strip()
    per = rf.bytes_per_sample(rf.load_dataset("ring8", split="train"))
    assert len(err.splitlines()) == 1 and "--n 1000000000 needs about" in err, err
    assert f"the most this machine takes now is --n {(10 ** 9 // 2) // per}" in err
    assert not (run / "figures").exists()  # not even curves.png: the check comes first


def test_figures_bytes_per_sample_grow_with_the_modes_and_the_pixels():
    ring, grid = rf.load_dataset("ring8", split="train"), rf.load_dataset("grid25", split="train")
    assert rf.bytes_per_sample(grid) - rf.bytes_per_sample(ring) == 8 * 17 * 3  # N x K x 2 and N x K float64
    digits = rf.load_dataset("digits", split="train")
    assert rf.bytes_per_sample(digits) == 2 * 64 + 4 * 64 + 16  # uint8 twice, float32 copy, distance and index
