"""Count host-device synchronisations in the training loop's steps (CUDA only).

    python benchmarks/sync_check.py dcgan-digits --steps 20

Runs a preset's phases for ``--steps`` steps under ``torch.cuda.set_sync_debug_mode("warn")``,
which warns on every operation that makes the host wait for the GPU (``.item()``, ``.cpu()``,
``nonzero``, a blocking copy). The loop is meant to have none between log steps: statistics
stay on the device until ``log.every``. Prints ``<preset>: N synchronising calls in S steps``
and where the first few came from.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import warnings
from pathlib import Path

import torch

from ganforge import config, presets

try:
    from ganforge.engine.loop import Trainer

    def _phases_and_context(trainer):
        return trainer.built.phases, trainer.built.parts.context
except ImportError:  # the engine before recipes, for a before/after comparison from an older checkout
    from ganforge.training.loop import Trainer

    def _phases_and_context(trainer):
        return trainer.phases, trainer.ctx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("sync_check needs a CUDA GPU", file=sys.stderr)
        return 2
    overrides = ["log.tensorboard=false", "log.progress=false", "train.device=cuda", *args.set]
    cfg = config.resolve(presets.load_preset(args.preset)[0], overrides)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run")
        phases, ctx = _phases_and_context(trainer)

        def step(i: int) -> None:
            ctx.step = i
            for phase in phases:
                if i % phase.every == 0:
                    phase.run(ctx)

        for i in range(3):  # allocations, cuDNN autotuning and lazy initialisation happen here
            step(i)
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                for i in range(3, 3 + args.steps):
                    step(i)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize()
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    print(f"{args.preset}: {len(syncs)} synchronising calls in {args.steps} steps")
    for (file, line), count in collections.Counter((w.filename, w.lineno) for w in syncs).most_common(5):
        print(f"  {count:>4}  {file}:{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
