"""The run directory: everything needed to understand, reproduce and continue a run.

``config.yaml`` (the resolved config), ``options.json`` (versions, git commit,
seed, command line, device), ``stats.jsonl``, ``tb/``, ``checkpoints/`` and
``samples/``. New runs get numbered directories (``runs/00003-gan2014-digits``),
so a second run never overwrites the first.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy
import torch
import yaml

from ganforge.version import __version__
from ganforge import recipes
from ganforge.config import RunConfig, from_dict, load_yaml, reads
from ganforge.config.yaml_reader import yaml_problem
from ganforge.errors import CheckpointError, ConfigError, GanforgeError
from ganforge.run_layout import CHECKPOINTS, CONFIG, OPTIONS, RUN_LAYOUT, SAMPLES, child_kind


def next_run_dir(root: Path, label: str) -> Path:
    """``root/NNNNN-label`` with NNNNN one past the highest existing number."""
    numbers = [int(m.group(1)) for p in root.glob("*") if (m := re.match(r"(\d{5})-", p.name))] if root.is_dir() else []
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "run"
    return root / f"{max(numbers, default=-1) + 1:05d}-{safe}"


def latest_run_dir(root: Path, label: str) -> Path | None:
    """The highest-numbered ``root/NNNNN-label``, for ``--resume`` without ``--out``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_")
    runs = sorted(p for p in root.glob(f"[0-9][0-9][0-9][0-9][0-9]-{safe}") if p.is_dir()) if root.is_dir() else []
    return runs[-1] if runs else None


def foreign_entries(path: str | Path) -> list[str]:
    """What in the run directory ``path`` ganforge did not write (:data:`RUN_LAYOUT`), as paths relative to it
    (``samples/my_notes.txt``), sorted; a foreign folder is named once, not each file in it. A link is
    foreign wherever it is: ganforge writes none."""
    path = Path(path)
    found: list[str] = []

    def walk(folder: Path, kind: str, rel: str) -> None:
        files, folders = RUN_LAYOUT[kind]
        for entry in sorted(folder.iterdir()):
            name = f"{rel}{entry.name}"
            is_dir = entry.is_dir() and not entry.is_symlink()
            pattern = folders if is_dir else files
            if entry.is_symlink() or not (pattern and re.fullmatch(pattern, entry.name)):
                found.append(name)
            elif is_dir:
                walk(entry, child_kind(kind, entry.name), f"{name}/")

    walk(path, "", "")
    return found


def is_run_directory(path: str | Path) -> bool:
    """Whether ``path`` is a directory ganforge wrote: both marker files, and nothing ganforge does not write,
    at any depth.

    This is what stands between ``--force`` and the user's files: a folder holding notes, a
    home directory, a parent of runs, or a run with a file of the user's in ``samples/`` all fail it,
    so they are never deleted.
    """
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        return False
    if not ((path / CONFIG).is_file() and (path / OPTIONS).is_file()):
        return False
    return not foreign_entries(path)


def check_replaceable(run_dir: Path) -> None:
    """Refuse, with one line, to let ``--force`` delete anything but a ganforge run directory."""
    run_dir = Path(run_dir)
    resolved = run_dir.resolve()
    home = Path.home().resolve()
    if resolved in (Path.cwd().resolve(), home, Path(resolved.anchor)) or resolved in Path.cwd().resolve().parents:
        raise GanforgeError(f"--force will not delete {run_dir} ({resolved}): it is the current, home or a parent "
                            f"directory; pass a run directory such as runs/my-run as --out")
    if not is_run_directory(run_dir):
        foreign = foreign_entries(run_dir) if run_dir.is_dir() and not run_dir.is_symlink() else []
        what = f"it holds files ganforge did not write ({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''})" \
            if foreign else f"it is not a ganforge run directory (no {CONFIG} and {OPTIONS})"
        raise GanforgeError(f"--force will not delete {run_dir}: {what}; move those files away or choose "
                            f"another --out")


def git_commit() -> str | None:
    """The commit of the ganforge source tree, with '-dirty' if it has local changes; None outside git."""
    src = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=src,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (``platform.processor()`` is empty on most Linux systems),
    or ``unknown``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def versions() -> dict[str, str]:
    """What a bitwise rerun must match: versions, the CPU and its thread count (PyTorch's CPU kernels differ
    between CPU models and thread counts, so one seed's runs differ when either does: docs/architecture.md)."""
    return {"ganforge": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "cuda": torch.version.cuda or "none", "platform": platform.platform(),
            "cpu": cpu_name(), "cpu_threads": str(torch.get_num_threads())}


def write_new(run_dir: Path, cfg: RunConfig, *, device: str, preset: str | None, argv: list[str] | None,
              extra: dict | None = None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    for sub in (CHECKPOINTS, SAMPLES):
        (run_dir / sub).mkdir(exist_ok=True)
    (run_dir / CONFIG).write_text(saved_config(cfg))
    options = {
        "preset": preset,
        "seed": cfg.seed,
        "command": argv if argv is not None else sys.argv,
        "device": device,
        "git_commit": git_commit(),
        "versions": versions(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    (run_dir / OPTIONS).write_text(json.dumps(options, indent=1))


def record_resume(run_dir: Path, step: int, *, device: str, argv: list[str] | None) -> None:
    """Each resumed leg's own command, device, commit and versions under ``resumes`` in options.json: a run
    continued on another machine or after an upgrade is no longer bitwise the first leg's, and the record
    of the first leg alone said nothing of it."""
    add_option(run_dir, "resumes", {"step": step, "command": argv if argv is not None else sys.argv, "device": device,
                                    "git_commit": git_commit(), "versions": versions(),
                                    "started": datetime.now(timezone.utc).isoformat(timespec="seconds")})


def add_option(run_dir: Path, key: str, entry: dict) -> None:
    """Append ``entry`` to the list ``key`` in options.json (e.g. config changes accepted on resume)."""
    path = run_dir / OPTIONS
    options = json.loads(path.read_text()) if path.exists() else {}
    options.setdefault(key, []).append(entry)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(options, indent=1))
    tmp.replace(path)


def saved_config(cfg: RunConfig) -> str:
    """config.yaml's text: only the keys the run's recipe reads (config/reads.py), so a section it never
    reads is not kept as if it mattered. Left-out keys load as their defaults, which is what the run used."""
    return reads.saved_yaml(cfg, recipes.reads_of(cfg.recipe))


def read_config(run_dir: Path) -> RunConfig:
    path = Path(run_dir) / CONFIG
    if Path(run_dir).exists() and not Path(run_dir).is_dir():
        raise CheckpointError(f"{run_dir} is a file, not a run directory; pass the directory `ganforge train` wrote")
    if not Path(run_dir).is_dir():
        raise CheckpointError(f"run directory {run_dir} does not exist; pass the directory `ganforge train` wrote")
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a ganforge run directory (no {CONFIG}); "
                              f"pass the directory `ganforge train` wrote")
    try:
        raw = load_yaml(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML ({yaml_problem(e)}); restore it from a backup") from None
    if not isinstance(raw, dict):  # e.g. an emptied file: from_dict's message would not name the file
        what = "is empty" if raw is None else f"holds a {type(raw).__name__}, not a mapping of settings"
        raise ConfigError(f"{path} {what}; restore it from a backup (`ganforge train` wrote it)")
    return from_dict(raw)
