"""benchmarks/upscale_speed.py end to end at a 16x16 input (``--size``; docs/benchmarks.md's table is at 512):
each tile setting measured in its own process, one table row each with the x4 output size, positive seconds
and MP/s and the peak memory. A child that failed would otherwise show up only as a missing row."""

import math
import re


def test_upscale_speed_prints_a_row_per_tile_with_the_x4_output(benchmark_script, capsys):
    speed = benchmark_script("upscale_speed")
    argv = ["--presets", "srresnet-x4", "--tiles", "0", "8", "--repeats", "1", "--size", "16"]
    assert speed.main(argv) == 0
    printed = capsys.readouterr().out
    assert "1 thread(s), cpu; input 16x16 RGB, x4" in printed
    rows = re.findall(r"^\| srresnet-x4 \| (\S+) \| (\d+)x(\d+) \| ([\d.]+) \| ([\d.]+) \| (-?\d+) MB \|$",
                      printed, re.M)
    assert [r[0] for r in rows] == ["untiled", "8"], printed
    for _, h, w, seconds, mpix, peak in rows:
        assert (int(h), int(w)) == (64, 64)
        assert 0 <= float(seconds) < 60 and math.isfinite(float(mpix)) and float(mpix) > 0
        assert int(peak) >= 0
