"""What the divergence guard does when a loss or the weights turn NaN/inf: stop, or roll back.

Rolling back restores the last good checkpoint, scales every learning rate by
``guard.lr_factor`` and (with ``guard.reseed``) starts fresh random streams, so the retry
does not walk into the same blow-up; after ``guard.max_retries`` it stops for good.
"""

from __future__ import annotations

import torch

from ganforge.engine import state
from ganforge.errors import GanforgeError
from ganforge.run_layout import CHECKPOINTS
from ganforge.runs import checkpoint
from ganforge.training import seeds


class TrainingDiverged(GanforgeError):
    """A loss became NaN or infinite."""


def diverged(trainer, reason: str) -> bool:
    """Stop (raise) or roll ``trainer`` back to the last good checkpoint; True after a rollback."""
    g, cfg, world = trainer.guard, trainer.cfg, trainer.world
    if not g.can_retry():
        message = _stop_message(trainer, reason)
        trainer.writer.event(trainer.step, "diverged", message)
        raise TrainingDiverged(message)
    failed_at = trainer.step
    g.retries += 1
    # The scale before the rollback already holds every earlier retry's factor; the checkpoint's may not
    # (none was written since the last retry), and restoring it then multiplying once ran every retry at
    # lr_factor**1 instead of compounding as guard.lr_factor says ("multiplied by this at each retry").
    scales = {name: sched.scale for name, sched in trainer.built.schedules.items()}
    path, trainer.step, trainer.best = state.restore(trainer.built, trainer.run_dir, g, world, cfg.seed,
                                                     trainer.stats)  # the sums since the checkpoint's last log
    trainer.built.parts.context.restores += 1  # the retried steps draw anew (training/step_batch.py)
    epoch = trainer.built.parts.context.epoch
    for name, sched in trainer.built.schedules.items():
        sched.scale = scales[name] * cfg.guard.lr_factor
        sched.apply(epoch)
    if cfg.guard.reseed:
        torch.manual_seed(seeds.for_retry_rank(cfg.seed, g.retries, world.rank))
        trainer.built.parts.reseed(seeds.for_retry(cfg.seed, g.retries))
    trainer.writer.rewind(trainer.step)  # the failed attempt's records: the retry logs those steps again
    scale = next(iter(scales.values())) * cfg.guard.lr_factor if scales else 1.0
    trainer.writer.event(failed_at, "rollback",
                         f"step {failed_at}: {reason}; rolled back to {path.name} "
                         f"(retry {g.retries}/{cfg.guard.max_retries}, lr x{scale:g}"
                         f"{', new random streams' if cfg.guard.reseed else ''})")
    return True


def _stop_message(trainer, reason: str) -> str:
    """The line a run stops with: what is kept, and the advice that applies (not one that is already taken)."""
    g, cfg = trainer.guard, trainer.cfg
    tried = f" after {g.retries} rollback(s)" if g.retries else ""
    saved = checkpoint.list_checkpoints(trainer.run_dir / CHECKPOINTS)
    if cfg.guard.action == "rollback":
        advice = (f"lower optim.d.lr / optim.g.lr (or guard.lr_factor), or raise guard.max_retries "
                  f"(now {cfg.guard.max_retries})")
    else:
        advice = "lower optim.d.lr / optim.g.lr, or set guard.action=rollback"
    if not saved:
        return (f"training diverged at step {trainer.step}{tried}: {reason}. No checkpoint was written before it, "
                f"so there is nothing to resume: {advice}, then train again with --force (the run has no "
                f"checkpoint to lose) or another --out")
    return (f"training diverged at step {trainer.step}{tried}: {reason}. The last good checkpoint is kept; "
            f"{advice}, then resume (with --allow-config-change for changed settings)")
