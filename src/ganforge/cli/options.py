"""The options several verbs share, defined once: the same name, default and help wherever they appear.

A verb that opens a run takes ``RUN_DIR``, ``--checkpoint`` and ``--device``; one that draws noise
takes ``--seed``; one that reads datasets or judges takes ``--data-dir``. They used to be written
out in each verb (a dozen copies of ``--checkpoint``), and copies drift: a default or a help text
changed in one verb and not in the next. A verb with a different meaning for a name (``train
--device`` also takes ``auto``; a seed that seeds something other than noise) says so in its own
module instead.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from ganforge.cli.device import device_option
from ganforge.errors import GanforgeError
from ganforge.runs.run import Run, load_run

DEFAULT_CHECKPOINT = "latest"  # the newest checkpoint: what a run that just finished holds
DEFAULT_SEED = 0  # one fixed draw, so that a command run twice gives the same samples


def run_dir(p: argparse.ArgumentParser, help: str = "a run directory written by `ganforge train`", **kw) -> None:
    """The positional run directory (``nargs="?"`` and the like through ``kw``)."""
    p.add_argument("run_dir", help=help, **kw)


def checkpoint(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                   help=f"{DEFAULT_CHECKPOINT} (default), best, or a checkpoint directory")


def device(p: argparse.ArgumentParser, help: str = "cpu (default) or cuda") -> None:
    p.add_argument("--device", help=help)


class SeedAction(argparse.Action):
    """``--seed N`` with N an integer >= 0, refused at parse time: numpy's generators raise a traceback
    deep inside sampling on a negative seed, after the run is already loaded. A usage error (one line,
    exit 2) names the flag the user typed; ``train`` uses it too, so it never says ``seed=-1``."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        try:
            value = int(values)
        except ValueError:
            value = -1
        if value < 0:
            parser.error(f"{option_string} must be an integer >= 0, got {values}")
        setattr(namespace, self.dest, value)


def seed(p: argparse.ArgumentParser, help: str = f"noise seed (default {DEFAULT_SEED})",
         default: int | None = DEFAULT_SEED) -> None:
    p.add_argument("--seed", action=SeedAction, default=default, help=help)


def data_dir(p: argparse.ArgumentParser, when: str = "") -> None:
    """``when``: the condition under which the verb reads data (``"with --eval: "``), if not always."""
    p.add_argument("--data-dir", help=f"{when}where datasets and judges are cached "
                                      "(default: $GANFORGE_DATA or ~/.cache/ganforge/data)")


def one_output_each(jobs: Iterable[tuple[Path, Path]], why: str) -> None:
    """One line, before any work, when two inputs of a folder would be written to one output (``a.png`` and
    ``a.jpg`` both become ``a.png``), which would replace one with the other; ``why`` says how names map."""
    first: dict[Path, Path] = {}
    for source, target in jobs:
        if target in first:
            raise GanforgeError(f"--input {first[target]} and {source} would both be written to {target} ({why}); "
                                f"rename one of them or move it out of the folder")
        first[target] = source


def open_run(args: argparse.Namespace) -> Run:
    """The run that ``run_dir``, ``--checkpoint`` and ``--device`` name, opened (one-line errors)."""
    return load_run(args.run_dir, args.checkpoint, device=device_option(args.device))
