"""benchmarks/explore_shots.py end to end on the shared tiny StyleGAN2 run with 4 truncation centres: the
explorer served, driven by Playwright on Debian's chromium, writes the two grid screenshots docs/explore.md
shows (psi 0.5 towards the mean w, then towards the centres), readable PNGs of one size that differ.
Skipped, with the reason, where Playwright or /usr/bin/chromium is missing (as tests/explore/test_explore_browser.py)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
CHROMIUM = Path("/usr/bin/chromium")  # the path the script launches
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"explore_shots.py launches {CHROMIUM}, which is "
                                "missing: apt-get install chromium (playwright install is never run)")


def test_explore_shots_writes_the_mean_and_the_centres_grids(benchmark_script, tiny_runs, tmp_path, capsys):
    shots = benchmark_script("explore_shots")
    assert shots.main([str(tiny_runs / "style"), "--out", str(tmp_path / "shots"), "--centres", "4"]) == 0
    assert "fitting 4 truncation centres" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == ["grid-psi05-centres.png",
                                                                       "grid-psi05-mean.png"]
    mean, centres = (np.asarray(Image.open(tmp_path / "shots" / f"grid-psi05-{k}.png").convert("RGB"))
                     for k in ("mean", "centres"))
    assert mean.shape == centres.shape and mean.shape[0] > 100 and mean.shape[1] > 100
    assert mean.std() > 5  # a drawn grid, not a blank panel
    assert not np.array_equal(mean, centres)  # the second shot was taken after the grid redrew
