"""Progress bars for long work in ``sample``, ``eval`` and ``figures``, shown only on a terminal.

One place decides when a bar appears: on an interactive stderr, never in a pipe, a log file or
a CI job (where a bar's carriage returns are noise), and never for work too small to watch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")
MIN_TOTAL = 2  # a bar over one item says nothing


def enabled() -> bool:
    return sys.stderr.isatty()


def bar(total: int, desc: str, unit: str = "sample") -> tqdm:
    """A tqdm bar to ``update(k)`` by hand; disabled (a no-op) off a terminal."""
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, dynamic_ncols=True, leave=False,
                disable=not enabled() or total < MIN_TOTAL, file=sys.stderr)


def track(items: Iterable[T], total: int, desc: str, unit: str = "sample",
          size: Callable[[T], int] = lambda item: 1) -> Iterator[T]:
    """``items`` unchanged, with a bar on a terminal; each item advances it by ``size(item)``."""
    with bar(total, desc, unit) as b:
        for item in items:
            yield item
            b.update(size(item))


def chunks(items: Iterable[tuple[Any, Any]], total: int, desc: str) -> Iterator[tuple[Any, Any]]:
    """(samples, labels) chunks unchanged, the bar counting samples."""
    return track(items, total, desc, size=lambda item: len(item[0]))
