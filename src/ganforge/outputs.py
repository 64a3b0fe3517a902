"""One rule for every file ganforge writes outside a run's own bookkeeping.

``sample --out``, ``sample --grid``, the ``.labels.npy`` beside samples, ``eval --json``
and ``figures --out`` all go through here, so they behave the same way:

* an existing file is refused unless ``--force`` (never overwritten silently);
* every path is checked before any work starts (extension, a directory in the way, a
  parent that is a file, a read-only folder, too little free disk space), so a bad
  second output never leaves a good first one half-done;
* files are written to a temporary name beside the target and put in place only when
  complete: a crash, a full disk or Ctrl-C leaves either the old file or nothing, never a
  truncated one;
* putting in place is atomic **and exclusive** unless ``--force``: a target that was absent
  is claimed with ``os.link`` (which fails if it appeared meanwhile), so of two processes
  racing for one output exactly one wins and the other says so in one line; only a target
  the user allowed to be replaced (``--force``) goes through ``os.replace``. Every message
  after that is true: a run that says it wrote 300 samples wrote the file that holds them;
* a folder ganforge fills (an export, residual maps) carries a manifest of the files it
  wrote (:mod:`ganforge.output_manifest`), and ``--force`` replaces only those, never a file of the user's;
* an output path that names no file (``''``, ``.``, ``..``, the current folder) is refused;
* a run's records (config.yaml, options.json, stats.jsonl, checkpoints, ...: :mod:`ganforge.run_layout`)
  are never an output, even with ``--force``: ``eval --json RUN/options.json --force`` would have replaced
  the record of how the run was made;
* every OS error becomes one line naming the path and the fix (a :class:`GanforgeError`).
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ganforge.errors import GanforgeError
from ganforge.memory import human_bytes
from ganforge.output_manifest import (MANIFEST, check_replaceable, foreign_files, manifest_what,  # noqa: F401
                                      read_manifest, write_manifest)  # (re-exported: callers use outputs.X)
from ganforge.run_layout import record_of

# Room left free beyond what a file needs: filling a disk to the last byte breaks other programs.
SPARE_BYTES = 64 * 2**20


def _existing_ancestor(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path(path.anchor or ".")


def nonempty(path: str | os.PathLike, *, flag: str, example: str = "out") -> str:
    """``path`` as text, or one line when it is empty: ``Path('')`` is ``.``, which would silently name
    the current folder (``train --out ''`` would then read as ``train --out .``)."""
    text = os.fspath(path)
    if not str(text).strip():
        raise GanforgeError(f"{flag} is empty; name a new file or folder, e.g. {flag} {example}")
    return str(text)


def named(path: str | os.PathLike, *, flag: str, suffix: str = "") -> Path:
    """``path`` as a Path, or one line when it names no new file or folder: ``''`` (which ``Path`` would
    silently read as ``.``), ``.``, ``..``, a root, or the current folder or one above it. ``suffix`` is the
    extension the command writes, so the suggested name is one the command accepts."""
    text = nonempty(path, flag=flag, example=f"out{suffix}")
    p = Path(text)
    example = Path(text) / f"out{suffix}"
    if p.name in ("", ".", "..") or p == Path(p.anchor):
        raise GanforgeError(f"{flag} {text} is an existing folder ganforge did not make (a current, parent or root "
                            f"folder), not a new output; name a new file or folder inside it, e.g. {flag} {example}")
    with contextlib.suppress(OSError):
        here = Path.cwd().resolve()
        if p.resolve() in (here, *here.parents):
            raise GanforgeError(f"{flag} {text} is the current folder or one above it; name a new file or folder "
                                f"inside it, e.g. {flag} {example}")
    return p


# Names that read as a file, not a folder: a folder --out named so would surprise (a "x.npy" directory).
FILE_SUFFIXES = (".npy", ".npz", ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".json", ".csv")


def check_not_record(path: str | os.PathLike, *, flag: str) -> None:
    """One line when ``path`` is one of a run's records, or would be (:func:`ganforge.run_layout.record_of`)."""
    run = record_of(path)
    if run is not None:
        raise GanforgeError(f"{flag} {path} is part of the run {run} (ganforge keeps its records there, and "
                            f"--force does not replace them); write it outside the run's records")


def check_folder_out(out: str | os.PathLike, *, flag: str = "--out", input_flag: str = "--input") -> Path:
    """One line when a folder output is named like a file (``out.npy``, ``big.png``) and is not already a
    folder: a folder input gives one file per image, so such a name would become a folder of that name;
    and when it is one of a run's records."""
    out = Path(out)
    check_not_record(out, flag=flag)
    if out.suffix.lower() in FILE_SUFFIXES and not out.is_dir():
        raise GanforgeError(f"a folder {input_flag} needs a folder {flag}, got {out}; name a folder, e.g. "
                            f"{flag} {out.with_suffix('')}")
    return out


def _same(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    return False


def check_not_input(out: str | os.PathLike, source: str | os.PathLike, *, targets: Iterable[str | os.PathLike] = (),
                    inputs: Iterable[str | os.PathLike] = (), flag: str = "--out", input_flag: str = "--input") -> None:
    """One line when writing ``out`` (and ``targets``, the files it stands for) would replace what the
    command reads: ``out`` is ``source``, a folder holding it, or one of its files (``inputs``). Checked
    before ``--force`` is looked at: --force allows replacing an old output, never the input being read.
    An empty ``out`` is named as such first (``Path('')`` would read as the current folder)."""
    out, source = Path(nonempty(out, flag=flag)), Path(source)
    kind = "folder" if source.is_dir() else "file"
    if _same(out, source):
        raise GanforgeError(f"{flag} is the {input_flag} {kind} {source}; writing there would replace what is being "
                            f"read, so choose another {flag}")
    with contextlib.suppress(OSError):
        if out.resolve() in source.resolve().parents:
            raise GanforgeError(f"{flag} is the folder holding the {input_flag} {kind} {source}; writing there could "
                                f"replace what is being read, so choose another {flag}")
        if source.is_dir() and source.resolve() in out.resolve().parents:
            raise GanforgeError(f"{flag} {out} is inside the {input_flag} folder {source}, so the outputs would join "
                                f"the images it holds (and be read as inputs next time); choose a {flag} outside it")
    read = [Path(p) for p in inputs]
    for target in targets:
        for p in read:
            if _same(Path(target), p):
                raise GanforgeError(f"{flag} {out} would write {target}, which is an {input_flag} file being read; "
                                    f"choose another {flag}")


def check_file(path: str | os.PathLike, *, flag: str, force: bool = False,
               suffixes: Sequence[str] | None = None) -> Path:
    """Check that ``path`` may be written as a new file (or replaced, with ``force``); return it.

    Nothing is created. ``flag`` is the option that named the path, for the message.
    """
    path = named(path, flag=flag, suffix=suffixes[0] if suffixes else Path(os.fspath(path)).suffix)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise GanforgeError(f"{flag} must name a {' or '.join(suffixes)} file, got '{path}'")
    check_not_record(path, flag=flag)
    if path.is_dir():
        example = path / ("out" + (suffixes[0] if suffixes else path.suffix))  # a name this command accepts
        raise GanforgeError(f"{flag} {path} is a directory; give a file name inside it, e.g. {example}")
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
    if not os.access(base, os.W_OK | os.X_OK) or not _can_create_in(base):
        raise GanforgeError(f"{flag}: cannot write in {base} (permission denied or read-only); choose a writable "
                            f"place for {flag}")
    return directory


def _can_create_in(folder: Path) -> bool:
    """Whether a file can really be made in ``folder``: ``os.access`` says yes to root everywhere, even in
    /sys or /proc, so an unnamed temporary file is made and dropped (nothing is left behind)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def check_space(path: str | os.PathLike, nbytes: int, *, flag: str, free: int | None = None) -> None:
    """Refuse before starting if ``nbytes`` (plus a margin) will not fit where ``path`` goes
    (``free`` overrides the measured free space, for tests). A folder that cannot be written is reported
    as that first: a read-only file system such as /sys reports 0 bytes free, which would mislead."""
    check_dir_writable(Path(path).parent, flag=flag)
    base = _existing_ancestor(Path(path).parent)
    if free is None:
        try:
            free = shutil.disk_usage(base).free
        except OSError:
            return  # cannot tell; the write itself will report a full disk
    if nbytes + SPARE_BYTES > free:
        raise GanforgeError(f"{flag} {path} needs {human_bytes(nbytes)} but only {human_bytes(free)} is free on {base}; free "
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


def appeared(path: str | os.PathLike, flag: str) -> str:
    """The line for an output another process wrote while this one worked (the race this module settles)."""
    return (f"{path} appeared while this command ran (another process wrote it); it was left as it is and this "
            f"result was not kept. Choose another {flag}, or pass --force to replace it")


def _put_in_place(temp: Path, target: Path, replace: bool) -> None:
    """``temp`` becomes ``target``: replacing it (``replace``), or only if it is still absent.

    "Only if absent" is ``os.link`` (atomic, fails with EEXIST if the target exists) and then the
    temporary name is dropped. On a file system without hard links, the target is claimed with
    ``O_CREAT | O_EXCL`` (equally exclusive) and the finished file renamed over the claim.
    """
    if replace:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        os.replace(temp, target)
        return
    temp.unlink()


@contextlib.contextmanager
def atomic(*paths: str | os.PathLike, flag: str = "--out", force: bool | None = None) -> Iterator[list[Path]]:
    """Yield temporary paths to write; on success put each onto its target, else delete them all.

    ``force`` True: targets are replaced. False: a target must be absent when it is put in place (one
    that appeared meanwhile is left alone and the block ends in one line, :func:`appeared`). None (the
    callers that checked with :func:`check_file` before): a target that existed when the block began
    was allowed by that check and is replaced, one that did not must still be absent.

    The targets appear together at the end (never one without the others: if one cannot be claimed,
    those already put in place by this block are taken back); Ctrl-C, an exception or a full disk
    leaves the targets as they were.
    """
    targets = [Path(p) for p in paths]
    if len({os.path.abspath(t) for t in targets}) < len(targets):  # one temp name twice: a file lost
        raise GanforgeError(f"{flag} would write the same file twice in one step; give each output its own name")
    temps = [_temp_for(p) for p in targets]
    replace = [bool(force) if force is not None else (t.exists() or t.is_symlink()) for t in targets]
    made: list[Path] = []  # folders this block created, removed again if it fails
    placed: list[tuple[Path, Path]] = []
    current = targets[0] if targets else Path(".")
    done = False
    try:
        for target in targets:
            current = target
            for folder in reversed([target.parent, *target.parent.parents]):
                if not folder.exists():
                    with contextlib.suppress(FileExistsError):  # another process made it: not ours to remove
                        folder.mkdir()
                        made.append(folder)
        current = targets[0] if targets else current
        yield temps
        for temp, target, rep in zip(temps, targets, replace):
            current = target
            try:
                _put_in_place(temp, target, rep)
            except FileExistsError:
                raise GanforgeError(appeared(target, flag)) from None
            placed.append((temp, target))
        done = True
    except OSError as exc:
        raise GanforgeError(describe_os_error(exc, current, flag)) from None
    finally:
        if not done:
            for _, target in placed:  # claimed by this block a moment ago: take them back
                if not replace[targets.index(target)]:
                    with contextlib.suppress(OSError):
                        target.unlink()
        for temp in temps:
            with contextlib.suppress(OSError):
                temp.unlink()
        if not done:
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()


def write_text(path: str | os.PathLike, text: str, *, flag: str, force: bool | None = None) -> Path:
    """Write a small text file by the rule (checked by the caller with :func:`check_file`)."""
    with atomic(path, flag=flag, force=force) as (temp,):
        temp.write_text(text)
    return Path(path)


def npy_bytes(n: int, shape: Sequence[int], dtype: np.dtype | type) -> int:
    """The size of an ``(n, *shape)`` .npy file, header included (for :func:`check_space`)."""
    return int(n) * int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize + 128


def numbered(chunks: Iterable[tuple[np.ndarray, np.ndarray | None]], n: int,
             on_chunk: Callable[[int], None] | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """``(start, x, y)`` for each chunk of samples, ``start`` the index of its first sample; each chunk's
    size is reported to ``on_chunk`` once written, and a total other than ``n`` is an error (a file that
    promised ``n`` samples must hold them). Every writer of streamed samples (.npy, .npz, PNG folders)
    loops through this."""
    done = 0
    for x, y in chunks:
        yield done, x, y
        done += len(x)
        if on_chunk is not None:
            on_chunk(len(x))
    if done != n:
        raise RuntimeError(f"expected {n} samples, the generator gave {done}")


def stream_npy(path: Path, n: int, shape: Sequence[int], dtype: np.dtype | type,
               chunks: Iterable[tuple[np.ndarray, np.ndarray | None]], *, labels_path: Path | None = None,
               flag: str = "--out", on_chunk: Callable[[int], None] | None = None, force: bool | None = None) -> int:
    """Write ``n`` samples arriving in chunks straight to disk (``np.lib.format.open_memmap``), so memory
    holds one chunk however large ``n`` is; labels, when given, go to ``labels_path``. Both files appear
    only when complete (see :func:`atomic`). Returns the number written."""
    targets = [path] + ([labels_path] if labels_path is not None else [])
    with atomic(*targets, flag=flag, force=force) as temps:
        out = np.lib.format.open_memmap(temps[0], mode="w+", dtype=dtype, shape=(n, *shape))
        labels = (np.lib.format.open_memmap(temps[1], mode="w+", dtype=np.int64, shape=(n,))
                  if labels_path is not None else None)
        try:
            for start, x, y in numbered(chunks, n, on_chunk):
                out[start:start + len(x)] = x
                if labels is not None and y is not None:
                    labels[start:start + len(x)] = y
            out.flush()
            if labels is not None:
                labels.flush()
        finally:
            del out, labels  # close the maps before the files are moved or removed
    return n


def strict_json(record: dict) -> dict:
    """``record`` as strict JSON takes it: a NaN or infinite value (a diverged loss, an undefined KID spread) as
    null. Python's json writes them as bare ``NaN``/``Infinity``, which other JSON readers (jq, browsers)
    reject; the package's readers take numbers only, so they skip a null as they skipped a NaN."""
    return {k: _finite_or_none(v) for k, v in record.items()}


def _finite_or_none(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value
