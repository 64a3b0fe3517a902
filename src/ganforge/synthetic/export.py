"""Exporting a run's samples as a dataset: an .npz with ``x``/``y``, or PNG folders by class.

Samples are generated and written a chunk at a time, so memory holds one chunk (plus 8 bytes
a label) whether ``n`` is a thousand or a million:

- **npz**: the ``x.npy`` member of the zip archive is written as a stream (``zipfile``'s
  writable member, stored uncompressed): the .npy header with the final shape first, then each
  chunk's bytes as it comes. ``y.npy`` follows from the labels kept in memory. ``np.load``
  reads the result like any ``np.savez`` file (and ``npz:FILE`` trains on it).
- **folder**: ``DIR/<class>/<index>.png`` (flat ``DIR/<index>.png`` for an unconditional run),
  the layout ``folder:DIR`` reads back with the same labels.

The rules of :mod:`ganforge.outputs` hold: every path and the free space are checked before
the first sample, an existing output is refused without ``--force``, and the output appears
under its name only when complete: an .npz through a temporary file put in place only if the
name is still free (or replaced, with ``--force``), a folder built under a hidden
``.NAME.partial-PID`` name and renamed at the end. A folder export lists every file it wrote in
its manifest (:data:`ganforge.outputs.MANIFEST`); ``--force`` replaces an earlier folder only when
everything in it is listed there, so a file the user put inside is never deleted. A full disk or
Ctrl-C removes the partial output, so nothing half-written ever looks complete; the datasheet
(:mod:`.datasheet`) and the manifest, written last, mark a finished export.

``--out x.npy`` (or another file name ganforge does not write as an export) is refused: an export
is an .npz or a folder, and a folder named like a file would mislead whoever finds it.
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganforge import outputs
from ganforge.data.images import save_png
from ganforge.errors import GanforgeError
from ganforge.runs.run import Run

CHUNK = 1000  # samples generated and written at a time
DATASHEET = "datasheet"  # datasheet.json / datasheet.md inside a folder export; FILE.datasheet.* beside an npz
PNG_OVERHEAD = 200  # bytes of PNG framing at most beyond the raw pixels, for the free-space check
Chunks = Iterable[tuple[np.ndarray, np.ndarray | None]]
# Names that say "a file": a folder export under such a name would mislead (`--out x.npy` is a folder otherwise).
FILE_SUFFIXES = (".npy", ".png", ".jpg", ".jpeg", ".json", ".zip", ".tar", ".gz", ".pt", ".pth", ".safetensors",
                 ".csv", ".txt", ".h5", ".pkl")


@dataclass
class ExportRequest:
    """What to export, checked before any sample is drawn."""

    out: Path
    n: int
    seed: int = 0
    class_balanced: bool = False
    truncation: float | None = None
    force: bool = False
    chunk: int = CHUNK

    @property
    def kind(self) -> str:
        return "npz" if self.out.suffix.lower() == ".npz" else "folder"

    def datasheet_paths(self) -> tuple[Path, Path]:
        if self.kind == "npz":
            stem = self.out.with_suffix("")
            return Path(f"{stem}.{DATASHEET}.json"), Path(f"{stem}.{DATASHEET}.md")
        return self.out / f"{DATASHEET}.json", self.out / f"{DATASHEET}.md"


def check_request(req: ExportRequest) -> None:
    """The one-line refusals that need no run: sample count, paths."""
    if req.n <= 0:
        raise GanforgeError(f"--n must be a positive number of samples, got {req.n}")
    if req.chunk <= 0:
        raise GanforgeError(f"--chunk must be a positive number of samples, got {req.chunk}")
    if req.truncation is not None and req.truncation <= 0:
        raise GanforgeError(f"--truncation must be > 0 (a threshold on |z|), got {req.truncation}")
    out = outputs.named(req.out, flag="--out")
    if req.kind == "npz":
        outputs.check_file(req.out, flag="--out", force=req.force, suffixes=(".npz",))
        for path in req.datasheet_paths():
            outputs.check_file(path, flag="--out", force=req.force)
        return
    if out.suffix.lower() in FILE_SUFFIXES:
        raise GanforgeError(f"--out {out}: export writes an .npz file (arrays x and y) or a folder of PNGs, not a "
                            f"{out.suffix} file; use --out {out.with_suffix('.npz')} or a folder name such as "
                            f"{out.with_suffix('')}/ (`ganforge sample` writes a bare .npy)")
    if out.exists() and not out.is_dir():
        raise GanforgeError(f"--out {out} is a file; give a folder name (or a .npz file name) for the export")
    outputs.check_not_record(out, flag="--out")  # a run directory (or its checkpoints/) is never an export
    if out.is_dir() and any(out.iterdir()):
        if not req.force:
            raise GanforgeError(f"{out} already exists; pass --force to replace it or choose another --out")
        outputs.check_replaceable(out, flag="--out")
    outputs.check_dir_writable(out.parent, flag="--out")


def sampling_options(run: Run, req: ExportRequest) -> dict:
    """The keywords for the run's ``sample_chunks``: one line for what this run's model cannot do."""
    options: dict = {}
    if req.class_balanced:
        if not run.config.model.g.conditional or not run.num_classes:
            raise GanforgeError(f"--class-balanced needs a class-conditional run, and {run.path} was trained "
                                f"unconditionally (model.g has no conditioning); leave --class-balanced out")
        k = run.num_classes
        if req.n % k:  # classes cycled 0..k-1: the last ones would get one sample fewer (or none)
            raise GanforgeError(f"--n {req.n} is not a multiple of the {k} classes, so --class-balanced cannot "
                                f"give each class as many samples; use e.g. --n {-(-req.n // k) * k}")
        options["classes"] = list(range(k))
    if req.truncation is not None:
        params = inspect.signature(run.model.sample_chunks).parameters
        if "truncation" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            raise GanforgeError(f"--truncation: the {run.config.recipe} model of {run.path} does not take a "
                                f"truncation; leave --truncation out")
        options["truncation"] = req.truncation
    return options


def bytes_needed(req: ExportRequest, shape: tuple[int, ...], dtype: np.dtype, labels: bool, block: int) -> int:
    raw = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if req.kind == "npz":
        return outputs.npy_bytes(req.n, shape, dtype) + (8 * req.n + 128 if labels else 0) + 4096
    return req.n * max(block, raw + PNG_OVERHEAD)  # a small file still takes a whole block


def block_size(path: Path) -> int:
    """The file system's block size where ``path`` will go (a PNG smaller than it still uses one)."""
    for parent in (path, *path.parents):
        if parent.exists():
            with contextlib.suppress(OSError, AttributeError):
                return os.statvfs(parent).f_frsize or 4096
            break
    return 4096


def write_npz(path: Path, n: int, shape: tuple[int, ...], dtype: np.dtype, chunks: Chunks, labels: bool,
              on_chunk: Callable[[int], None] | None = None) -> np.ndarray | None:
    """Stream ``n`` samples into ``path`` as an .npz (x, and y when ``labels``); returns the labels."""
    y_all = np.empty(n, np.int64) if labels else None
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": (n, *shape)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            for start, x, y in outputs.numbered(chunks, n, on_chunk):
                member.write(np.ascontiguousarray(x, dtype=dtype).tobytes())
                if y_all is not None:
                    y_all[start:start + len(x)] = y
        if y_all is not None:
            with archive.open("y.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, y_all)
    return y_all


def write_folder(root: Path, n: int, chunks: Chunks, on_chunk: Callable[[int], None] | None = None,
                 written: list[str] | None = None) -> np.ndarray | None:
    """``root/<class>/<index>.png`` (or ``root/<index>.png`` without labels); returns the labels. Each
    file's name relative to ``root`` is appended to ``written`` (for the manifest)."""
    y_all, made = None, set()
    width = max(7, len(str(n - 1)))
    for start, x, y in outputs.numbered(chunks, n, on_chunk):
        if y is not None and y_all is None:
            y_all = np.empty(n, np.int64)
        for i, image in enumerate(x):
            folder = root / str(int(y[i])) if y is not None else root
            if folder not in made:
                folder.mkdir(parents=True, exist_ok=True)
                made.add(folder)
            save_png(image, folder / f"{start + i:0{width}d}.png")
            if written is not None:
                written.append(str((folder / f"{start + i:0{width}d}.png").relative_to(root)))
        if y_all is not None:
            y_all[start:start + len(x)] = y
    return y_all


@contextlib.contextmanager
def folder_in_place(out: Path, force: bool) -> Iterator[Path]:
    """A hidden folder to fill, renamed to ``out`` when the block ends without error, removed otherwise.

    An earlier export at ``out`` (with --force) is moved aside first, checked again there against its
    manifest (a file the user added meanwhile puts it back and ends in one line), and deleted only once
    the new one is in place, so a failure leaves the old export as it was. Without --force, a folder
    that appeared at ``out`` meanwhile is left alone: the rename onto a non-empty folder fails, and
    that is said in one line.
    """
    out = outputs.named(out, flag="--out")
    temp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    aside = out.with_name(f".{out.name}.old-{os.getpid()}")
    moved = placed = False
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        temp.mkdir()
        yield temp
        if out.exists() and any(out.iterdir()):
            if not force:
                raise GanforgeError(outputs.appeared(out, "--out"))
            outputs.check_replaceable(out, flag="--out")
            os.replace(out, aside)
            moved = True
            if outputs.foreign_files(aside):  # a file added between the check and the move
                os.replace(aside, out)
                moved = False
                outputs.check_replaceable(out, flag="--out")
        try:
            os.replace(temp, out)
            placed = True
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise GanforgeError(outputs.appeared(out, "--out")) from None
            raise
    except OSError as exc:
        raise GanforgeError(outputs.describe_os_error(exc, out, "--out") + "; the partial export was removed") from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        if moved and placed:
            shutil.rmtree(aside, ignore_errors=True)
        elif moved:  # the new one never arrived: the old export goes back
            with contextlib.suppress(OSError):
                os.replace(aside, out)


def class_counts(labels: np.ndarray | None, num_classes: int | None) -> dict[str, int] | None:
    if labels is None:
        return None
    return {str(c): int(k) for c, k in enumerate(np.bincount(labels, minlength=num_classes or 0))}


def read_audit(path: str | None, run_dir: str | None = None) -> dict | None:
    """``export --audit PATH``: the image audit ``ganforge audit --out`` wrote, or one line saying what the file is
    instead. An audit written for another (a table) run has no ``dcr`` for images but names its run: the line
    names that run, rather than calling the file no audit at all."""
    if path is None:
        return None
    fix = f"ganforge audit {run_dir or 'RUN'} --out audit.json"
    try:
        audit = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise GanforgeError(f"--audit {path} cannot be read as an audit JSON ({e}); write it with `{fix}`") from None
    if isinstance(audit, dict) and "dcr" not in audit and isinstance(audit.get("run"), dict) \
            and (audit["run"].get("path") or audit["run"].get("id")):
        named = audit["run"]
        kind = " (a table run's audit: rows, not images)" if "exact_copy_rate" in audit else ""
        raise GanforgeError(f"--audit {path} is an audit of another run ({named.get('path', '?')}, id "
                            f"{named.get('id', '?')}){kind}, not of {run_dir or 'this run'}; audit this one: {fix}")
    if not isinstance(audit, dict) or "dcr" not in audit:
        raise GanforgeError(f"--audit {path} is not an audit written by `ganforge audit --out`; write one with `{fix}`")
    return audit


__all__ = ["CHUNK", "DATASHEET", "FILE_SUFFIXES", "ExportRequest", "block_size", "bytes_needed", "check_request", "class_counts",
           "folder_in_place", "read_audit", "sampling_options", "save_png", "write_folder", "write_npz"]
