"""Ctrl-C and SIGTERM during training: finish the step, write a checkpoint, then stop.

A job scheduler's SIGTERM or a user's Ctrl-C must never cost the work since the last
periodic checkpoint, nor leave a half-written one; the loop checks this flag between steps.
"""

from __future__ import annotations

import signal
import threading


class StopFlag:
    """Set by SIGINT/SIGTERM while the context is active (main thread only); ``raised`` names the signal."""

    EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}  # the shell's convention: 128 + signal number

    def __init__(self) -> None:
        self.raised: str | None = None
        self._old: dict[int, object] = {}

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.raised = signal.Signals(signum).name

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
