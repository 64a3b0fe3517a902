"""``--force`` where it would do nothing is refused, not silently accepted (probe, item 4)."""

from one_line import fails


def test_figures_force_without_out_is_refused(capsys, tmp_path):
    # nothing is opened first: the flags alone decide
    fails(capsys, ["figures", tmp_path / "run", "--force"], "--force needs --out", "figures is always redrawn")


def test_eval_force_without_json_is_refused(capsys, tmp_path):
    fails(capsys, ["eval", tmp_path / "run", "--force"], "--force needs --json")
    fails(capsys, ["eval", "--samples", tmp_path / "x.npy", "--dataset", "digits", "--force"], "--force needs --json")


def test_figures_bare_checkpoint_name_says_it_does_not_exist(capsys, tmp_path, monkeypatch):
    from ganforge.cli import main
    monkeypatch.chdir(tmp_path)
    assert main(["train", "gan2014-ring8", "--steps", "10", "--out", "r", "--set", "log.tensorboard=false"]) == 0
    capsys.readouterr()
    # "is not a checkpoint directory (no manifest.json)" read as if a folder of that name were there
    fails(capsys, ["figures", "r", "--checkpoint", "step-0000010"], "--checkpoint step-0000010 does not exist here",
          "pass --checkpoint r/checkpoints/step-0000010")
    assert not (tmp_path / "r" / "figures").exists()
