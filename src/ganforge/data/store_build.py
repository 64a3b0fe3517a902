"""Building a store (see :mod:`ganforge.data.store`) from a folder, a zip or an .npz, streaming.

Two passes over the source, each holding one image at a time: the first reads headers only (sizes,
modes, EXIF rotation, bombs) so that every refusal a whole dataset deserves (empty, one image, mixed
channel counts, mixed sizes, non-square) comes before any pixel is decoded; the second decodes,
converts and appends fixed-size chunks to the image file. Everything is written into
``DEST.partial-<pid>`` and renamed to ``DEST`` only when complete, with ``dataset.json`` written
last, so an interrupted build (Ctrl-C, SIGTERM, a kill) never leaves something that opens as a
finished store; partial folders of dead processes are removed by the next build (only when they hold
nothing but what a build writes: a folder of the user's that happens to share the name is left alone).

Nothing of the user's is ever replaced (:func:`ganforge.data.store.check_dest`): ``--force`` replaces a store
only when DEST holds nothing but the files a build writes (:data:`~ganforge.data.store.STORE_FILES`), and where
DEST goes is checked for writing before the source is read, so a bad ``--out`` costs one line, not a header
pass over the whole source.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ganforge import progress
from ganforge.data import sources
from ganforge.data.labels_file import read_labels_file
from ganforge.data.store import (FORMAT, IMAGES, LABELS, MANIFEST, MEAN, PARTIAL, VERSION, check_dest, clean_stale,
                                 put_in_place)
from ganforge.errors import DataError

CROPS = ("center", "wide", "none")
CHUNK = 256  # images per write: big enough for sequential writes, small enough for flat memory
# Pillow's own limit (about 89 M pixels): above it a file is refused as a decompression bomb.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
CLI_OPTIONS = ("resolution", "crop", "channels", "labels")  # the options ganforge dataset takes, each as --NAME VALUE
LABEL_MODES = ("auto", "subfolders", "none")  # any other --labels is a JSON file


@dataclass(frozen=True)
class BuildOptions:
    """How a source becomes a store; ``flags`` name the user's knobs in error messages (CLI or config)."""

    resolution: int | None = None
    crop: str = "none"
    labels: str = "auto"  # auto (subfolders when every image is in one; an .npz's y) | subfolders | none | FILE.json
    channels: int | None = None
    min_images: int = 2  # a GAN needs more than one image; folder: (tests, demos) allows one
    promote_grey: bool = False  # mixed grey/RGB: make RGB (folder:'s rule) instead of refusing
    every_file: bool = True  # list non-image files as "not an image" (folder: looks at image suffixes only)
    max_pixels: int = MAX_PIXELS
    dedupe: bool = True  # drop exact duplicates (by bytes), keeping the first: a repeat over-weights an image
    upscale_small: bool = False  # resize images smaller than the resolution up instead of skipping them
    # How a message names each option: the CLI's flags here, folder: names its --set keys.
    flags: tuple[tuple[str, str], ...] = (("resolution", "--resolution {}"), ("channels", "--channels {}"),
                                          ("crop", "--crop {}"), ("labels", "--labels {}"))

    def flag(self, name: str, value: object) -> str:
        return dict(self.flags)[name].format(value)

    def record(self) -> dict:
        """The options that decide the store's bytes (recorded in dataset.json and in the cache key)."""
        d = asdict(self)
        d.pop("flags")
        return d


def rebuild_command(dest: str | Path, meta: dict) -> str:
    """The ``ganforge dataset`` command that builds the store ``dest`` again as it was built, from its
    dataset.json (``meta``): its source and every option the command takes that was not the default, each
    quoted for a shell. A store built (through :func:`build_store`) with an option the command does not take
    gets a note naming it, since the command would then make another store."""
    recorded = meta.get("options") if isinstance(meta.get("options"), dict) else {}
    default = BuildOptions().record()
    source = meta.get("source")
    argv = ["ganforge", "dataset", str(source) if source else "SRC", "--out", str(dest)]
    for name in CLI_OPTIONS:
        value = recorded.get(name, default[name])
        if value is not None and value != default[name]:
            argv += [f"--{name}", str(value)]
    command = shlex.join(argv + ["--force"])
    shape = meta.get("shape")
    n = shape[0] if isinstance(shape, list) and shape and isinstance(shape[0], int) else 0
    other = [f"{name}={json.dumps(recorded[name])}" for name in default
             if name not in CLI_OPTIONS and name in recorded and recorded[name] != default[name]
             and not (name == "min_images" and n >= default[name])]  # min_images only refuses a source
    if other:
        command += (f" (note: it was built with {', '.join(other)}, which ganforge dataset does not set; "
                    f"build_store with the options in {Path(dest) / MANIFEST} makes the same store)")
    return command


@dataclass
class Report:
    """What a build did: written, skipped by reason (each file named), duplicates, classes, source sizes."""

    written: int = 0
    skipped: dict[str, list[str]] = field(default_factory=lambda: {r: [] for r in sources.REASONS})
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (dropped, the first copy kept)
    classes: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)  # "WxH" -> files

    def skipped_examples(self, shown: int = 3) -> list[str]:
        """One "reason: a.png, b.png, c.png, ..." per reason that skipped files, for an error line (after an
        error the report itself is never printed)."""
        return [f"{r}: {', '.join(v[:shown])}{', ...' if len(v) > shown else ''}" for r, v in self.skipped.items() if v]

    def lines(self) -> list[str]:
        out = [f"images written: {self.written}"]
        for reason, names in self.skipped.items():
            if names:
                out.append(f"skipped, {reason}: {len(names)}")
                out += [f"  {n}" for n in names]
        if self.duplicates:
            out.append(f"exact duplicates dropped: {len(self.duplicates)}")
            out += [f"  {a} (same bytes as {b})" for a, b in self.duplicates]
        if self.classes:
            out.append("classes: " + ", ".join(f"{c} {n}" for c, n in self.classes.items()))
        top = sorted(self.sizes.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{s} x{n}" for s, n in top[:8]) + (f", ... ({len(top) - 8} more sizes)" if len(top) > 8 else "")
        out.append(f"source sizes: {shown}")
        return out


def _labels(kept: list[sources.Item], items: list[sources.Item],
            options: BuildOptions) -> tuple[list[int] | None, list[str] | None, bool]:
    """One label per usable image of ``kept`` (None: unlabelled), the class names, and whether the classes are
    names (a name no image was written under is then dropped, see :func:`_compact`) rather than indices (class k
    is k). Worked out on the usable images only: a README, the labels file or an unreadable file beside the
    images is no class and needs no label. ``items`` (every listed file) decides only the number of classes of
    indices, which are kept as they are."""
    mode = options.labels
    if mode == "none":
        return None, None, False
    if mode == "auto":
        if items and all(i.label is not None for i in items):
            n = max(i.label for i in items) + 1
            return [i.label for i in kept], [str(c) for c in range(n)], False
        mode = "subfolders" if kept and all(i.folder is not None for i in kept) else "none"
        if mode == "none":
            return None, None, False
    if mode == "subfolders":
        loose = [i.name for i in kept if i.folder is None]
        if loose:
            raise DataError(f"{options.flag('labels', 'subfolders')}, but {loose[0]} is not inside a class folder; "
                            f"move every image into a class folder or use {options.flag('labels', 'none')}")
        classes = sorted({i.folder for i in kept})
        index = {c: k for k, c in enumerate(classes)}
        return [index[i.folder] for i in kept], classes, True
    return read_labels_file(kept, Path(mode).expanduser(), listed=items)


def _plan(items, options: BuildOptions, report: Report, where: str):
    """The header pass: (usable items with their labels, channels, resolution), or a one-line refusal."""
    headers = {}
    for item in progress.track(items, len(items), "reading headers", unit="file"):
        try:
            headers[item.name] = sources.read_header(item, options.max_pixels)
        except sources.Unusable as why:
            report.skipped[why.reason].append(item.name)
    for h in headers.values():
        key = f"{h.size[0]}x{h.size[1]}"
        report.sizes[key] = report.sizes.get(key, 0) + 1
    if not headers:
        bad = sum(len(v) for v in report.skipped.values())
        raise DataError(f"no usable images in {where}" + (f" ({bad} file(s) skipped: "
                        f"{', '.join(f'{r} {len(v)}' for r, v in report.skipped.items() if v)})" if bad else "")
                        + "; point it at a folder, zip or .npz of images")
    channels = options.channels
    if channels is None:
        kinds = {h.channels for h in headers.values()}
        if len(kinds) > 1 and not options.promote_grey:
            grey = next(n for n, h in headers.items() if h.channels == 1)
            rgb = next(n for n, h in headers.items() if h.channels == 3)
            raise DataError(f"{where} mixes grey and colour images ({grey} is grey, {rgb} is colour); "
                            f"pass {options.flag('channels', 1)} or {options.flag('channels', 3)}")
        channels = max(kinds)
    resolution = options.resolution
    if resolution is not None and not options.upscale_small:
        _drop_small(headers, resolution, options.crop, report)
    if options.crop == "none":
        odd = next((n for n, h in headers.items() if h.size[0] != h.size[1]), None)
        if odd is not None:
            w, h = headers[odd].size
            raise DataError(f"{odd} is {w}x{h}, not square; pass {options.flag('crop', 'center')} (or wide) "
                            "to crop every image to a square")
    if resolution is None:
        def side(h):
            return min(h.size) if options.crop == "center" else h.size[0]

        sides = {side(h) for h in headers.values()}
        if len(sides) > 1:  # name the first image and the first that really differs from it
            first = next(iter(headers.items()))
            other = next((n, h) for n, h in headers.items() if side(h) != side(first[1]))
            eg = ", ".join(f"{n} is {h.size[0]}x{h.size[1]}" for n, h in (first, other))
            raise DataError(f"images in {where} differ in size ({eg}); pass a resolution to resize them all, "
                            f"e.g. {options.flag('resolution', 64)}")
        resolution = sides.pop() if sides else None
        if options.crop == "wide" and resolution is not None:  # one width, but a band lower than R/2 is upsampled
            _drop_small(headers, resolution, options.crop, report)
    kept = [i for i in items if i.name in headers]
    if len(kept) < options.min_images:
        skipped = ", ".join(report.skipped_examples())
        raise DataError(f"{where} has {len(kept)} usable image(s){f' (skipped {skipped})' if skipped else ''}; "
                        f"a dataset needs at least {options.min_images}")
    return kept, channels, resolution


def _drop_small(headers: dict, resolution: int, crop: str, report: Report) -> None:
    """Skip as "too small" what would be upsampled to ``resolution``: a short side below R (``center``), or for
    ``wide`` a width below R or a height below R/2 (:func:`sources.wide_width`)."""
    def side(w, h):
        return sources.wide_width(w, h) if crop == "wide" else min(w, h)

    for name, h in list(headers.items()):
        if side(*h.size) < resolution:
            report.skipped["too small"].append(name)
            del headers[name]


def build_store(src: str | Path, dest: str | Path, options: BuildOptions, *, force: bool = False,
                source_key: str | None = None) -> Report:
    """Write the store ``dest`` from ``src`` and return the report; ``dest`` appears only when complete."""
    if options.crop not in CROPS:
        raise DataError(f"{options.flag('crop', repr(options.crop))} is not one of {', '.join(CROPS)}")
    labels_file = None
    if options.labels not in LABEL_MODES:
        labels_file = Path(options.labels).expanduser()
        if not labels_file.exists():  # a typo of a mode ("subfolder") more often than a missing file
            raise DataError(f"{options.flag('labels', options.labels)} is neither a labels file (there is no such "
                            f"file) nor one of the modes {', '.join(LABEL_MODES)}; give one of those or the path "
                            "of a JSON file of labels")
    dest = check_dest(dest, force)
    where = str(src)
    # DEST inside SRC (and its partial folders) is no part of the source, nor is the labels file.
    leave_out = [dest, *dest.parent.glob(dest.name + PARTIAL + "*"), *([labels_file] if labels_file else [])]
    items = sources.list_items(src, every_file=options.every_file, leave_out=leave_out)
    report = Report()
    kept, channels, resolution = _plan(items, options, report, where)
    labels, classes, named = _labels(kept, items, options)
    label_of = dict(zip((i.name for i in kept), labels)) if labels is not None else None

    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(dest)
    partial = dest.parent / f"{dest.name}{PARTIAL}{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        meta = _write(partial, kept, label_of, classes, channels, resolution, options, report)
        if label_of is not None and named and len(report.classes) < len(classes):
            classes = _compact(partial, classes, meta, report)
        recorded = options.record()
        if options.labels not in LABEL_MODES:  # a labels file, as a path that works from anywhere (rebuild_command)
            recorded["labels"] = str(Path(options.labels).expanduser().resolve())
        meta.update(source=str(Path(src).expanduser().resolve()), options=recorded, classes=classes,
                    source_key=source_key, counts={"written": report.written,
                                                   "skipped": {r: len(v) for r, v in report.skipped.items()},
                                                   "duplicates": len(report.duplicates)},
                    skipped_files=report.skipped, duplicate_files=report.duplicates,
                    class_histogram=report.classes, size_histogram=report.sizes)
        (partial / MANIFEST).write_text(json.dumps(meta, indent=1))  # last: its presence means complete
        put_in_place(partial, dest)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return report


def _hash_chunk(content, images: bytes, labels: bytes) -> None:
    """The store's content hash, one chunk at a time: its images' bytes, then its labels' (empty if unlabelled).
    The one definition for the build and for ``_compact``'s rehash, so the two can never disagree."""
    content.update(images)
    content.update(labels)


def _write(out: Path, items, label_of, classes, channels: int, resolution: int, options: BuildOptions, report: Report) -> dict:
    """The decode pass: chunks appended to the image (and label) files, hashed as they go."""
    content = hashlib.sha256()
    seen: dict[bytes, str] = {}
    mean = np.zeros((channels, resolution, resolution), np.float64)
    chunk, ys, written = [], [], Counter()
    with open(out / IMAGES, "wb") as fx, open(out / LABELS, "wb") as fy, \
            progress.bar(len(items), "writing", unit="image") as bar:
        def flush():
            if chunk:
                block = np.ascontiguousarray(np.stack(chunk))
                fx.write(block.tobytes())
                mean.__iadd__(block.sum(0, dtype=np.float64))
                lab = np.asarray(ys, np.int64).tobytes() if label_of is not None else b""
                fy.write(lab)
                _hash_chunk(content, block.tobytes(), lab)
                chunk.clear()
                ys.clear()

        for item in items:
            bar.update(1)
            if options.dedupe:
                try:
                    digest = hashlib.blake2b(item.raw(), digest_size=16).digest()
                except sources.Unusable as why:  # read fine in the header pass, not now (a zip member)
                    report.skipped[why.reason].append(item.name)
                    continue
                if digest in seen:
                    report.duplicates.append((item.name, seen[digest]))
                    continue
                seen[digest] = item.name
            try:
                chunk.append(sources.decode(item, options.max_pixels, channels, resolution, options.crop))
            except sources.Unusable as why:
                report.skipped[why.reason].append(item.name)
                continue
            report.written += 1
            if label_of is not None:
                ys.append(label_of[item.name])
                written[label_of[item.name]] += 1
            if len(chunk) == CHUNK:
                flush()
        flush()
    if label_of is None:
        (out / LABELS).unlink()
    if report.written < options.min_images:  # the report is not printed after an error: the line says why
        why = report.skipped_examples()
        if report.duplicates:
            a, b = report.duplicates[0]
            why.append(f"{len(report.duplicates)} exact duplicate(s) dropped, e.g. {a} (same bytes as {b})")
        because = f" ({'; '.join(why)})" if why else ""
        raise DataError(f"only {report.written} distinct image(s) could be written{because}; a dataset needs at "
                        f"least {options.min_images}")
    if label_of is not None:
        report.classes = {classes[k]: written[k] for k in sorted(written)}
    np.save(out / MEAN, (mean / report.written).astype(np.float32))
    return {"format": FORMAT, "version": VERSION, "shape": [report.written, channels, resolution, resolution],
            "labels": label_of is not None, "content_sha256": content.hexdigest()}


def _compact(out: Path, classes: list[str], meta: dict, report: Report) -> list[str]:
    """Drop the class names no image was written under (every image of a class folder a duplicate or failing to
    decode), renumbering the labels and hashing the store again as a build would have, chunk by chunk: a class
    with no image would be a class a conditional model is asked to draw and never saw."""
    used = [k for k, c in enumerate(classes) if c in report.classes]
    remap = np.full(len(classes), -1, np.int64)
    remap[used] = np.arange(len(used))
    y = remap[np.fromfile(out / LABELS, np.int64)]
    y.tofile(out / LABELS)
    n, c, r, _ = meta["shape"]
    content = hashlib.sha256()
    with open(out / IMAGES, "rb") as fx:
        for start in range(0, n, CHUNK):
            _hash_chunk(content, fx.read(c * r * r * min(CHUNK, n - start)), y[start:start + CHUNK].tobytes())
    meta["content_sha256"] = content.hexdigest()
    return [classes[k] for k in used]
