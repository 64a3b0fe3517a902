"""benchmarks/serve.py end to end on the shared tiny digits run: two real ``ganforge serve`` processes (one at
a time, batched), 1 and 2 closed-loop clients for half a second each, then the 64-image grid. The JSON and the
three printed tables of docs/serve.md carry a row per (serving, clients) with requests answered, finite
latencies (p50 <= p99) and images/s, the batched/one-at-a-time ratio, and the grid's timings."""

import json
import math

SERVINGS = ["one at a time (--max-batch 1)", "batched (default --max-batch 64)"]


def test_serve_measures_both_servings_for_each_client_count_and_the_grid(benchmark_script, tiny_runs, tmp_path,
                                                                         capsys):
    serve = benchmark_script("serve")
    out = tmp_path / "serve.json"
    run = tiny_runs / "digits"
    serve.main(["--run", f"digits={run}", "--clients", "1", "2", "--seconds", "0.5", "--warmup", "0",
                "--threads", "1", "--json", str(out)])
    printed = capsys.readouterr().out
    figures = json.loads(out.read_text())
    rows = figures["rows"]
    assert [(r["run"], r["serving"], r["clients"]) for r in rows] == [
        ("digits", s, c) for s in SERVINGS for c in (1, 2)]
    for r in rows:
        assert r["requests"] > 0 and math.isclose(r["images_per_s"], r["requests"] / 0.5)  # one image a request
        assert 0 < r["p50_ms"] <= r["p99_ms"] < 5000 and math.isfinite(r["load"])
    [grid] = figures["grids"]
    assert grid["run"] == "digits" and grid["n"] == 64 and 0 < grid["median_ms"] <= grid["max_ms"] < 60_000
    assert f"runs: digits={run}\n" in printed and "2-step runs" not in printed  # a given run, not trained here
    assert "| digits | one at a time (--max-batch 1) | 2 |" in printed
    ratio = rows[3]["images_per_s"] / rows[1]["images_per_s"]
    assert f"| digits | 2 | {ratio:.2f}x |" in printed
    assert f"| digits | {grid['median_ms']:.1f} | {grid['max_ms']:.1f} |" in printed
