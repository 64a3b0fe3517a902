"""benchmarks/startup.py end to end: one timed ``ganforge --help`` of this checkout, printed as the line
docs/benchmarks.md quotes (each run, then the median). A script that timed a failing child, or an installed
ganforge instead of this checkout's src/, would print a figure that measures the wrong thing."""

import re


def test_startup_times_this_checkouts_help_and_prints_the_median(benchmark_script, capsys):
    startup = benchmark_script("startup")
    assert startup.main(["--runs", "1"]) == 0
    printed = capsys.readouterr().out.strip()
    match = re.fullmatch(r"this \((.+)\): (\d+\.\d\d) s; median (\d+\.\d\d) s", printed)
    assert match, printed
    assert match[1] == str(startup.SRC)
    assert match[2] == match[3]  # one run: it is its own median
    assert 0.05 < float(match[2]) < 120  # a real interpreter start with torch behind it, not a crash in 0 s
