"""One rule for every file ganforge writes outside a run's own bookkeeping.

``sample --out``, ``sample --grid``, the ``.labels.npy`` beside samples, ``eval --json``
and ``figures --out`` all go through here, so they behave the same way:

* an existing file is refused unless ``--force`` (never overwritten silently);
* every path is checked before any work starts (extension, a directory in the way, a
  parent that is a file, a read-only folder, too little free disk space), so a bad
  second output never leaves a good first one half-done;
* files are written to a temporary name beside the target and moved into place with
  ``os.replace`` only when complete: a crash, a full disk or Ctrl-C leaves either the
  old file or nothing, never a truncated one;
* every OS error becomes one line naming the path and the fix (a :class:`GanforgeError`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ganforge.errors import GanforgeError

# Room left free beyond what a file needs: filling a disk to the last byte breaks other programs.
SPARE_BYTES = 64 * 2**20


def _existing_ancestor(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path(path.anchor or ".")


def _human(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes < 1024 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TB"


def check_file(path: str | os.PathLike, *, flag: str, force: bool = False,
               suffixes: Sequence[str] | None = None) -> Path:
    """Check that ``path`` may be written as a new file (or replaced, with ``force``); return it.

    Nothing is created. ``flag`` is the option that named the path, for the message.
    """
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise GanforgeError(f"{flag} must name a {' or '.join(suffixes)} file, got '{path}'")
    if path.is_dir():
        raise GanforgeError(f"{flag} {path} is a directory; give a file name inside it, e.g. {path / ('out' + (suffixes[0] if suffixes else ''))}")
    if path.exists() or path.is_symlink():
        if not force:
            raise GanforgeError(f"{path} already exists; pass --force to overwrite it or choose another {flag}")
        if not os.access(path, os.W_OK) and not os.access(path.parent, os.W_OK):
            raise GanforgeError(f"{path} is read-only; choose another {flag}")
    check_dir_writable(path.parent, flag=flag)
    return path


def check_dir_writable(directory: str | os.PathLike, *, flag: str) -> Path:
    """Check that files can be made in ``directory`` (created if missing); nothing is created."""
    directory = Path(directory)
    base = _existing_ancestor(directory)
    if not base.is_dir():
        raise GanforgeError(f"{flag}: {base} is a file, so {directory} cannot be a folder; choose another {flag}")
    if not os.access(base, os.W_OK | os.X_OK):
        raise GanforgeError(f"{flag}: cannot write in {base} (permission denied or read-only); choose a writable "
                            f"place for {flag}")
    return directory


def check_space(path: str | os.PathLike, nbytes: int, *, flag: str, free: int | None = None) -> None:
    """Refuse before starting if ``nbytes`` (plus a margin) will not fit where ``path`` goes
    (``free`` overrides the measured free space, for tests)."""
    base = _existing_ancestor(Path(path).parent)
    if free is None:
        try:
            free = shutil.disk_usage(base).free
        except OSError:
            return  # cannot tell; the write itself will report a full disk
    if nbytes + SPARE_BYTES > free:
        raise GanforgeError(f"{flag} {path} needs {_human(nbytes)} but only {_human(free)} is free on {base}; free "
                            f"space, choose another {flag}, or ask for fewer samples")


def describe_os_error(exc: OSError, path: str | os.PathLike, flag: str) -> str:
    """One line for an OS error while writing ``path``."""
    reason = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
              errno.EACCES: "permission denied", errno.EPERM: "permission denied",
              errno.EROFS: "read-only file system", errno.EISDIR: "it is a directory",
              errno.ENOTDIR: "a part of the path is a file, not a folder",
              errno.ENAMETOOLONG: "the name is too long"}.get(exc.errno, exc.strerror or str(exc))
    return f"could not write {path}: {reason}; nothing was written there. Choose another {flag} or fix the cause"


def _temp_for(path: Path) -> Path:
    """A hidden name beside ``path`` ending in the same suffix (numpy and Pillow go by the suffix)."""
    return path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")


@contextlib.contextmanager
def atomic(*paths: str | os.PathLike, flag: str = "--out") -> Iterator[list[Path]]:
    """Yield temporary paths to write; on success move each onto its target, else delete them all.

    The targets appear together at the end (never one without the others); Ctrl-C, an
    exception or a full disk leaves the targets as they were.
    """
    targets = [Path(p) for p in paths]
    temps = [_temp_for(p) for p in targets]
    current = targets[0] if targets else Path(".")
    try:
        for target in targets:
            current = target
            target.parent.mkdir(parents=True, exist_ok=True)
        current = targets[0] if targets else current
        yield temps
        for temp, target in zip(temps, targets):
            current = target
            os.replace(temp, target)
    except OSError as exc:
        raise GanforgeError(describe_os_error(exc, current, flag)) from None
    finally:
        for temp in temps:
            with contextlib.suppress(OSError):
                temp.unlink()


def write_text(path: str | os.PathLike, text: str, *, flag: str) -> Path:
    """Write a small text file by the rule (checked by the caller with :func:`check_file`)."""
    with atomic(path, flag=flag) as (temp,):
        temp.write_text(text)
    return Path(path)


def npy_bytes(n: int, shape: Sequence[int], dtype: np.dtype | type) -> int:
    """The size of an ``(n, *shape)`` .npy file, header included (for :func:`check_space`)."""
    return int(n) * int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize + 128


def stream_npy(path: Path, n: int, shape: Sequence[int], dtype: np.dtype | type,
               chunks: Iterable[tuple[np.ndarray, np.ndarray | None]], *, labels_path: Path | None = None,
               flag: str = "--out", on_chunk: Callable[[int], None] | None = None) -> int:
    """Write ``n`` samples arriving in chunks straight to disk (``np.lib.format.open_memmap``), so memory
    holds one chunk however large ``n`` is; labels, when given, go to ``labels_path``. Both files appear
    only when complete (see :func:`atomic`). Returns the number written."""
    targets = [path] + ([labels_path] if labels_path is not None else [])
    with atomic(*targets, flag=flag) as temps:
        out = np.lib.format.open_memmap(temps[0], mode="w+", dtype=dtype, shape=(n, *shape))
        labels = (np.lib.format.open_memmap(temps[1], mode="w+", dtype=np.int64, shape=(n,))
                  if labels_path is not None else None)
        done = 0
        try:
            for x, y in chunks:
                out[done:done + len(x)] = x
                if labels is not None and y is not None:
                    labels[done:done + len(x)] = y
                done += len(x)
                if on_chunk is not None:
                    on_chunk(len(x))
            if done != n:
                raise RuntimeError(f"expected {n} samples, the generator gave {done}")
            out.flush()
            if labels is not None:
                labels.flush()
        finally:
            del out, labels  # close the maps before the files are moved or removed
    return done
