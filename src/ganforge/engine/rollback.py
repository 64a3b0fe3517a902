"""What the divergence guard does when a loss or the weights turn NaN/inf: stop, or roll back.

Rolling back restores the last good checkpoint, scales every learning rate by
``guard.lr_factor`` and (with ``guard.reseed``) starts fresh random streams, so the retry
does not walk into the same blow-up; after ``guard.max_retries`` it stops for good.
"""

from __future__ import annotations

import torch

from ganforge.engine import state
from ganforge.errors import GanforgeError
from ganforge.training import seeds


class TrainingDiverged(GanforgeError):
    """A loss became NaN or infinite."""


def diverged(trainer, reason: str) -> bool:
    """Stop (raise) or roll ``trainer`` back to the last good checkpoint; True after a rollback."""
    g, cfg, world = trainer.guard, trainer.cfg, trainer.world
    if not g.can_retry():
        tried = f" after {g.retries} rollback(s)" if g.retries else ""
        message = (f"training diverged at step {trainer.step}{tried}: {reason}. The last good checkpoint is kept; "
                   f"lower optim.d.lr / optim.g.lr, or set guard.action=rollback, then resume")
        trainer.writer.event(trainer.step, "diverged", message)
        raise TrainingDiverged(message)
    failed_at = trainer.step
    g.retries += 1
    path, trainer.step, trainer.best = state.restore(trainer.built, trainer.run_dir, g, world, cfg.seed)
    epoch = trainer.built.parts.context.epoch
    for sched in trainer.built.schedules.values():
        sched.scale *= cfg.guard.lr_factor
        sched.apply(epoch)
    if cfg.guard.reseed:
        seed = seeds.for_retry(cfg.seed, g.retries)
        torch.manual_seed(seed + seeds.RETRY_RANK * world.rank)
        trainer.built.parts.reseed(seed)
    trainer.stats.flush()
    scale = next(iter(trainer.built.schedules.values())).scale
    trainer.writer.event(failed_at, "rollback",
                         f"step {failed_at}: {reason}; rolled back to {path.name} "
                         f"(retry {g.retries}/{cfg.guard.max_retries}, lr x{scale:g}"
                         f"{', new random streams' if cfg.guard.reseed else ''})")
    return True
