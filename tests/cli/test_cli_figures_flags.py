"""``--force`` where it would do nothing is refused, not silently accepted (probe, item 4)."""

from one_line import fails


def test_figures_force_without_out_is_refused(capsys, tmp_path):
    # nothing is opened first: the flags alone decide
    fails(capsys, ["figures", tmp_path / "run", "--force"], "--force needs --out", "figures is always redrawn")


def test_eval_force_without_json_is_refused(capsys, tmp_path):
    fails(capsys, ["eval", tmp_path / "run", "--force"], "--force needs --json")
    fails(capsys, ["eval", "--samples", tmp_path / "x.npy", "--dataset", "digits", "--force"], "--force needs --json")
