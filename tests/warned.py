"""The ``ganforge: warning:`` lines a block writes (errors.warn: one line on stderr, never a Python warning),
for the tests of what ganforge warns about. One copy, imported by the test files that need it."""

import contextlib
import io
from collections.abc import Iterator

PREFIX = "ganforge: warning: "


@contextlib.contextmanager
def warned() -> Iterator[list[str]]:
    """``with warned() as said:`` -> the text after the prefix of each warning line written inside the block."""
    buf, lines = io.StringIO(), []
    with contextlib.redirect_stderr(buf):
        yield lines
    lines.extend(line[len(PREFIX):] for line in buf.getvalue().splitlines() if line.startswith(PREFIX))
