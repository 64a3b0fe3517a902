"""The ``ganforge`` command: one module per subcommand, each a thin shell over the library.

Each subcommand module has ``add_parser(sub)`` and ``run(args)``; everything they do is
also reachable from Python (:mod:`ganforge.api`). Whatever the user gets wrong ends in one
line on stderr and exit code 2: a :class:`GanforgeError`, and a usage mistake too (argparse
would print the whole usage). Ctrl-C and SIGTERM end ``sample``, ``eval`` and ``figures``
with one line and the shell's codes, 130 and 143, leaving no partial output file
(``train`` stops at a step boundary with a checkpoint, and exits with the same codes).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import NoReturn

from ganforge.cli import evaluate, figures, presets, sample, train
from ganforge.cli import translate
from ganforge.cli import upscale
from ganforge.cli import anomaly
from ganforge.cli import dataset
from ganforge.cli import audit, downstream, export
from ganforge.cli import classify, features
from ganforge.cli import explore, serve
from ganforge.cli import table_report
from ganforge.engine.signals import StopFlag
from ganforge.errors import ConfigError, GanforgeError
from ganforge.presets import DEFAULT_PRESET
from ganforge.version import __version__

COMMANDS = (train, sample, presets, evaluate, figures, translate, upscale, anomaly, export, audit, downstream,
            classify, features, serve, explore, dataset, table_report)
INTERRUPTED = {"SIGINT": "interrupted (Ctrl-C)", "SIGTERM": "terminated (SIGTERM)"}
BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE, what a shell tool killed by a closed pipe returns


class Parser(argparse.ArgumentParser):
    """argparse with usage mistakes as one line naming the fix, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        where = self.prog.removeprefix("ganforge").strip()
        self.exit(2, f"ganforge: error: {where + ': ' if where else ''}{message}; see {self.prog} --help\n")


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that clean-up (temporary files) runs as for Ctrl-C."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="ganforge", description="Train, sample and measure GANs.",
                    epilog="exit codes: 0 done, 2 bad input (one line on stderr), 130 Ctrl-C, 143 SIGTERM")
    parser.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version (0) or a usage mistake (2, one line already printed)
        return int(done.code or 0)
    if getattr(args, "preset", "") is None:
        args.preset = DEFAULT_PRESET
    if argv is not None and args.command == "train":
        args.argv = ["ganforge", *argv]
    previous = None
    # SIGTERM raises where the program is, as Ctrl-C does, so clean-up runs: temporary files go, a run that
    # never started leaves no directory, and --force puts the old run back. Training itself takes SIGTERM
    # over (engine/signals.StopFlag) to stop at a step with a checkpoint; before that it was the default
    # action, which killed `train` during start-up with the old run left aside as .NAME.replaced.
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"ganforge: config error: {e}", file=sys.stderr)
        return 2
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as e:
        signal_name = "SIGTERM" if isinstance(e, Terminated) else "SIGINT"
        print(f"ganforge: {INTERRUPTED[signal_name]}; {getattr(args, 'on_interrupt', 'stopped')}", file=sys.stderr)
        return StopFlag.EXIT_CODES[signal_name]  # the same codes train exits with
    except BrokenPipeError:
        # The reader left (`ganforge presets | head`): stop quietly, as a shell tool does. Point stdout at
        # /dev/null so that the interpreter's own flush at exit does not raise the same error again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_EXIT
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
