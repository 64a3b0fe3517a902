"""The style-based recipe's sampling: truncation psi and style mixing, from Python and from `ganforge sample`."""

import numpy as np
import pytest
import torch

from ganforge import run_stats, sampling
from ganforge.cli import main
from ganforge.runs.run import load_run

TINY = ["--set", "data.name=digits", "--set", "model.g.channels=8", "--set", "model.g.w_dim=16",
        "--set", "model.d.channels=8", "--set", "model.z_dim=8", "--set", "train.batch_size=8",
        "--set", "log.tensorboard=false", "--set", "log.progress=false",
        "--set", "ema.half_life_images=8", "--set", "ema.rampup=null"]  # beta 0.5 a step at batch 8


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("style") / "run"
    assert main(["train", "stylegan2-mnist", "--steps", "3", "--out", str(out), *TINY]) == 0
    return out


def test_a_dataset_that_does_not_split_into_minibatch_std_groups_trains(tmp_path):
    """30 images and the monitor's 128: its fixed real batch was all 30, which D's minibatch std (groups
    of 4) refused at the first log step, so StyleGAN2 could not train on such a store at any batch size."""
    images = np.random.default_rng(5).integers(0, 256, (30, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "thirty.npz", x=images)
    out = tmp_path / "run"
    assert main(["train", "stylegan2-mnist", "--steps", "2", "--out", str(out), *TINY,
                 "--set", f"data.name=npz:{tmp_path / 'thirty.npz'}", "--set", "log.every=1"]) == 0
    assert all("diversity_dfeat" in r for r in run_stats.records(out / "stats.jsonl"))


def test_truncation_psi_0_gives_the_mean_w_image_for_every_z(run_dir):
    run = load_run(run_dir)
    G = run.generator
    assert G.w_avg.abs().sum() > 0  # tracked during training and carried into the moving average
    x = run.sample(6, seed=1, truncation=0.0)
    mean_image = sampling.to_output(G.synthesis(G.w_avg.expand(1, G.num_ws, -1)), G.output_range)
    assert all(np.array_equal(x[i], mean_image[0]) for i in range(6))
    assert not np.array_equal(*run.sample(2, seed=1, truncation=1.0))
    assert np.array_equal(run.sample(3, seed=1, truncation=1.0), run.sample(3, seed=1))  # psi 1 = off


def test_style_mixing_takes_the_fine_styles_from_the_second_seed(run_dir):
    run = load_run(run_dir)
    G, k = run.generator, 2
    mixed = run.sample_with_labels(4, 1, mix_seed=2, mix_layer=k)[0]
    with torch.no_grad():
        wa = next(run.model.styles(4, 1, "cpu", None))
        wb = next(run.model.styles(4, 2, "cpu", None))
        expected = sampling.to_output(G.synthesis(torch.cat([wa[:, :k], wb[:, k:]], 1)), G.output_range)
    assert np.array_equal(mixed, expected)
    itself = run.sample_with_labels(4, 1, mix_seed=1)[0]
    assert np.array_equal(itself, run.sample(4, seed=1))  # mixing a seed with itself changes nothing


def test_sample_cli_takes_truncation_and_mixing(run_dir, tmp_path, capsys):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    assert main(["sample", str(run_dir), "--n", "5", "--out", str(a), "--truncation", "0"]) == 0
    x = np.load(a)
    assert x.shape == (5, 1, 8, 8) and all(np.array_equal(x[0], x[i]) for i in range(5))
    assert main(["sample", str(run_dir), "--n", "5", "--out", str(b), "--mix-seed", "7", "--mix-layer", "1"]) == 0
    assert np.array_equal(np.load(b), load_run(run_dir).sample_with_labels(5, 0, mix_seed=7, mix_layer=1)[0])
    capsys.readouterr()
    assert main(["sample", str(run_dir), "--n", "5", "--out", str(tmp_path / "c.npy"), "--mix-seed", "7",
                 "--mix-layer", "99"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mix layer must be in 1..3" in err
    assert not (tmp_path / "c.npy").exists()


def test_mixing_on_a_model_without_styles_is_one_line(tmp_path, capsys):
    run = tmp_path / "dcgan"
    assert main(["train", "gan2014-digits", "--steps", "2", "--out", str(run), "--set", "log.tensorboard=false",
                 "--set", "log.progress=false"]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "--n", "5", "--out", str(tmp_path / "x.npy"), "--mix-seed", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "has no --mix-seed option" in err
    assert main(["sample", str(run), "--n", "5", "--out", str(tmp_path / "x.npy"), "--truncation", "0.5",
                 "--truncation-centres", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "has no --truncation-centres option" in err


def test_samples_of_the_run_seed_are_not_the_initial_weights(run_dir):
    """A run of seed S builds its nets after torch.manual_seed(S); sampling seed S from that same state drew
    z_i = row i of the first mapping layer (every pre-activation |W_i|^2), so the run's own seed gave w far
    from the others' and malformed digits (docs/stylegan.md). Its w must look like any other seed's."""
    run = load_run(run_dir)
    assert run.config.seed == 0
    with torch.no_grad():
        norms = {s: float(next(run.model.styles(16, s, "cpu", None))[:, 0].norm(dim=1).median()) for s in range(6)}
    others = np.median([norms[s] for s in range(1, 6)])
    assert 0.7 < norms[0] / others < 1.4, norms


def test_truncation_centres_pull_each_w_to_its_own_clusters_centre(run_dir):
    """psi 0 with K centres: every w lands on one of the K W centres (the mean w would give one image);
    psi 0.5 halves each w's distance to its centre; psi 1 leaves the samples as they were."""
    run = load_run(run_dir)
    model = run.model
    centres = model.truncation_centres(3, "cpu").w
    ws = model.latents(30, 1, truncation=0.0, truncation_centres=3)["ws"]
    hit = (ws[:, 0].unsqueeze(1) - centres.unsqueeze(0)).norm(dim=2).min(1).values
    assert float(hit.max()) < 1e-5 and torch.equal(ws[:, 0], ws[:, -1])
    assert len(torch.unique(ws[:, 0], dim=0)) > 1
    w1 = model.latents(30, 1)["ws"]
    half = model.latents(30, 1, truncation=0.5, truncation_centres=3)["ws"]
    assert torch.allclose(half - ws, 0.5 * (w1 - ws), atol=1e-5)
    x = run.sample_with_labels(30, 1, truncation=0.5, truncation_centres=3)[0]
    assert np.array_equal(x, model.render({"ws": half}))
    assert np.array_equal(run.sample_with_labels(4, 1, truncation=1.0, truncation_centres=3)[0], run.sample(4, seed=1))


def test_sample_cli_takes_truncation_centres_and_refuses_them_alone(run_dir, tmp_path, capsys):
    out = tmp_path / "c.npy"
    assert main(["sample", str(run_dir), "--n", "6", "--out", str(out), "--truncation", "0.5",
                 "--truncation-centres", "3"]) == 0
    expected = load_run(run_dir).sample_with_labels(6, 0, truncation=0.5, truncation_centres=3)[0]
    assert np.array_equal(np.load(out), expected)
    capsys.readouterr()
    for extra, message in ((["--truncation-centres", "3"], "--truncation-centres needs --truncation PSI"),
                           (["--truncation", "0.5", "--truncation-centres", "1"], "between 2 and 1000")):
        assert main(["sample", str(run_dir), "--n", "6", "--out", str(tmp_path / "d.npy"), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "d.npy").exists()
