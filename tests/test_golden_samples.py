"""Same preset, seed and steps give bitwise the same output as recorded (benchmarks/golden_samples.py:
eight noise-to-image cases covering every loss term, phase and technique, and one case for every other
recipe, hashed through its own output command: sample, translate, upscale or anomaly score).
PyTorch promises no bitwise equality across torch versions, CPUs or thread counts, so the check runs
only on a machine like one the hashes were recorded on (the file keeps a record per machine), and says
so otherwise. After a change meant to change samples: ``nice -n 10 python benchmarks/golden_samples.py
--record``."""

import pytest
import torch

from ganforge import config, presets, recipes


@pytest.fixture
def golden(benchmark_script):
    """benchmarks/golden_samples.py as a module."""
    return benchmark_script("golden_samples")


def test_every_case_is_recorded_on_some_machine(golden):
    """A case no machine has a hash for is checked nowhere."""
    anywhere = {name for record in golden.load_records() for name in record["sha256"]}
    missing = sorted(set(golden.CASES) - anywhere)
    assert not missing, f"no hash recorded for {missing}: python benchmarks/golden_samples.py --record --only NAME"


@pytest.mark.slow
def test_every_golden_case_samples_the_recorded_bits(golden):
    records, here = golden.load_records(), golden.machine()
    mine = golden.record_for(records, here)
    if mine is None:
        pytest.skip(f"no hashes recorded on a machine like this one ({here}); recorded on "
                    f"{[r['machine'] for r in records]}")
    names = [name for name in golden.CASES if name in mine["sha256"]]  # the others are checked where recorded
    threads = torch.get_num_threads()
    try:
        hashes = golden.compute(names)
    finally:
        torch.set_num_threads(threads)
    different = [name for name, digest in hashes.items() if mine["sha256"][name] != digest]
    assert not different, f"samples changed for {different}"


def test_recording_a_changed_case_drops_it_from_the_other_machines(golden):
    """Their hash of a case that changed here is stale; one recorded here for the first time is kept there."""
    intel = {"machine": {"cpu": "Intel"}, "sha256": {"a": "1", "b": "2", "c": "3"}}
    amd = {"machine": {"cpu": "AMD", "isa": "AVX512"}, "sha256": {"a": "1", "b": "2"}}
    records, notes = golden.recorded([intel, amd], {"a": "1", "b": "9", "c": "7"}, {"cpu": "AMD", "isa": "AVX512"})
    assert records[0]["sha256"] == {"a": "1", "c": "3"} and records[1]["sha256"] == {"a": "1", "b": "9", "c": "7"}
    assert notes == ["dropped b from the record of Intel (changed here; record them there)"]
    assert golden.is_like({"cpu": "Intel"}, {"cpu": "Intel", "isa": "AVX2"})  # a record from before the isa key
    assert not golden.is_like(amd["machine"], {"cpu": "AMD", "isa": "AVX2"})


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
