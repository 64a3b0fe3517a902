"""Progress bars show on a terminal and stay quiet in pipes."""

import io
import sys

from ganforge import progress


def test_quiet_when_not_a_tty(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert list(progress.track(range(50), total=50, desc="sampling")) == list(range(50))
    assert sys.stderr.getvalue() == ""


def test_shown_on_a_tty(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    with progress.bar(100, desc="sampling") as b:
        b.update(100)
    assert "sampling" in sys.stderr.getvalue()
    assert progress.bar(1, desc="one").disable  # too small to watch
