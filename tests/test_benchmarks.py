"""benchmarks/throughput.py runs end to end and writes its table (the figures themselves are measured, not tested)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_throughput_prints_and_appends_both_loops_with_the_command(tmp_path, capsys, benchmark_script):
    out = tmp_path / "bench.md"
    argv = ["gan2014-digits", "--batch", "16", "--steps", "2", "--windows", "2", "--warmup", "1",
            "--set", "speed.optimizer=foreach", "--append", str(out)]
    assert benchmark_script("throughput").main(argv) == 0
    printed = capsys.readouterr().out
    text = out.read_text()
    assert printed.strip() in text
    assert "python benchmarks/throughput.py gan2014-digits --batch 16" in text
    assert "foreach optimiser" in text  # the switches in force are part of the record
    assert re.search(r", 20\d\d-\d\d-\d\d \d\d:\d\d UTC, commit (?:[0-9a-f]{12}|no git)", text), text  # when, and of which code
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert {"ganforge", "plain reference", "ratio"} <= rows.keys()
    gflop = float(rows["ganforge"].split("|")[4])
    assert gflop > 0


def test_throughput_profiles_the_step_and_writes_json_through_the_graph_path(tmp_path, capsys, benchmark_script):
    """--profile splits a step's wall time from its busy time (CPU operators here, GPU kernels on
    CUDA) with the top entries; --json keeps the figures; the graph path's phases are reported."""
    import json
    import warnings

    out = tmp_path / "bench.json"
    argv = ["gan2014-digits", "--batch", "16", "--steps", "4", "--windows", "1", "--warmup", "1",
            "--set", "speed.graphs=true", "--profile", "3", "--json", str(out)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the graph path on the CPU says once that it runs eagerly
        assert benchmark_script("throughput").main(argv) == 0
    printed = capsys.readouterr().out
    assert "profile of ganforge's step" in printed and "| top cpu operators |" in printed
    figures = json.loads(out.read_text())
    prof = figures["profile"]
    assert 0 < prof["busy_ms"] <= prof["wall_ms"] * 1.05 and prof["events_per_step"] > 10
    assert prof["top"] and all(t["name"].startswith("aten::") for t in prof["top"])
    assert any(t["name"] in ("aten::addmm", "aten::mm", "aten::linear") for t in prof["top"])  # an MLP GAN
    assert figures["ratio"] == figures["img_per_s"] / figures["plain_img_per_s"]
    assert figures["date"].endswith("UTC") and figures["commit"]
    assert [g.split(":")[0] for g in figures["graphed"]] == ["D", "G"]
    assert all("replays" in g and "eager" in g for g in figures["graphed"])


def test_the_gpu_graphs_check_runs_every_part_at_toy_size_on_the_cpu(tmp_path, benchmark_script):
    """benchmarks/gpu_graphs_check.py --cpu-smoke: the same code the GPU run takes, each part done,
    at most 8 files in OUT (what the device tool returns)."""
    import json

    check = benchmark_script("gpu_graphs_check")
    out = tmp_path / "out"
    parts = "dcgan128,mlp100,dcgan512,train,fid"  # dcgan128_compile: part 1 again with a compile (minutes here)
    assert check.main([str(out), "--cpu-smoke", "--only", parts, "--budget", "3600"]) == 0  # a loaded CI box is slow
    results = json.loads((out / "results.json").read_text())
    assert list(results) == parts.split(",")
    assert all(r["status"] == "done" for r in results.values()), results
    assert results["dcgan128"]["ratio"] > 0 and results["train"]["stats_img_per_s"] > 0
    fid = results["fid"]
    assert fid["metric"].startswith("fid") and len(fid["fid"]["fast"]) == len(fid["fid"]["plain"]) == 3
    assert fid["fid"]["fast"] == fid["fid"]["plain"]  # on the CPU auto is the plain path: the same runs
    assert "| train |" in (out / "summary.md").read_text()
    assert len(list(out.iterdir())) <= 8


def test_the_gpu_session_stops_a_job_with_sigterm_at_its_deadline_and_skips_what_has_no_time(tmp_path, monkeypatch,
                                                                                             benchmark_script):
    """benchmarks/gpu_session.py: training jobs are stopped by SIGTERM at their deadline (so ganforge
    writes a checkpoint), and a job whose deadline has passed is recorded as skipped, not run."""
    import json
    import signal
    import sys

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # its sibling gpu_jobs.py, as when run as a script
    gs = benchmark_script("gpu_session")
    s = gs.Session(tmp_path / "work", tmp_path / "results", gs.Clock(1.0), smoke=True)
    waits = ("import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(143)); "
             "print('started', flush=True); time.sleep(60)")
    rc = s.run("train", [sys.executable, "-c", waits], until=5.0, term=True)
    # Stopped at its deadline by SIGTERM (its handler's exit, or before it was installed), not SIGKILL, and not
    # left to finish its 60 s sleep (that would exit 0).
    assert rc in (143, -signal.SIGTERM)
    assert s.run("eval", [sys.executable, "-c", "print('never')"], until=0.5) == -1  # the deadline has passed
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert "no time left" in summary["eval"]["skipped"]
    assert f"rc={rc}" in (tmp_path / "results" / "logs" / "train.log").read_text()
    assert not (tmp_path / "results" / "logs" / "eval.log").exists()


def test_d_plateau_trains_d_alone_against_the_initial_samples_and_logs_the_gap(tmp_path, capsys, benchmark_script):
    """benchmarks/d_plateau.py: D, trained alone against a fixed pool of the initial G's samples,
    separates them from real images (its logged gap grows, its loss falls below ln 4); a class-conditional
    preset, whose pool would need labels, is refused with exit code 2 and no output file."""
    import json
    import math

    module = benchmark_script("d_plateau")
    out = tmp_path / "plateau.jsonl"
    argv = ["gan2014-digits", "--steps", "60", "--every", "20", "--pool", "4", "--out", str(out)]
    assert module.main(argv) == 0
    assert "60 D steps" in capsys.readouterr().out
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 20, 40, 60]
    assert lines[-1]["gap"] > lines[0]["gap"] + 0.5
    assert lines[-1]["loss"] < math.log(4) - 0.1
    assert len(lines[0]["wnorm"]) >= 3  # every weight matrix of the maxout D and its output
    conditional = ["cgan-mnist", "--set", "data.name=digits", "--set", "model.g.base_channels=8", "--set",
                   "model.d.base_channels=8", "--steps", "1", "--out", str(tmp_path / "no.jsonl")]
    assert module.main(conditional) == 2
    assert "class-conditional" in capsys.readouterr().err and not (tmp_path / "no.jsonl").exists()
