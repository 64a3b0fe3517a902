"""``ganforge train --dry-run``: what it prints, and the config errors it refuses before any run starts."""

import pytest
from one_line import fails

from ganforge.cli import main


def test_dry_run_says_tabular_epochs_replace_train_steps(capsys):
    """ctgan counts training in tabular.epochs: the dry run printed train.steps 10000 as if the run used it."""
    assert main(["train", "ctgan", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert ("# train.steps below is not used: tabular.epochs=300 makes it epochs x (rows // train.batch_size), "
            "counted once the table is read; set tabular.epochs=null to train for train.steps") in out
    assert main(["train", "ctgan", "--dry-run", "--set", "tabular.epochs=null"]) == 0
    assert "train.steps below is not used" not in capsys.readouterr().out
    assert main(["train", "gan2014-digits", "--dry-run"]) == 0
    assert "tabular.epochs" not in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["gan2014-digits", "--set", "train.device=banana"], "train.device 'banana' is not a device"),
    (["ctgan", "--set", "tabular.epochs=-1"], "tabular.epochs must be >= 1"),
    (["ctgan", "--set", "tabular.score_rows=-1"], "tabular.score_rows must be >= 0"),
    (["ctgan", "--set", "tabular.cond=-1"], "tabular.cond must be >= 0"),
    (["gan2014-digits", "--seed", str(10**23)], "seed must be at most 2**63-1"),
])
def test_dry_run_refuses_what_the_run_would(capsys, argv, message):
    """Each failed only once training had started (torch.device, recipes/tabular.py, torch.manual_seed)."""
    fails(capsys, ["train", *argv, "--dry-run"], message)


def test_dry_run_of_auto_lists_only_keys_the_recipe_reads(capsys):
    """ganomaly keeps no moving average: auto's EMA pick was refused as a key the user should remove."""
    assert main(["train", "ganomaly-mnist", "--dry-run", "--set", "auto=true", "--set", "data.resolution=32"]) == 0
    out = capsys.readouterr().out
    assert "# auto configuration for dcgan at 32 px" in out and "ema." not in out
