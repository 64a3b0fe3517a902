"""engine/build.py: what can only be checked once the data is loaded is checked before anything is built."""

import pytest

import ganforge
from ganforge.errors import ConfigError


@pytest.mark.parametrize("setting, said", [("augment.policy=color", "augment.policy augments images"),
                                           ("augment.ada_target=0.6", "augment.ada_target augments images")])
def test_augmentation_on_points_is_refused_not_skipped(tmp_path, setting, said, one_line):
    """ring8's points are (N, 2): the augmentation left them alone and the run trained without it, silently."""
    with pytest.raises(ConfigError) as e:
        ganforge.train("gan2014-ring8", out=tmp_path / "r", steps=2, set=[setting])
    assert said in one_line(e) and "'ring8' is" in one_line(e)
    assert not (tmp_path / "r" / "checkpoints").exists()
