"""What would another moving average of G have drawn? Computed afterwards from a run's G snapshots.

G's moving average never feeds training, and a run is a fixed function of its seed (a rerun repeats
it bit for bit), so the raw G's trajectory does not depend on the ``ema`` settings. A run that kept
a checkpoint every few steps (``--set log.checkpoint_every=50 --set log.keep_checkpoints=100``)
therefore answers "what if the half-life were H" for any H without training again: this script
replays the average over the snapshots with :class:`ganforge.training.ema.EmaSchedule` (the rule the
loop uses), each snapshot standing for G over the steps since the one before, and reads every
average's samples with ``learns.py``'s judge (class shares, confident share, judge-FID).

With a snapshot at every step the replay is the loop's own average (a test checks this). With
sparser snapshots it is an approximation: on StyleGAN2 at 50-step spacing it came within 0.3 points
of the run's smallest class share and about 2 points of its judge-FID (docs/stylegan.md, 'The fifth
limit'). The average starts at the first snapshot; the initial weights' share that this leaves out
is printed (0 with a ramp-up, whose first update copies G).

    python benchmarks/ema_from_snapshots.py RUN --average 10000:0.05 --average 20000:none --n 2000
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file

from ganforge import api
from ganforge.metrics.judges import default_judge, load_judge
from ganforge.metrics.modes import format_count
from ganforge.runs import checkpoint
from ganforge.runs.run import load_run
from ganforge.training.ema import EmaSchedule

HERE = Path(__file__).resolve().parent


def _learns():
    """learns.py's judge reading and coverage figures (a sibling script, not a package module)."""
    spec = importlib.util.spec_from_file_location("learns", HERE / "learns.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_average(text: str) -> tuple[int, float | None]:
    """``H:RAMPUP`` (a half-life in images and ada's ramp-up, or ``none``) -> (H, rampup)."""
    half_life, _, rampup = text.partition(":")
    return int(half_life), None if rampup in ("", "none") else float(rampup)


def snapshots(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, directory) of every complete checkpoint, oldest first."""
    return [(int(p.name[len(checkpoint.PREFIX):]), p) for p in checkpoint.list_checkpoints(run_dir / "checkpoints")]


@torch.no_grad()
def replay(run_dir: Path, schedule: EmaSchedule, buffers: set[str]) -> tuple[dict[str, torch.Tensor], float]:
    """G's moving average under ``schedule`` replayed over the snapshots, and the initial weights' share
    it leaves out. Snapshot "step-k" holds G after the update of loop step k - 1, which the loop
    follows with an average update of weight ``1 - beta_at(k - 1)``; between snapshots G is taken as
    constant, so an interval of steps j..k-1 blends with weight ``1 - prod beta_at(j..k-1)``."""
    found = snapshots(run_dir)
    if len(found) < 2:
        raise SystemExit(f"{run_dir} keeps {len(found)} checkpoint(s): replaying an average needs a run with "
                         f"dense ones (--set log.checkpoint_every=50 --set log.keep_checkpoints=100)")
    first_step, first = found[0]
    average = load_file(str(first / "G.safetensors"))
    left_out = math.prod(schedule.beta_at(j) for j in range(first_step))
    previous = first_step
    for step, path in found[1:]:
        weight = 1.0 - math.prod(schedule.beta_at(j) for j in range(previous, step))
        last = load_file(str(path / "G.safetensors"))
        for name, value in last.items():
            if value.is_floating_point():
                average[name].lerp_(value, weight)
            else:
                average[name] = value
        previous = step
    # buffers (w_avg, batch-norm statistics) are copied, not averaged (training/ema.py): the last snapshot's
    average.update({name: last[name] for name in buffers if name in last})
    return average, left_out


def measure(run_dir: Path, averages: list[tuple[int, float | None]], n: int, seed: int | None) -> list[dict]:
    learns = _learns()
    run = load_run(run_dir)
    seed = run.config.seed if seed is None else seed
    judge_name = default_judge(run.config.data.name)
    judge = load_judge(judge_name, None)
    fid_name = f"fid{format_count(n)}_test_{judge_name}"
    batch = run.config.train.batch_size
    buffers = {name for name, _ in run.generator.named_buffers()}
    rows = []
    for label, weights, left_out in [("the run's G_ema", None, 0.0), ("raw G (last snapshot)", "raw", 0.0),
                                     *[(f"half-life {h} images, ramp-up {r}", (h, r), None) for h, r in averages]]:
        if weights is None:
            state = load_file(str(run.checkpoint / "G_ema.safetensors"))
        elif weights == "raw":
            state = load_file(str(run.checkpoint / "G.safetensors"))
        else:
            schedule = EmaSchedule(batch, half_life_images=weights[0], rampup=weights[1])
            state, left_out = replay(run_dir, schedule, buffers)
        run.generator.load_state_dict(state)
        x = run.sample(n, seed=seed)
        cls, conf, _ = learns.judge_read(judge, x)
        row = {"average": label, "initial_share_left_out": left_out,
               **learns.coverage(cls, conf, judge.num_classes)}
        row[fid_name] = round(float(api.evaluate(x, fid_name, dataset=run.config.data.name)[fid_name]), 2)
        rows.append(row)
        shares = row["shares"]
        print(f"{label:<40} smallest class {min(shares):.1%} (class {shares.index(min(shares))}), "
              f"{row['classes_at_5pct']} classes at >= 5%, {fid_name} {row[fid_name]}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a run directory with dense checkpoints")
    p.add_argument("--average", action="append", default=[], metavar="H:RAMPUP",
                   help="a half-life in images and a ramp-up (or none), e.g. 20000:none; repeatable")
    p.add_argument("--n", type=int, default=2000, help="samples the judge reads (default 2000)")
    p.add_argument("--seed", type=int, default=None, help="sampling seed (default: the run's)")
    p.add_argument("--json", default=None, help="write the rows here")
    args = p.parse_args(argv)
    rows = measure(Path(args.run), [parse_average(a) for a in args.average], args.n, args.seed)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    from bench_cli import run_main  # benchmarks/ is on sys.path when a script runs

    raise SystemExit(run_main(main))
