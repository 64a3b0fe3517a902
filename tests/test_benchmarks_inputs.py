"""The benchmark scripts refuse bad input in one line and exit code 2, before any training: never a
traceback, never exit 0 with a row that measures nothing (benchmarks/bench_cli.py and each script's checks)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SRC = Path(__file__).resolve().parents[1] / "src"

BAD = {
    "throughput unknown preset": ("throughput", ["nope"], "unknown preset 'nope'"),
    "throughput bad --set": ("throughput", ["gan2014-mnist", "--set", "bogus=1"], "unknown config key 'bogus'"),
    "throughput negative batch": ("throughput", ["gan2014-mnist", "--batch", "-3"], "--batch must be at least 1"),
    "throughput zero steps": ("throughput", ["gan2014-mnist", "--steps", "0"], "--steps must be at least 1"),
    "throughput zero windows": ("throughput", ["gan2014-mnist", "--windows", "0"], "--windows must be at least 1"),
    "throughput json in a missing folder": ("throughput", ["gan2014-mnist", "--json", "/nonexistent/x.json"],
                                            "does not exist"),
    "startup other without ganforge": ("startup", ["--runs", "1", "--other", "/nonexistent/src"], "src/"),
    "upscale negative tile": ("upscale_speed", ["--presets", "srresnet-x4", "--tiles", "-1", "--repeats", "1"],
                              "--tiles"),
    "upscale unknown preset": ("upscale_speed", ["--presets", "nope"], "unknown preset 'nope'"),
    "data unknown part": ("data", ["--work", "{tmp}/x", "--parts", "bogus"], "unknown part(s) 'bogus'"),
    "learns missing run": ("learns", ["--out", "{tmp}/l", "--run", "/nonexistent"], "/nonexistent does not exist"),
    "learns unknown preset": ("learns", ["--out", "{tmp}/l", "nope"], "unknown preset 'nope'"),
    "d_plateau unknown preset": ("d_plateau", ["nope", "--out", "{tmp}/d"], "unknown preset 'nope'"),
    "ema_from_snapshots missing run": ("ema_from_snapshots", ["/nonexistent"], "/nonexistent does not exist"),
    "tabular_scale zero rows": ("tabular_scale", ["--rows", "0"], "--rows must all be at least 1"),
    "tabular_sample_scale zero steps": ("tabular_sample_scale", ["--rows", "10", "--steps", "0"],
                                        "--steps must be at least 1"),
    "tabular unknown dataset": ("tabular", ["--datasets", "nope"], "--datasets: unknown 'nope'"),
    "tabular bad seeds": ("tabular", ["--seeds", "x"], "--seeds must be whole numbers"),
    "tabular_gmm zero rows": ("tabular_gmm", ["--rows", "0"], "--rows must be at least"),
    "serve run without a name": ("serve", ["--run", "bad"], "give NAME=DIR"),
    "anomaly_protocol digit 11": ("anomaly_protocol", ["--out", "{tmp}/a", "--digits", "11"], "digits 0-9"),
}


@pytest.mark.parametrize("script, args, says", BAD.values(), ids=list(BAD))
def test_bad_input_is_one_line_and_exit_code_2(script, args, says, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = subprocess.run([sys.executable, str(BENCHMARKS / f"{script}.py"), *argv], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith(f"{script}.py: error: ") and says in errors[0], done.stderr
    assert not (tmp_path / "x").exists()  # data.py measured nothing, made nothing


def test_learns_refuses_a_seed_that_is_not_the_runs(tmp_path):
    """--run measures with the run's own seed; an explicit --seed that differs would label and sample the row
    with a seed the run was never trained with."""
    from ganforge import api

    api.train("gan2014-digits", out=tmp_path / "run", steps=1,
              set=["seed=3", "log.progress=false", "log.tensorboard=false"])
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(BENCHMARKS / "learns.py"), "--out", str(tmp_path / "out"),
                           "--run", str(tmp_path / "run"), "--seed", "0"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "trained with seed 3" in done.stderr and "leave --seed out" in done.stderr


def test_learns_shows_no_wall_time_for_a_run_trained_elsewhere(benchmark_script):
    learns = benchmark_script("learns")
    row = {"name": "r", "seed": 3, "step": 1, "wall_s": None, "fid_name": "f", "f": 1.0, "classes_at_5pct": 10,
           "max_share": 0.1, "confident": 0.9, "collapse": False}
    table = learns.markdown([row, {**row, "wall_s": 90.0}])
    assert "| r | 3 | 1 | n/a |" in table and "| 1.5 min |" in table and "nan" not in table


def test_anomaly_protocol_never_reuses_another_budgets_results(benchmark_script, tmp_path, capsys):
    """--budget long into an --out holding cpu-small results reused the cpu-small models and printed them under
    the same heading; each run and report now records its budget, a mismatch is refused, and every heading
    names the budget."""
    bench = benchmark_script("anomaly_protocol")
    name = "ganomaly-mnist-one-normal-d0-s0"
    (tmp_path / "runs" / name).mkdir(parents=True)
    (tmp_path / "runs" / name / "DONE").write_text("trained at budget cpu-small\n")
    (tmp_path / "reports").mkdir()
    report = {"method": "ganomaly", "protocol": "mnist-one-normal", "digit": 0, "train_seed": 0, "n_test": 100,
              "test_subset": False, "auroc": 0.9, "pr_auc": 0.95, "f1": 0.5, "budget": "cpu-small"}
    (tmp_path / "reports" / f"{name}.json").write_text(__import__("json").dumps(report))
    assert bench.one(tmp_path, "cpu-small", "ganomaly", "mnist-one-normal", 0, 0, None)["auroc"] == 0.9
    with pytest.raises(SystemExit) as e:
        bench.one(tmp_path, "long", "ganomaly", "mnist-one-normal", 0, 0, None)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "made at --budget cpu-small, not --budget long" in err and "own --out" in err
    (tmp_path / "reports" / f"{name}.json").unlink()  # the run alone, or one from before budgets were recorded
    with pytest.raises(SystemExit):
        bench.one(tmp_path, "long", "ganomaly", "mnist-one-normal", 0, 0, None)
    (tmp_path / "runs" / name / "DONE").write_text("trained\n")
    with pytest.raises(SystemExit):
        bench.one(tmp_path, "cpu-small", "ganomaly", "mnist-one-normal", 0, 0, None)
    assert "before budgets were recorded" in capsys.readouterr().err
    (tmp_path / "reports" / f"{name}.json").write_text(__import__("json").dumps(report))
    (tmp_path / "reports" / "other.json").write_text(__import__("json").dumps({**report, "budget": "long"}))
    table = bench.summary(tmp_path)
    assert "ganomaly on mnist-one-normal (the whole test split; budget cpu-small)" in table
    assert "ganomaly on mnist-one-normal (the whole test split; budget long)" in table  # never merged
