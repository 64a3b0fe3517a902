"""Where downloaded data lives (file fingerprints are in ``ganforge.download``).

One cache directory, overridable per call or per machine (GANFORGE_DATA), keeps
big downloads out of run directories and lets clusters point at shared storage.
"""

from __future__ import annotations

import os
from pathlib import Path

from ganforge.errors import DataError

ENV_VAR = "GANFORGE_DATA"
DEFAULT_DIR = Path("~/.cache/ganforge/data")


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data cache directory: argument, else $GANFORGE_DATA, else ~/.cache/ganforge/data; created if missing."""
    if data_dir is not None and str(data_dir) != "":
        path, origin = Path(data_dir), "--data-dir"
    elif os.environ.get(ENV_VAR):
        path, origin = Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    else:
        path, origin = DEFAULT_DIR, "the default data directory"
    path = path.expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise DataError(f"{origin} points at {path}, which is a file, not a directory; point it at a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create the data directory {path} ({exc.strerror or exc}); "
            f"pass --data-dir or set {ENV_VAR} to a writable directory"
        ) from None
    return path

