"""The ``ganforge`` command: one module per subcommand, each a thin shell over the library.

Each subcommand module has ``add_parser(sub)`` and ``run(args)``; everything they do is
also reachable from Python (:mod:`ganforge.api`). A :class:`GanforgeError` becomes one line
on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from ganforge.cli import evaluate, figures, presets, sample, train
from ganforge.errors import ConfigError, GanforgeError
from ganforge.presets import DEFAULT_PRESET

COMMANDS = (train, sample, presets, evaluate, figures)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganforge", description="Train, sample and measure GANs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "preset", "") is None:
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
