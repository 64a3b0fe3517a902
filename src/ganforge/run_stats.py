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
    if not path.is_file():
        return
    with path.open("rb") as f:
        for line in f:
            record = parse(line)
            if record is not None and (events or "event" not in record):
                yield record


def keep_until(path: Path, step: int, *, later_events: bool) -> None:
    """Drop the records logged after ``step``, so that each step appears once when it is logged again.
    ``later_events`` keeps the events after it (a rollback's: why the run went back), which a resume after
    a kill drops with the rest. Lines that are not records go too. Replaced atomically (``stats.tmp``)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_bytes().splitlines():
        record = parse(line)
        if record is not None and (record["step"] <= step or (later_events and "event" in record)):
            kept.append(line + b"\n")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(kept))
    tmp.replace(path)
