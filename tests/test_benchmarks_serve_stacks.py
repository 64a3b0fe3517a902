"""benchmarks/serve_stacks.py end to end on the shared tiny digits run: a server forced onto each HTTP stack
(h11 on asyncio, httptools on uvloop) at --max-batch 1 and 64, each answering one client for a short window
(``--warmup 0``). docs/serve.md compares these rows, so each must exist, name its stack and its settings, and
hold answered requests with finite latencies."""

import json
import math

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_serve_stacks_measures_each_stack_and_batch_setting(benchmark_script, tiny_runs, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # its sibling serve.py, as when run as a script
    stacks = benchmark_script("serve_stacks")
    stacks.main([str(tiny_runs / "digits"), "--threads", "1", "--clients", "1", "--seconds", "0.4",
                 "--warmup", "0"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(r["http"], r["loop"], r["max_batch"]) for r in rows] == [
        ("h11", "asyncio", 1), ("h11", "asyncio", 64), ("httptools", "uvloop", 1), ("httptools", "uvloop", 64)]
    for r in rows:
        assert r["threads"] == 1 and r["clients"] == 1 and r["requests"] > 0
        assert math.isclose(r["images_per_s"], r["requests"] / 0.4)
        assert 0 < r["p50_ms"] <= r["p99_ms"] < 5000 and math.isfinite(r["load"])
