"""User-facing errors.

Everything a user can get wrong (a preset name, a config key, a data path, a
checkpoint) raises a subclass of :class:`GanforgeError` whose message names the
problem *and* the fix. The CLI prints these as one line and exits non-zero; any
other exception is a bug in ganforge and keeps its traceback.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable


class GanforgeError(Exception):
    """An error caused by the user's input, with a message that says how to fix it."""


class ConfigError(GanforgeError):
    """A preset, key or value in the run configuration is wrong."""


class DataError(GanforgeError):
    """A dataset cannot be found, read or verified."""


class CheckpointError(GanforgeError):
    """A run directory or checkpoint is missing, corrupt or does not fit the config."""


class WrongCommandError(GanforgeError):
    """A run given to a command that does not apply to its kind of model (a translation run to
    ``ganforge eval``): the message names the command that does, so the user is never handed a
    number that measures nothing."""


class JudgeError(GanforgeError):
    """A judge (the feature network metrics look through) cannot be found, trained, loaded or applied."""


class MetricError(GanforgeError):
    """A metric name or its parameters do not fit the request, or its inputs cannot be measured (NaN rows).
    Here rather than in metrics/registry.py: the formulas below the registry (frechet, prdc, modes) raise it."""


def warn(message: str) -> None:
    """One ``ganforge: warning:`` line on stderr, the form of every ganforge warning. Never a Python
    warning: that prints the source file and line of the call, which tell a user nothing."""
    print(f"ganforge: warning: {message}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    """One ``ganforge: note:`` line on stderr: something the user should know about what was done, which is
    not a fault (the form of every ganforge note, as :func:`warn` is of every warning)."""
    print(f"ganforge: note: {message}", file=sys.stderr, flush=True)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' hint for a misspelt name, or '' if nothing is close. Any name or choice
    is compared as text: a YAML key can be a number or null, and the hint must never be the error."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""
