"""The manifest ganforge writes into a folder it fills (an export, residual maps), and what it allows.

A folder output, unlike a file, may already hold files of the user's, so ``--force`` cannot simply
replace it: it may delete only what ganforge itself wrote there. This module is that record and the
rule that reads it (write it with the folder, list what it does not name, refuse a folder holding
such files), apart from :mod:`ganforge.outputs`'s rules for single files, which re-exports it so that
every output rule is still found in one place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from ganforge.errors import GanforgeError

# The list of files ganforge wrote into a folder output: what --force may replace there, and nothing else.
MANIFEST = "ganforge-manifest.json"


def write_manifest(folder: Path, files: Iterable[str | os.PathLike], *, what: str) -> Path:
    """``folder/MANIFEST``: the files (relative to ``folder``) and their sizes that ganforge wrote there."""
    folder = Path(folder)
    entries = {str(Path(f)): (folder / f).stat().st_size for f in files}
    path = folder / MANIFEST
    path.write_text(json.dumps({"written_by": "ganforge", "what": what, "files": entries}, indent=0) + "\n")
    return path


def read_manifest(folder: Path) -> dict[str, int] | None:
    """The files ganforge's manifest lists in ``folder`` (name -> size), or None when there is none."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text())
        files = data["files"]
        return {str(k): int(v) for k, v in files.items()} if isinstance(files, dict) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def manifest_what(folder: Path) -> str | None:
    """What the command that wrote ``folder``'s manifest said it wrote (``write_manifest``'s ``what``), or None."""
    try:
        what = json.loads((Path(folder) / MANIFEST).read_text()).get("what")
    except (OSError, ValueError, AttributeError):
        return None
    return what if isinstance(what, str) and what else None


def foreign_files(folder: Path) -> list[str]:
    """Files in ``folder`` that its manifest does not list as ganforge's (or that changed size since), in
    order: what ``--force`` must never delete. Everything is foreign when there is no manifest."""
    folder = Path(folder)
    listed = read_manifest(folder) or {}
    out = []
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_dir() and not path.is_symlink():
            continue
        if rel == MANIFEST and listed:
            continue
        if rel not in listed or path.is_symlink() or path.stat().st_size != listed[rel]:
            out.append(rel)
    return out


def check_replaceable(folder: Path, *, flag: str) -> None:
    """One line unless every file in ``folder`` is one ganforge wrote there (listed in its manifest)."""
    foreign = foreign_files(folder)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        why = "files ganforge did not write" if read_manifest(folder) else f"files and no {MANIFEST} of ganforge's"
        raise GanforgeError(f"--force will not delete {folder}: it holds {why} ({shown}); move those files away or "
                            f"choose another {flag}")
