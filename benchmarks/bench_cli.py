"""One entry point for the benchmark scripts: a user's mistake is one line and exit code 2, never a traceback.

    if __name__ == "__main__":
        raise SystemExit(run_main(main))

Argument errors that ``argparse`` sees are already ``prog: error: ...`` and exit 2 (``parser.error``); this
catches the rest of the user's input that only ganforge can judge -- a preset name, a ``--set`` key or value,
a run directory, a dataset -- which ganforge raises as :class:`ganforge.errors.GanforgeError` with a message
that names the problem and the fix. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from ganforge.errors import GanforgeError


def run_main(main: Callable[[], int | None]) -> int:
    """Run ``main()``; a GanforgeError becomes ``<script>: error: <message>`` on stderr and exit code 2."""
    try:
        return main() or 0
    except GanforgeError as e:
        print(f"{Path(sys.argv[0]).name}: error: {e}", file=sys.stderr, flush=True)
        return 2
