"""The ``ganforge`` command: parse arguments, call the library, print one clear line on bad input.

Kept thin on purpose: everything here is also reachable from Python
(``ganforge.config``, ``ganforge.training.loop``, ``ganforge.sampling``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path

from ganforge.errors import ConfigError, GanforgeError


def _train(args: argparse.Namespace) -> int:
    """Under torchrun every process runs this same command; rank 0 alone writes the run directory."""
    from ganforge.training import distributed

    world = distributed.setup(_device_preference(args))
    code = _train_in(args, world)
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


def _train_in(args: argparse.Namespace, world) -> int:
    from ganforge import config, presets
    from ganforge.training import rundir
    from ganforge.training.loop import Trainer

    preset, _ = presets.load_preset(args.preset)
    overrides = list(args.set or [])
    if args.steps is not None:
        overrides.append(f"train.steps={args.steps}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.device is not None:
        overrides.append(f"train.device={args.device}")
    cfg = config.resolve(preset, overrides)
    label = Path(args.preset).stem
    runs_root = Path("runs")
    if args.out:
        run_dir = Path(args.out)
    elif args.resume:
        run_dir = rundir.latest_run_dir(runs_root, label)
        if run_dir is None:
            raise GanforgeError(f"--resume found no run of '{label}' under {runs_root}/; "
                                f"pass --out RUN_DIR to name the run to continue")
    else:
        run_dir = rundir.next_run_dir(runs_root, label)
    run_dir = Path(world.broadcast(str(run_dir)))  # rank 0 numbers the run; every process uses its directory
    if args.dry_run:
        if not world.is_main:
            return 0
        print(f"# run directory: {run_dir}\n{cfg.to_yaml()}", end="")
        return 0
    if args.resume:
        if not (run_dir / rundir.CONFIG).exists():
            raise GanforgeError(f"cannot resume {run_dir}: it is not a run directory (no {rundir.CONFIG}); "
                                f"start a new run without --resume")
    backup = None
    occupied = world.broadcast(not args.resume and run_dir.exists() and any(run_dir.iterdir()))
    if occupied and world.is_main:  # rank 0 refuses, or sets the old run aside
        if not args.force:
            raise GanforgeError(f"output directory {run_dir} already exists and is not empty; pass --resume to "
                                f"continue that run, --force to delete it and start over, or another --out")
        # Set aside rather than delete, until the new run has started: a bad config or dataset
        # must not cost the user the old run.
        backup = run_dir.with_name(f".{run_dir.name}.replaced")
        shutil.rmtree(backup, ignore_errors=True)
        run_dir.rename(backup)
    argv = ["ganforge", *sys.argv[1:]] if args.argv is None else args.argv
    try:
        world.barrier()
        trainer = Trainer(cfg, run_dir, data_dir=args.data_dir, resume=args.resume, preset=args.preset,
                          argv=argv, allow_config_change=args.allow_config_change, world=world)
    except BaseException:
        if backup is not None:
            shutil.rmtree(run_dir, ignore_errors=True)
            backup.rename(run_dir)
        raise
    if backup is not None:
        shutil.rmtree(backup)
    result = trainer.fit()
    if not world.is_main:
        return 0
    samples = sorted((run_dir / "samples").glob("step-*.png"))
    print(f"run directory: {run_dir}")
    if samples:
        print(f"samples:       {samples[-1]}")
    print(f"checkpoint:    {run_dir / 'checkpoints'} (step {result.step})")
    if result.interrupted:
        launcher = ["ganforge"]
        if world.distributed:  # the same processes again; other nodes repeat their own torchrun line
            launcher = ["torchrun", "--nproc_per_node", os.environ.get("LOCAL_WORLD_SIZE", str(world.size)),
                        "-m", "ganforge"]
        resume = [*launcher, "train", args.preset, "--out", str(run_dir), "--resume"]
        for flag, value in (("--steps", args.steps), ("--data-dir", args.data_dir), ("--device", args.device)):
            if value is not None:
                resume += [flag, str(value)]
        for item in args.set or []:
            resume += ["--set", item]
        print(f"stopped early; continue with: {shlex.join(resume)}")
    else:
        print(f"next: ganforge sample {shlex.quote(str(run_dir))} --n 1000 --out samples.npy")
    return 0


def _sample(args: argparse.Namespace) -> int:
    import numpy as np

    from ganforge.sampling import generate, load_generator

    if args.n <= 0:
        raise GanforgeError(f"--n must be a positive number of samples, got {args.n}")
    out = Path(args.out)
    if out.suffix != ".npy":
        raise GanforgeError(f"--out must name a .npy file, got '{out}'")
    if out.exists() and not args.force:
        raise GanforgeError(f"{out} already exists; pass --force to overwrite it or choose another --out")
    device = args.device or "cpu"
    G, cfg, state = load_generator(args.run_dir, args.checkpoint, device=device)
    samples, labels = generate(G, cfg, args.n, seed=args.seed, device=device, classes=args.classes,
                               truncation=args.truncation, num_classes=state["net_context"]["num_classes"],
                               return_labels=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, samples)
    print(f"{out}: {samples.dtype} {tuple(samples.shape)} from step {state['step']}")
    if labels is not None:
        label_path = out.with_suffix(".labels.npy")
        np.save(label_path, labels)
        print(f"{label_path}: the class each sample was generated for")
    if args.grid:
        from ganforge.viz import save_image_grid, save_points_plot

        if samples.ndim == 4:
            save_image_grid(samples[:100], args.grid)
        else:
            save_points_plot(samples, args.grid)
        print(f"{args.grid}: picture of the samples")
    return 0


def _presets(args: argparse.Namespace) -> int:
    from ganforge.presets import DEFAULT_PRESET, list_presets

    items = list_presets()
    width = max(map(len, items))
    for name, description in items.items():
        mark = " (default)" if name == DEFAULT_PRESET else ""
        print(f"{name:<{width}}  {description}{mark}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganforge", description="Train, sample and measure GANs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a preset; writes a run directory")
    t.add_argument("preset", nargs="?", default=None, help="preset name (see `ganforge presets`) or a YAML file")
    t.add_argument("--out", help="run directory (default: runs/NNNNN-PRESET, numbered)")
    t.add_argument("--steps", type=int, help="training steps (one step = k D updates + one G update)")
    t.add_argument("--seed", type=int, help="random seed (default 0)")
    t.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    t.add_argument("--data-dir", help="where datasets are cached (default: $GANFORGE_DATA or ~/.cache/ganforge/data)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value, e.g. train.batch_size=64")
    t.add_argument("--resume", action="store_true", help="continue the run in --out (default: the newest run of PRESET)")
    t.add_argument("--allow-config-change", action="store_true", help="with --resume: accept a config that differs")
    t.add_argument("--force", action="store_true", help="delete a non-empty --out directory and start over")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config and the run directory, then stop")
    t.set_defaults(func=_train, argv=None)

    s = sub.add_parser("sample", help="draw samples from a trained run into a .npy file")
    s.add_argument("run_dir", help="a run directory written by `ganforge train`")
    s.add_argument("--n", type=int, required=True, help="number of samples")
    s.add_argument("--out", required=True, help="output .npy: uint8 (N, C, H, W) images or float32 (N, 2) points")
    s.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    s.add_argument("--checkpoint", default="latest", help="latest (default), best, or a checkpoint directory")
    s.add_argument("--device", help="cpu (default) or cuda")
    s.add_argument("--class", dest="classes", type=int, action="append", metavar="C",
                   help="class-conditional runs: generate class C (repeat for several, cycled)")
    s.add_argument("--truncation", type=float, help="truncation trick: redraw noise components beyond this |z|")
    s.add_argument("--grid", help="also save a PNG picture of the samples here")
    s.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    s.set_defaults(func=_sample)

    p = sub.add_parser("presets", help="list the presets, one line each")
    p.set_defaults(func=_presets)
    from ganforge.metrics.commands import add_commands
    add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "preset", "") is None:
        from ganforge.presets import DEFAULT_PRESET

        args.preset = DEFAULT_PRESET
    if argv is not None and args.command == "train":
        args.argv = ["ganforge", *argv]
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"ganforge: config error: {e}", file=sys.stderr)
        return 2
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
