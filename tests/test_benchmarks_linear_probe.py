"""benchmarks/linear_probe.py's lower bound is the run's own starting D, weight norm's data-dependent init
included (it rebuilt the D without it, so a semi-supervised run's "D (random init)" row was another net)."""

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
