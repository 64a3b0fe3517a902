"""A run's ``stats.jsonl`` read back: one reader for everything that reads it.

The training loop appends one JSON object per line (:class:`ganforge.engine.stats_log.StatsLog`):
statistics ``{"step": N, "loss_G": ..., ...}`` and events ``{"step": N, "event": kind, "message": ...}``.
Five places read it back (the train summary's last metrics, ``curves.png``, the explorer's chart, and the
two rewinds: a resume after a kill, a rollback's retry), and each had its own parser, which disagreed on
what a bad line is; a byte that is not UTF-8 or a ``"step"`` that is not a number stopped some of them
with a traceback. Here a line counts only when it is a record ganforge could have written (a JSON object
whose ``step`` is a finite number); anything else (a torn last line after a kill, a line edited by
hand) is skipped, so one bad line never hides the rest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def is_number(v: Any) -> bool:
    """A finite int or float, and not a bool (which JSON ``true`` becomes, and which is an int to Python)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def parse(line: bytes) -> dict | None:
    """The record a line holds, or None when it is not one ganforge could have written."""
    try:
        record = json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(record, dict) or not is_number(record.get("step")):
        return None
    return record


def records(path: Path, *, events: bool = False) -> Iterator[dict]:
    """The file's records in order: statistics only, or events as well. Nothing when the file is missing;
    an unreadable one (permissions, a directory of that name) raises OSError for the caller to name."""
    if not path.exists():
        return
    with path.open("rb") as f:  # a directory of that name: IsADirectoryError, an OSError the caller names
        for line in f:
            record = parse(line)
            if record is not None and (events or "event" not in record):
                yield record


def logged_again(record: dict, step: int, later_events: bool, continuing: bool = True) -> bool:
    """Whether a run continuing from ``step`` logs this record again: a record after it, or the partial
    record written at it when a leg ended between log steps (its steps are in the next full record, when
    the run trains on: ``continuing``)."""
    if later_events and "event" in record:
        return False
    return record["step"] > step or (continuing and record["step"] == step and record.get("partial") is True)


def keep_until(path: Path, step: int, *, later_events: bool, continuing: bool = True) -> None:
    """Drop what a run continuing from ``step`` logs again (:func:`logged_again`), so that each step appears
    once and a resumed run's file is the uninterrupted run's. ``later_events`` keeps the events after it
    (a rollback's: why the run went back), which a resume after a kill drops with the rest. ``continuing``
    False (a resume to the budget already reached, which trains nothing) keeps the partial record at
    ``step``: nothing would log its steps again. A line that is not a record is kept (every reader skips
    it; it is not ours to delete), except a last line without its newline: a write cut short by the kill.
    Replaced atomically (``stats.tmp``)."""
    if not path.is_file():
        return
    data = path.read_bytes()
    lines = data.splitlines()
    if lines and not data.endswith(b"\n"):
        lines.pop()
    kept = []
    for line in lines:
        record = parse(line)
        if record is None or not logged_again(record, step, later_events, continuing):
            kept.append(line + b"\n")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(kept))
    tmp.replace(path)
