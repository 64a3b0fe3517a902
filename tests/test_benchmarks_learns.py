"""benchmarks/learns.py: its figures computed by hand on small cases, and an end-to-end run at toy size."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.config import NetSpec
from ganforge.nets import NetContext, build_generator


@pytest.fixture(scope="module")
def learns(benchmark_script):
    return benchmark_script("learns")


def test_coverage_counts_classes_at_5_percent_and_flags_collapse(learns):
    even = np.repeat(np.arange(10), 10)  # ten classes, 10% each
    row = learns.coverage(even, np.full(100, 0.95), 10)
    assert row["classes_at_5pct"] == 10 and row["max_share"] == 0.1 and row["confident"] == 1.0
    assert not row["collapse"]
    skewed = np.array([0] * 40 + list(np.repeat(np.arange(1, 10), 6)) + [1] * 6)  # 0 holds 40%
    row = learns.coverage(skewed, np.linspace(0, 1, 100), 10)
    assert row["classes_at_5pct"] == 10 and row["collapse"]  # all covered, but one class above 30%
    assert row["confident"] == pytest.approx(0.1, abs=0.011)  # probabilities above 0.9
    one = np.zeros(100, dtype=int)
    assert learns.coverage(one, np.ones(100), 10)["classes_at_5pct"] == 1


def _tiny_style_g(layers: int, seed: int):
    torch.manual_seed(seed)
    return build_generator(NetSpec("stylegan2", {"channels": 4, "w_dim": 32, "mapping_layers": layers}),
                           NetContext(data_shape=(1, 8, 8), z_dim=32))


def test_style_spread_reads_an_untrained_mapping_as_its_initial_one_and_a_deep_map_as_narrower(learns):
    """An untrained G is at initial weights, so its figures and the freshly drawn ones agree; 8 random
    layers fill fewer directions, with more alike samples, than 2 (the effect docs/stylegan.md reports)."""
    rows = {}
    for layers in (2, 8):
        G, fresh = (_tiny_style_g(layers, seed) for seed in (3, 0))
        rows[layers] = learns.style_spread(G, fresh, seed=0, n=2048)
        assert rows[layers]["mapping_layers"] == layers
        assert rows[layers]["w_directions"] == pytest.approx(rows[layers]["w_directions_initial"], rel=0.3)
        assert G.w_avg.abs().sum() == 0 and G.training  # the run's own G is left as it was
    assert rows[2]["w_directions"] > 1.5 * rows[8]["w_directions"]
    assert rows[8]["w_cosine"] > rows[2]["w_cosine"] + 0.15


def test_stage_ends_follow_the_growth_schedule(learns):
    # stage 0 after 20k images, each later stage after 20k fade + 20k stable, at batch 32
    assert learns.stage_end_steps(3, 20_000, 20_000, 32, 4000) == [625, 1875, 3125, 4000]
    assert learns.stage_end_steps(3, 20_000, 20_000, 32, 1000) == [625, 1000]


TOY = ["--n", "200", "--set", "data.name=digits", "--set", "model.z_dim=8", "--set", "model.g.channels=8",
       "--set", "model.d.channels=8", "--set", "train.batch_size=16", "--set", "log.progress=false",
       "--set", "log.tensorboard=false", "--set", "log.sample_every=1000"]


@pytest.mark.slow
def test_a_style_based_run_gets_its_mixing_and_truncation_checks(learns, tmp_path):
    out = tmp_path / "out"
    argv = ["stylegan2-mnist", "--out", str(out), *TOY, "--set", "model.g.w_dim=16", "--set", "train.steps=6",
            "--set", "model.d.mbstd_group=4", "--markdown", str(tmp_path / "t.md"), "--grid-dir", str(tmp_path / "g")]
    assert learns.main(argv) == 0
    row = json.loads((out / "results.json").read_text())[0]
    assert row["judge"] == "lenet8" and row["fid_name"] == "fid200_test_lenet8" and row["step"] == 6
    assert sum(row["shares"]) == pytest.approx(1.0, abs=1e-3)
    assert 0 <= row["mixing_keeps_coarse_class"] <= 1 or np.isnan(row["mixing_keeps_coarse_class"])
    assert {"confident_psi05", "confident_psi1", "mixing_pass", "truncation_pass"} <= row.keys()
    assert all(0 <= row[f"{m}_psi{p}"] <= 1 for m in ("precision", "recall") for p in ("1", "05"))
    assert 0 <= row["truncation_keeps_class"] <= 1 and sum(row["shares_psi05"]) == pytest.approx(1.0, abs=1e-3)
    centres = {f"{k}_centres" for k in ("confident_psi05", "truncation_keeps_class", "precision_psi05",
                                        "recall_psi05", "truncation_pass")}
    assert centres <= row.keys() and row["truncation_centres"] == 64
    assert sum(row["shares_psi05_centres"]) == pytest.approx(1.0, abs=1e-3)
    # the two truncations read the same z differently: towards 64 centres is not towards the mean
    assert row["shares_psi05_centres"] != row["shares_psi05"] or row["precision_psi05_centres"] != row["precision_psi05"]
    assert row["mapping_layers"] == 2  # the preset's (w_dim 16 here)
    assert all(1 <= row[k] <= 16 for k in ("w_directions", "w_directions_initial"))
    assert all(-1 <= row[k] <= 1 for k in ("w_cosine", "w_cosine_initial"))
    assert Path(row["grid"]).exists()
    table = (tmp_path / "t.md").read_text()
    assert table.startswith("python benchmarks/learns.py stylegan2-mnist") and "| stylegan2-mnist | 0 | 6 |" in table
    assert "conf psi 0.5 to centres" in table


@pytest.mark.slow
def test_a_progressive_run_leaves_a_grid_at_the_end_of_every_stage(learns, tmp_path):
    out = tmp_path / "out"
    # digits are 8 px: stages 4 and 8 px; 32 + 32 images each at batch 16 -> ends at steps 2 and 6
    argv = ["progan-mnist", "--out", str(out), *TOY, "--set", "growth.fade_images=32",
            "--set", "growth.stable_images=32", "--set", "train.steps=8"]
    assert learns.main(argv) == 0
    row = json.loads((out / "results.json").read_text())[0]
    assert [Path(g).name for g in row["stage_grids"]] == ["step-0000002.png", "step-0000006.png", "step-0000008.png"]
    assert "mixing_keeps_coarse_class" not in row
