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


def test_only_sgd_gets_the_momentum_schedule():
    """torch's RMSprop has a momentum setting too: WGAN's critic ran at momentum 0.5 rising to 0.7 (and kept a
    momentum buffer) while the WGAN paper and make_optimizer's comment call it momentum-free."""
    for name, expected in (("rmsprop", 0.0), ("sgd", 0.7)):
        w = torch.nn.Parameter(torch.zeros(2))
        cfg = OptimConfig(name=name, lr=1e-3, momentum=0.5, momentum_final=0.7, momentum_ramp_epochs=2)
        opt = (torch.optim.RMSprop([w], lr=1e-3) if name == "rmsprop" else torch.optim.SGD([w], lr=1e-3, momentum=0.5))
        schedule = OptimSchedule(opt, cfg)
        schedule.after_update(epoch=5)
        assert opt.param_groups[0]["momentum"] == expected, name
