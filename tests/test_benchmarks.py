"""benchmarks/throughput.py runs end to end and writes its table (the figures themselves are measured, not tested)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _throughput():
    spec = importlib.util.spec_from_file_location("throughput", ROOT / "benchmarks" / "throughput.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_throughput_prints_and_appends_both_loops_with_the_command(tmp_path, capsys):
    out = tmp_path / "bench.md"
    argv = ["gan2014-digits", "--batch", "16", "--steps", "2", "--windows", "2", "--warmup", "1",
            "--set", "speed.optimizer=foreach", "--append", str(out)]
    assert _throughput().main(argv) == 0
    printed = capsys.readouterr().out
    text = out.read_text()
    assert printed.strip() in text
    assert "python benchmarks/throughput.py gan2014-digits --batch 16" in text
    assert "foreach optimiser" in text  # the switches in force are part of the record
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert {"ganforge", "plain reference", "ratio"} <= rows.keys()
    gflop = float(rows["ganforge"].split("|")[4])
    assert gflop > 0
