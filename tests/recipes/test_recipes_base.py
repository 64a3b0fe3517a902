"""What every recipe shares: rebuilding a checkpoint's networks, and saying how a checkpoint does not fit."""
import shutil

import pytest
import yaml

from ganforge.errors import CheckpointError
from ganforge.runs.run import load_run


def test_a_checkpoint_that_does_not_fit_its_network_names_the_first_difference(tiny_runs, tmp_path, one_line):
    """Torch's first line ("Error(s) in loading state_dict for MLPGenerator:") named nothing; the key or shape
    that differs does, and the question covers a run made by another ganforge (BigGAN's embedding, round 18)."""
    run = tmp_path / "run"
    shutil.copytree(tiny_runs / "digits", run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    hidden = cfg["model"]["g"]["hidden"]
    cfg["model"]["g"]["hidden"] = [h + 1 for h in hidden]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(CheckpointError) as e:
        load_run(run)
    line = one_line(e)
    assert "does not fit the network G" in line and f"is ({hidden[0]}," in line and f"and ({hidden[0] + 1}," in line
    assert line.count("?") == 1 and line.endswith("records its versions and git commit)?")
