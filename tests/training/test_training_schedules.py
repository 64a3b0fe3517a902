"""The pix2pix/CycleGAN reference schedule: constant learning rate, then linear decay to 0."""

import pytest
import torch

from ganforge import config
from ganforge.config import OptimConfig
from ganforge.errors import ConfigError
from ganforge.training.schedules import OptimSchedule


def test_constant_then_linear_to_zero():
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = OptimSchedule(opt, OptimConfig(name="adam", lr=2e-4, lr_decay=1.0, linear_decay_start=100,
                                           linear_decay_steps=50))
    lrs = []
    for _ in range(160):
        lrs.append(opt.param_groups[0]["lr"])
        sched.after_update(epoch=0)
    assert lrs[0] == lrs[100] == pytest.approx(2e-4)
    assert lrs[125] == pytest.approx(1e-4) and lrs[150] == 0.0 and lrs[159] == 0.0


def test_it_excludes_the_exponential_decay(one_line):
    with pytest.raises(ConfigError) as e:
        config.resolve(None, ["optim.g.linear_decay_start=10"])  # the default lr_decay is the 2014 paper's
    assert "optim.g.lr_decay=1.0" in one_line(e)
