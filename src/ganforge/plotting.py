"""matplotlib's pyplot, on the Agg backend, imported on first use.

Every ganforge command imports the modules that draw (figures, the table previews and reports), and
pyplot alone costs about half a second to import: taken at the top of those modules, it made
``ganforge --help`` pay for plots it never draws. Agg, because ganforge only writes files and must
work on machines with no display.
"""

from __future__ import annotations

from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot``, with the Agg backend selected before its first import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
