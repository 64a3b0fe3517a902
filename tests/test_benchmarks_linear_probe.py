"""benchmarks/linear_probe.py's lower bound is the run's own starting D, weight norm's data-dependent init
included (it rebuilt the D without it, so a semi-supervised run's "D (random init)" row was another net)."""

import json

import torch
from test_recipes_semi_supervised import _cfg  # the recipe tests' tiny run (conftest puts tests/recipes on the path)

import ganforge
from ganforge import recipes


def test_the_random_d_is_the_runs_d_at_step_0(benchmark_script, tmp_path):
    probe = benchmark_script("linear_probe")
    run = ganforge.train(_cfg(steps=0), out=tmp_path / "r")
    start = probe.initial_d(run.config)
    for name, value in run.nets["D"].state_dict().items():
        assert torch.equal(value, start.state_dict()[name]), name
    rebuilt = recipes.get(run.config.recipe).rebuild(run.config, run.state["net_context"])["D"]
    assert any(not torch.equal(a, b) for a, b in zip(rebuilt.state_dict().values(), start.state_dict().values()))


def test_the_probe_runs_on_a_d_without_conv_maps(benchmark_script, tmp_path):
    """The semi-supervised D gives vectors: the probe passed --pool 4 to every D and stopped at the first
    (a D with nothing to pool refuses a pool); digits, with no valid split, holds out a fifth of train."""
    probe = benchmark_script("linear_probe")
    run = ganforge.train(_cfg(steps=2), out=tmp_path / "r")
    probe.main(["--run", str(run.path), "--labels", "2", "--json", str(tmp_path / "p.json")])
    rows = json.loads((tmp_path / "p.json").read_text())["rows"]
    assert [r["representation"] for r in rows] == ["D (trained)", "D (random init)", "pixels"]
    assert all(0 <= r["test_accuracy"] <= 1 for r in rows) and rows[0]["dim"] == 50
    assert torch.is_grad_enabled()  # it switched gradients off for the whole process, and 135 later tests failed
