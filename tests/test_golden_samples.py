"""Same preset, seed and steps give bitwise the same output as recorded (benchmarks/golden_samples.py:
eight noise-to-image cases covering every loss term, phase and technique, and one case for every other
recipe, hashed through its own output command: sample, translate, upscale or anomaly score).
PyTorch promises no bitwise equality across torch versions, CPUs or thread counts, so the check runs
only on a machine like the one the hashes were recorded on, and says so otherwise. After a change
meant to change samples: ``nice -n 10 python benchmarks/golden_samples.py --record``."""

import json

import pytest
import torch

from ganforge import config, presets, recipes


@pytest.fixture
def golden(benchmark_script):
    """benchmarks/golden_samples.py as a module."""
    return benchmark_script("golden_samples")


@pytest.mark.slow
def test_every_golden_case_samples_the_recorded_bits(golden):
    recorded = json.loads(golden.GOLDEN.read_text())
    if recorded["machine"] != golden.machine():
        pytest.skip(f"hashes recorded on {recorded['machine']}, this machine is {golden.machine()}")
    threads = torch.get_num_threads()
    try:
        hashes = golden.compute(list(golden.CASES))
    finally:
        torch.set_num_threads(threads)
    missing = sorted(set(golden.CASES) - set(recorded["sha256"]))
    different = [name for name, digest in hashes.items() if recorded["sha256"].get(name, digest) != digest]
    assert not different, f"samples changed for {different}"
    assert not missing, f"no hash recorded for {missing}: python benchmarks/golden_samples.py --record --only NAME"


def test_every_recipe_has_a_golden_case(golden):
    """A new recipe without a golden case fails here."""

    covered = {config.resolve(presets.load_preset(preset)[0]).recipe for preset, _, _ in golden.CASES.values()}
    # ganforge's own recipes; tests register toy ones of their own (tests/recipes/cycle_recipe.py)
    ours = {name for name, recipe in recipes.RECIPES.items() if type(recipe).__module__.startswith("ganforge.")}
    assert ours and ours <= covered, ours - covered


def test_a_changed_run_is_caught(golden, tmp_path, monkeypatch):
    """The comparison can fail: one step more is a different hash."""
    threads = torch.get_num_threads()
    try:
        monkeypatch.setitem(golden.CASES, "dcgan-digits", ("dcgan-digits", 3, []))
        three = golden.compute(["dcgan-digits"])
        monkeypatch.setitem(golden.CASES, "dcgan-digits", ("dcgan-digits", 4, []))
        four = golden.compute(["dcgan-digits"])
    finally:
        torch.set_num_threads(threads)
    assert three != four
