"""Per-update learning-rate and momentum schedules (the 2014 paper's pylearn2 setup).

The learning rate after ``n`` updates is ``max(lr / lr_decay**n, lr_min)``
(ExponentialDecay), or, with ``linear_decay_start`` set, constant until then and falling
linearly to 0 over ``linear_decay_steps`` (the pix2pix/CycleGAN reference); both are
computed in closed form from the update count, so a resumed run needs only that count. Momentum rises linearly from ``momentum`` at epoch 1
to ``momentum_final`` at ``momentum_ramp_epochs`` (MomentumAdjustor), stepping
at whole epochs as pylearn2 did.
"""

from __future__ import annotations

import math

import torch

from ganforge.config import OptimConfig
from ganforge.training.speed import optimizer_kwargs


class OptimSchedule:
    """Sets one optimiser's learning rate (and, for SGD only, its momentum) after every update of its network.

    Both are closed forms of the update count and the epoch, so a checkpoint keeps only ``updates`` and
    ``scale`` (the factor the divergence guard's rollbacks lower) and a resumed run continues the schedule
    exactly. A learning rate held in a tensor (a CUDA graph's optimiser step reads it in place) is filled
    rather than replaced.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: OptimConfig):
        self.optimizer, self.cfg = optimizer, cfg
        # Only SGD's momentum is the 2014 paper's schedule. torch's RMSprop also has a "momentum" setting
        # (0 by default), which this used to set to 0.5 -> 0.7: WGAN's critic optimiser is momentum-free.
        self.sets_momentum = cfg.name == "sgd"
        self.updates = 0
        self.scale = 1.0  # lowered by the divergence guard's rollbacks
        self.apply(epoch=0)

    def lr(self) -> float:
        c = self.cfg
        lr = c.lr * self.scale
        if c.linear_decay_start is not None:  # constant, then linear to 0 (pix2pix / CycleGAN reference)
            done = max(0, self.updates - c.linear_decay_start)
            return lr * max(0.0, 1.0 - done / c.linear_decay_steps)
        if c.lr_decay == 1.0:
            return lr
        # lr / decay**n, via logs so a long run cannot overflow the power.
        return max(math.exp(math.log(lr) - self.updates * math.log(c.lr_decay)), c.lr_min)

    def momentum(self, epoch: int) -> float:
        c = self.cfg
        if c.momentum_final is None:
            return c.momentum
        alpha = min(max((epoch - 1) / (c.momentum_ramp_epochs - 1), 0.0), 1.0)
        return c.momentum * (1 - alpha) + c.momentum_final * alpha

    def apply(self, epoch: int) -> None:
        lr, mom = self.lr(), self.momentum(epoch)
        for group in self.optimizer.param_groups:
            if torch.is_tensor(group["lr"]):  # a CUDA graph's optimiser step reads it in place
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
            if self.sets_momentum:
                group["momentum"] = mom

    def after_update(self, epoch: int) -> None:
        self.updates += 1
        self.apply(epoch)

    def state_dict(self) -> dict:
        return {"updates": self.updates, "scale": self.scale}

    def load_state_dict(self, state: dict, epoch: int) -> None:
        self.updates = int(state["updates"])
        self.scale = float(state.get("scale", 1.0))
        self.apply(epoch)


def make_optimizer(params, cfg: OptimConfig, impl: str = "for-loop") -> torch.optim.Optimizer:
    """``impl`` (speed.optimizer) picks the kernels: fused, foreach or for-loop; the update is the same."""
    if cfg.name == "sgd":
        cls, kwargs = torch.optim.SGD, {"momentum": cfg.momentum}
    elif cfg.name == "rmsprop":  # WGAN's choice: momentum-free, which the paper found stabler for the critic
        cls, kwargs = torch.optim.RMSprop, {}
    else:
        cls, kwargs = torch.optim.Adam, {"betas": cfg.betas}
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **kwargs, **optimizer_kwargs(cls, impl))
