"""SDMetrics' demo pair (student_placements, real and synthetic), the yardstick of our quality score.

The sdmetrics wheel ships ``demos/single_table/student_placements_{real,synthetic}.csv`` and the
table's ``metadata.json``; pip fetches the wheel wherever ``pip install`` works (PyPI is all CI can
reach), we read the three files out of it (a wheel is a zip) and keep them, checksummed, in the data
cache. Nothing of sdmetrics is imported or installed. The pip call is written here rather than taken
from ``ganforge.data.mnist`` because ``data`` registers the table loaders of this package, and
importing it from here would make the two packages import each other.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from ganforge.download import offline
from ganforge.errors import DataError

SDMETRICS_WHEEL = "sdmetrics==0.32.0"  # the release whose scores the issue quotes (77.67 / 85.11 / 70.23)
INSIDE_WHEEL = "sdmetrics/demos/single_table/"
FILES = {  # sha256 of each file in that wheel: a changed upload is refused, never silently scored
    "student_placements_real.csv": "635a3c0aeae2f6f337b529cd75870190aaac9819e5e74502fe9b02c117780fdb",
    "student_placements_synthetic.csv": "cac46b2964161524fbed671a35858c549ff60124ff914584af35222dc5a6bbb0",
    "metadata.json": "d810f2f07a757b057c2fa86cc5813fbec7c7b0b962c4d274396bba8bbb0c8e20",
}
SUBDIR = "sdmetrics-demo"  # under the data cache
PIP_TIMEOUT_S = 300  # a slow mirror; the wheel is about 200 kB
# SDV's column types -> ours (SDV's "id" is our "id": not scored)
SDTYPES = {"numerical": "numeric", "datetime": "datetime", "categorical": "categorical", "boolean": "boolean",
           "id": "id"}


def default_cache() -> Path:
    """$GANFORGE_DATA, else ~/.cache/ganforge/data: the rule of ``ganforge.data.paths``, read directly
    for the reason given in the module notes."""
    return Path(os.environ.get("GANFORGE_DATA") or "~/.cache/ganforge/data").expanduser()


def _cached(folder: Path) -> bool:
    return all((folder / name).is_file() and hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
               for name, digest in FILES.items())


def fetch(cache: Path | None = None) -> Path:
    """The folder holding the three demo files, fetched through pip the first time."""
    folder = (cache or default_cache()) / SUBDIR
    if _cached(folder):
        return folder
    if offline():
        raise DataError(f"SDMetrics' demo pair is not in {folder} and GANFORGE_OFFLINE is set; unset it or run "
                        f"`pip download --no-deps {SDMETRICS_WHEEL}` on a machine with PyPI and unzip "
                        f"{INSIDE_WHEEL}{{{','.join(FILES)}}} there")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", SDMETRICS_WHEEL,
               "-d", tmp]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DataError(f"pip download {SDMETRICS_WHEEL} failed ({exc}); check that PyPI can be reached") from None
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
            raise DataError(f"pip download {SDMETRICS_WHEEL} failed: {last}; check that PyPI can be reached")
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name, digest in FILES.items():
                data = wheel.read(INSIDE_WHEEL + name)
                if hashlib.sha256(data).hexdigest() != digest:
                    raise DataError(f"{name} in {wheels[0].name} does not have the expected sha256; refusing it")
                part = folder / f".{name}.{os.getpid()}.partial"
                part.write_bytes(data)
                os.replace(part, folder / name)
    return folder


def student_placements(cache: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """(real, synthetic, kinds): the demo pair as pandas reads it, and each column's kind from metadata.json
    (in the table's column order)."""
    folder = fetch(cache)
    real = pd.read_csv(folder / "student_placements_real.csv")
    synthetic = pd.read_csv(folder / "student_placements_synthetic.csv")
    meta = json.loads((folder / "metadata.json").read_text())["tables"]["student_placements"]["columns"]
    kinds = {c: SDTYPES[meta[c]["sdtype"]] for c in real.columns}
    return real, synthetic, kinds


__all__ = ["SDMETRICS_WHEEL", "default_cache", "fetch", "student_placements"]
