"""``--seed`` is refused below 0 by every verb that takes one, at parse time (probe C, item 1): numpy's
generators used to raise a traceback after the run was loaded."""

import pytest

from one_line import fails

from ganforge.cli import main


@pytest.mark.parametrize("argv", [
    ["sample", "{run}", "--n", "4", "--out", "{tmp}/s.npy"],
    ["export", "{run}", "--n", "5", "--out", "{tmp}/e.npz"],
    ["figures", "{run}", "--n", "20", "--out", "{tmp}/f"],
    ["eval", "{run}", "--n", "100"],
    ["audit", "{run}", "--n", "50", "--members", "50"],
    ["anomaly", "score", "{run}", "--input", "{tmp}/x.npy", "--out", "{tmp}/a.npy"],
    ["translate", "{run}", "--input", "{tmp}/x.npy", "--out", "{tmp}/t.npy"],
    ["train", "gan2014-digits", "--steps", "1", "--out", "{tmp}/r"],
])
@pytest.mark.parametrize("value", ["-1", "abc"])
def test_negative_seed_is_a_usage_error(capsys, tmp_path, tiny_runs, argv, value):
    argv = [a.format(run=tiny_runs / "digits", tmp=tmp_path) for a in argv]
    err = fails(capsys, [*argv, "--seed", value], f"--seed must be an integer >= 0, got {value}")
    assert "data.seed" not in err  # train names the flag the user typed, not the config key
    assert list(tmp_path.iterdir()) == []


def test_seed_zero_and_default_still_work(capsys, tmp_path, tiny_runs):
    assert main(["sample", str(tiny_runs / "digits"), "--n", "4", "--out", str(tmp_path / "a.npy"), "--seed", "0"]) == 0
    assert main(["sample", str(tiny_runs / "digits"), "--n", "4", "--out", str(tmp_path / "b.npy")]) == 0
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()


@pytest.mark.parametrize("value", ["-1", "abc"])
def test_negative_mix_seed_is_a_usage_error(capsys, tmp_path, tiny_runs, value):
    """``--mix-seed`` is a seed too: refused at parse time, before the run is opened."""
    argv = ["sample", str(tiny_runs / "digits"), "--n", "4", "--out", str(tmp_path / "s.npy"), "--mix-seed", value]
    fails(capsys, argv, f"--mix-seed must be an integer >= 0, got {value}")
    assert list(tmp_path.iterdir()) == []
