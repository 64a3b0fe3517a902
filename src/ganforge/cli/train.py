"""``ganforge train``: resolve a preset, claim a run directory, train, say where things went.

Under torchrun every process runs this same command; rank 0 alone numbers and writes the run
directory, and every process reports the same exit status.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from ganforge import api, config, outputs, presets, recipes
from ganforge.cli import options
from ganforge.cli.help import examples
from ganforge.data.registry import check_options, run_data_options
from ganforge.engine.signals import StopFlag
from ganforge.run_layout import CHECKPOINTS, SAMPLES
from ganforge.runs.lock import RunLock
from ganforge.training import distributed
from ganforge.engine.stats_log import last_metrics, summary_lines


def add_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a preset; writes a run directory",
                       **examples("ganforge train gan2014-ring8 --out runs/ring8",
                                  "ganforge train gan2014-digits --set optim.d.lr=5e-4 --steps 2000 --dry-run",
                                  "ganforge train gan2014-digits --out runs/mine --steps 20000 --resume"))
    t.add_argument("preset", nargs="?", default=None, help="preset name (see `ganforge presets`) or a YAML file")
    t.add_argument("--out", help="run directory (default: runs/NNNNN-PRESET, numbered)")
    t.add_argument("--steps", type=int, help="training steps (one step = k D updates + one G update)")
    options.seed(t, "random seed (default 0)", default=None)  # None: the preset's seed, unless given
    t.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    t.add_argument("--data-dir", help="where datasets are cached (default: $GANFORGE_DATA or ~/.cache/ganforge/data)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value, e.g. train.batch_size=64")
    t.add_argument("--resume", action="store_true", help="continue the run in --out (default: the newest run of PRESET)")
    t.add_argument("--allow-config-change", action="store_true", help="with --resume: accept a config that differs")
    t.add_argument("--force", action="store_true",
                   help="delete the ganforge run in --out and start over (never a folder holding other files)")
    t.add_argument("--dry-run", action="store_true",
                   help="print the run directory and the keys the recipe reads, each with its value's source, then stop")
    t.set_defaults(func=run, argv=None)


def run(args: argparse.Namespace) -> int:
    world = distributed.setup(_device_preference(args))
    code = _train(args, world)
    distributed.teardown(world)
    return code


def _device_preference(args: argparse.Namespace) -> str:
    """The device the user asked for, early enough to pick torchrun's backend (nccl or gloo)."""
    if args.device is not None:
        return args.device
    for item in args.set or []:
        if item.startswith("train.device="):
            return item.split("=", 1)[1]
    return "auto"


def _overrides(args: argparse.Namespace) -> list[str]:
    overrides = list(args.set or [])
    for key, value in (("train.steps", args.steps), ("seed", args.seed), ("train.device", args.device)):
        if value is not None:
            overrides.append(f"{key}={value}")
    return overrides


def _train(args: argparse.Namespace, world: distributed.World) -> int:
    if args.out is not None:  # '' would be read as '.', the current folder (out-empty-or-dot)
        outputs.nonempty(args.out, flag="--out", example="runs/mine")
    cfg, label = api.resolve_config(args.preset, _overrides(args))
    recipes.get(cfg.recipe)  # an unknown recipe is a config error, caught by --dry-run too
    run_dir = Path(world.broadcast(str(api.run_directory(args.out, label, args.resume))))
    if args.dry_run:
        if world.is_main:
            api.check_start(cfg, run_dir, resume=args.resume, force=args.force,
                            allow_config_change=args.allow_config_change, data_dir=args.data_dir)
            # what loading the data would refuse about data.* (data.size on digits), without loading it
            check_options(cfg.data.name, split=cfg.data.split, **run_data_options(cfg.data, cfg.seed))
            print(dry_run_text(args, cfg, run_dir), end="")
        return 0
    if cfg.auto and world.is_main:
        print(config.loading.auto_printout(_layers(args), reads=recipes.reads_of), end="", flush=True)
    with api.claimed(run_dir, world) as lock:  # rank 0 alone writes the run, so it alone locks it
        return _train_locked(args, world, cfg, run_dir, lock)


def dry_run_text(args: argparse.Namespace, cfg, run_dir: Path) -> str:
    """The run directory and the effective config: only the keys the recipe reads (config/reads.py),
    each with where its value comes from (default, the preset or the preset it extends, --set)."""
    layers = config.loading.with_auto(_layers(args), reads=recipes.reads_of)
    reads = recipes.reads_of(cfg.recipe)
    picked = config.loading.auto_printout(_layers(args), reads=recipes.reads_of)
    return (f"# run directory: {run_dir}\n# the keys recipe {cfg.recipe} reads, each with where its value comes "
            f"from; every other key is refused\n"
            + "".join(f"# {line}\n" for line in picked.splitlines())
            + _epochs_note(cfg, reads)
            + config.reads.annotated(config.reads.effective(cfg.to_dict(), reads), config.sources(layers)))


def _epochs_note(cfg, reads) -> str:
    """A recipe that counts training in epochs (tabular.epochs) sets train.steps once it has read the data,
    which a dry run does not: say so, or the train.steps printed below reads as the run's length."""
    if cfg.tabular.epochs is None or "epochs" not in reads.get("tabular", ()):
        return ""
    return (f"# train.steps below is not used: tabular.epochs={cfg.tabular.epochs} makes it epochs x (rows // "
            f"train.batch_size), counted once the table is read; set tabular.epochs=null to train for train.steps\n")


def _layers(args: argparse.Namespace) -> list[tuple[str, dict]]:
    """The preset's layers, then --set's, then the flags', each labelled with where it came from."""
    preset = args.preset if args.preset is not None else presets.DEFAULT_PRESET
    flags = [(f"--{flag} {value}", layer) for flag, key, value in (("steps", "train.steps", args.steps),
                                                                   ("seed", "seed", args.seed),
                                                                   ("device", "train.device", args.device))
             if value is not None for _, layer in config.override_layers([f"{key}={value}"])]
    return presets.layers(preset) + config.override_layers(args.set or []) + flags


def _train_locked(args: argparse.Namespace, world: distributed.World, cfg, run_dir: Path,
                  lock: RunLock | None) -> int:
    argv = ["ganforge", *sys.argv[1:]] if args.argv is None else args.argv
    trainer = api.start(cfg, run_dir, resume=args.resume, force=args.force, world=world, lock=lock,
                        data_dir=args.data_dir, preset=args.preset, argv=argv,
                        allow_config_change=args.allow_config_change)
    start_step, started = trainer.step, time.perf_counter()
    if world.is_main:
        print(banner(trainer, run_dir), flush=True)
    result = trainer.fit()
    code = StopFlag.EXIT_CODES.get(result.signal, 0) if result.interrupted else 0
    if not world.is_main:
        return code
    # this run's newest grid: one named after a later step is an earlier leg's (a resume to a lower --steps
    # after a fallback past a damaged checkpoint), which the summary named as this run's
    samples = sorted(p for p in (run_dir / SAMPLES).glob("step-*.png") if p.name <= f"step-{result.step:07d}.png")
    print(f"run directory: {run_dir}")
    if samples:
        print(f"samples:       {samples[-1]}")
    print(f"checkpoint:    {run_dir / CHECKPOINTS} (step {result.step})")
    for line in summary_lines(wall_seconds=time.perf_counter() - started, steps=result.step - start_step,
                              batch_size=cfg.train.batch_size, last=result.last_stats,
                              metrics=last_metrics(run_dir)):
        print(line)
    if result.interrupted:
        print(f"stopped early; continue with: {shlex.join(_resume_command(args, run_dir, world))}")
    else:
        print("next: " + trainer.recipe.next_command.format(run=shlex.quote(str(run_dir))))
    return code


def banner(trainer, run_dir: Path) -> str:
    """What is about to happen, before the first step: where, on what, with which data, how long.
    (The ETA follows once the speed is known.)"""
    built, cfg = trainer.built, trainer.cfg
    data = built.data
    classes = f", {data.num_classes} classes" if data.num_classes else ""
    shape = "x".join(str(d) for d in data.shape)
    world = f", {trainer.world.size} processes" if trainer.world.distributed else ""
    start = f" from step {trainer.step}" if trainer.step else ""
    return "\n".join([
        f"run:           {run_dir}{' (resuming)' if trainer.step else ''}",
        f"device:        {built.device}{world} ({built.speed.describe()})",
        f"data:          {cfg.data.name} ({cfg.data.split}): {len(data.x):,} {'images' if data.kind == 'image' else 'points'}"
        f" of {shape}{classes}",
        f"training:      {cfg.train.steps:,} steps{start}, batch {cfg.train.batch_size}",
    ])


def _resume_command(args: argparse.Namespace, run_dir: Path, world: distributed.World) -> list[str]:
    launcher = ["ganforge"]
    if world.distributed:  # the same processes again; other nodes repeat their own torchrun line
        launcher = ["torchrun", "--nproc_per_node", os.environ.get("LOCAL_WORLD_SIZE", str(world.size)),
                    "-m", "ganforge"]
    resume = [*launcher, "train", args.preset, "--out", str(run_dir), "--resume"]
    for flag, value in (("--steps", args.steps), ("--seed", args.seed), ("--data-dir", args.data_dir),
                        ("--device", args.device)):
        if value is not None:
            resume += [flag, str(value)]
    for item in args.set or []:
        resume += ["--set", item]
    return resume
