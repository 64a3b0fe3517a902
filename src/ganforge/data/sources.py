"""What ``ganforge dataset`` (and the ``folder:`` cache) reads: a folder tree, a zip or an .npz, one item at a time.

Every source is a sorted list of :class:`Item`\\ s that open lazily, so a pass over a source holds one
image at a time whatever its size. Decoding is Pillow's, with the conversions users' files need:
EXIF orientation applied (:func:`ganforge.data.folder.upright`, as every ganforge image reader does),
transparency composited on white, 16-bit and palette images mapped to 8 bits, CMYK and YCbCr to RGB. A file that cannot be used is classified by
:class:`Unusable` (its ``reason`` is one of :data:`REASONS`) rather than raised, so a build reports every
bad file at the end instead of stopping at the first.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
import zlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganforge.data.folder import GREY_MODES, IMAGE_SUFFIXES, _flatten_alpha, _to_8bit, find_images, upright, upright_size
from ganforge.data.images import LANCZOS, crop_resize, to_array
from ganforge.data.npz import DAMAGED, X_KEYS, _check_magic, _images_nchw, _labels, _to_uint8
from ganforge.errors import DataError, warn

# Why a file is skipped, in the order the report lists them. "unreadable": the system refused the read (an I/O
# error, no permission, deleted between the passes); "broken link": a symbolic link to nothing, or a loop.
REASONS = ("not an image", "corrupt", "too small", "wrong mode", "decompression bomb", "unreadable", "broken link")
# Modes Pillow can bring to "L" or "RGB" without guessing; others (float "F", LAB, HSV, ...) are "wrong mode".
USABLE_MODES = GREY_MODES - {"F"} | {"P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}
ZIP_MAGIC = b"PK\x03\x04"
# What reading one damaged member of a zip raises (bad CRC, a broken deflate stream, a cut-off member; an
# encrypted or unsupported-compression member too): that member is skipped as corrupt, the others are used.
MEMBER_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError)


class Unusable(Exception):
    """A file a build skips; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.reason = reason


@dataclass
class Header:
    """What a file's header says, read without decoding its pixels."""

    size: tuple[int, int]  # (W, H) after EXIF rotation
    channels: int  # 1 for grey modes, else 3


@dataclass
class Item:
    """One image of a source: a name (its path inside the source), its class folder, and how to open it."""

    name: str
    folder: str | None  # the first path part, when the item sits inside a subfolder
    opener: Callable[[], object]  # a binary file object, or a uint8 (C, H, W) array for .npz rows
    label: int | None = None  # from the source itself (an .npz's y)

    def raw(self) -> bytes:
        """The bytes that identify the item (duplicates are exact matches of these), or :class:`Unusable`."""
        data = _read(self)
        return data.tobytes() if isinstance(data, np.ndarray) else data


def _read(item: Item) -> bytes | np.ndarray:
    """The item's bytes (an .npz row as its array); a damaged zip member is :class:`Unusable` ("corrupt"), a file
    the system will not read (an I/O error, no permission, deleted since it was listed) is "unreadable": one
    bad file is reported with the others, not a traceback that loses the whole build."""
    try:
        obj = item.opener()
        if isinstance(obj, np.ndarray):
            return obj
        with obj:
            return obj.read()
    except MEMBER_DAMAGED as exc:
        raise Unusable("corrupt", f"{type(exc).__name__}: {exc}") from None
    except OSError as exc:
        raise Unusable("unreadable", f"{type(exc).__name__}: {exc}") from None


def _broken(name: str):
    raise Unusable("broken link", f"{name} is a symbolic link to nothing (or a loop)")


class _AnyName:
    """Every file name (``find_images`` with this walks every non-hidden file)."""

    def __contains__(self, suffix: str) -> bool:
        return True


def list_items(src: str | Path, *, every_file: bool = True, leave_out: Collection[Path] = ()) -> list[Item]:
    """The items of a folder tree, a .zip or an .npz (sorted); ``every_file=False`` keeps image suffixes only.

    ``leave_out``: files and folders of a folder tree not to list (the store being built, when DEST is inside
    SRC: its files are no images of the user's, and its folder no class). With ``every_file``, broken links
    are items too, each skipped as "broken link", so the report names them rather than losing them."""
    path = Path(src).expanduser()
    if not path.exists():
        raise DataError(f"{path} does not exist; give a folder of images, a .zip or an .npz")
    if path.is_dir():
        root = path.resolve()
        broken: list[Path] | None = [] if every_file else None
        files = find_images(root, _AnyName() if every_file else IMAGE_SUFFIXES,
                            leave_out={os.path.realpath(p) for p in leave_out}, broken=broken)
        items = []
        for f in files:
            parts = f.relative_to(root).parts
            items.append(Item(f.relative_to(root).as_posix(), parts[0] if len(parts) > 1 else None,
                              lambda f=f: open(f, "rb")))
        for f in broken or ():
            name = f.relative_to(root).as_posix()
            items.append(Item(name, None, lambda name=name: _broken(name)))
        return sorted(items, key=lambda i: i.name)
    if path.suffix.lower() == ".npz":
        return _npz_items(path)
    if zipfile.is_zipfile(path) or path.suffix.lower() == ".zip" or _starts_like_a_zip(path):
        return _zip_items(path, every_file)
    raise DataError(f"{path} is neither a folder, a .zip nor an .npz; give one of those")


def _starts_like_a_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == ZIP_MAGIC
    except OSError:
        return False


def _zip_items(path: Path, every_file: bool) -> list[Item]:
    """A zip's members; an archive whose directory cannot be read (truncated, damaged) is refused as that,
    rather than as "not a zip" (which is what ``zipfile.is_zipfile`` answers for a cut-off download).

    Each member is opened by its own entry, not by name: a zip may hold two members of one name (``zip``
    appends, unzip then overwrites one) and opening by name gives the last of them every time. Each is kept,
    a repeated name being told apart as ``NAME#2``, ``NAME#3`` (see :func:`_unique_names`)."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = sorted((i for i in z.infolist() if not i.is_dir()), key=lambda i: i.filename)  # stable
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path} is a damaged zip archive (its list of files cannot be read: {exc}); "
                        "re-create or re-download it") from None
    infos = [i for i in infos if not any(p.startswith(".") or p == "__MACOSX" for p in i.filename.split("/"))
             and (every_file or Path(i.filename).suffix.lower() in IMAGE_SUFFIXES)]
    archive = _Archive(path)
    root = _common_root([i.filename for i in infos])
    return [Item(name, _class_folder(i.filename, root), lambda i=i: archive.open(i))
            for name, i in zip(_unique_names(path, [i.filename for i in infos]), infos)]


def _unique_names(path: Path, names: list[str]) -> list[str]:
    """``names`` (sorted) with each repeat of a name after its first made distinct as ``NAME#k`` (k from 2, past any
    member already so named), so that the report, the duplicates and a labels file can name every member; the
    repeats are named in one warning, since a labels file must then give ``NAME#k`` its own label."""
    taken = set(names)
    seen: dict[str, int] = {}
    out, renamed = [], []
    for name in names:
        if name not in seen:
            seen[name] = 1
            out.append(name)
            continue
        k = seen[name] + 1
        while f"{name}#{k}" in taken:
            k += 1
        seen[name] = k
        taken.add(f"{name}#{k}")
        out.append(f"{name}#{k}")
        renamed.append((name, out[-1]))
    if renamed:
        repeated = {name for name, _ in renamed}
        warn(f"{path} holds {len(repeated)} name(s) given to more than one member, e.g. {renamed[0][0]}; every "
             f"member is read, the later ones named apart, e.g. {renamed[0][1]} (in the report and in a labels file)")
    return out


def _common_root(names: list[str]) -> str | None:
    """The one top folder holding every image file of a zip (``photos`` in what ``zip -r p.zip photos`` makes),
    or None. It is left out when classes are worked out: otherwise every image would be in one class named
    after it. Other files (a README beside the folder) do not decide it."""
    images = [n.split("/") for n in names if Path(n).suffix.lower() in IMAGE_SUFFIXES]
    tops = {parts[0] for parts in images if len(parts) > 1}
    return tops.pop() if images and len(tops) == 1 and all(len(parts) > 1 for parts in images) else None


def _class_folder(name: str, root: str | None) -> str | None:
    """The folder a zip member's class is named after: its first folder, below ``root`` when there is one."""
    parts = name.split("/")
    if root is not None and parts[0] == root:
        parts = parts[1:]
    return parts[0] if len(parts) > 1 else None


class _Archive:
    """One open ``ZipFile`` per process, reused for every member read: opening one parses the whole central
    directory, so a handle per read made a build quadratic in the number of members (140 ms an image at 20,000).
    Keyed by the process id, since items may be read in worker processes (a forked child must not share the
    parent's file offset)."""

    def __init__(self, path: Path):
        self.path = path
        self.handles: dict[int, zipfile.ZipFile] = {}

    def open(self, member: zipfile.ZipInfo):
        """The member's bytes, by its entry (by name a repeated name would open its last member)."""
        pid = os.getpid()
        z = self.handles.get(pid)
        if z is None:
            z = self.handles[pid] = zipfile.ZipFile(self.path)
        return z.open(member)

    def __del__(self):
        z = self.handles.get(os.getpid())
        if z is not None:
            z.close()


def _npz_items(path: Path) -> list[Item]:
    """Rows of an .npz's image array. A compressed .npz cannot be memory-mapped, so its array is read once
    (the one source whose memory is not flat; a folder or a zip is)."""
    where = str(path)
    _check_magic(path, where)
    try:
        with np.load(path, allow_pickle=False) as z:
            key = next((k for k in X_KEYS if k in z.files), None)
            if key is None:
                raise DataError(f"{where} has no array named {', '.join(X_KEYS)}; save the images as x=...")
            x = z[key]
            if x.ndim not in (3, 4) or len(x) == 0:
                raise DataError(f"{where}['{key}'] has shape {x.shape}; expected images (N, H, W[, C])")
            y, _ = _labels(z, len(x), where)  # npz:'s own check: whole numbers >= 0, one per image
    except DAMAGED as exc:
        raise DataError(f"{where} is not a readable .npz ({exc}); save it with numpy.savez") from None
    x = _images_nchw(_to_uint8(x, where), where)
    width = len(str(len(x) - 1))
    return [Item(f"{key}[{i:0{width}d}]", None, lambda i=i: x[i], None if y is None else int(y[i]))
            for i in range(len(x))]


def _open(item: Item, max_pixels: int) -> Image.Image:
    """The item as an unloaded Pillow image, or :class:`Unusable` (bombs are refused here, before decoding)."""
    data = _read(item)
    if isinstance(data, np.ndarray):
        return Image.fromarray(np.ascontiguousarray(data[0] if data.shape[0] == 1 else data.transpose(1, 2, 0)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Unusable("decompression bomb", str(exc)) from None
    except UnidentifiedImageError:
        raise Unusable("not an image") from None
    except Exception as exc:  # Pillow raises many types for a broken header
        raise Unusable("corrupt", f"{type(exc).__name__}: {exc}") from None
    if img.size[0] * img.size[1] > max_pixels:
        raise Unusable("decompression bomb", f"{img.size[0]}x{img.size[1]} pixels, over the limit of {max_pixels}")
    if img.mode not in USABLE_MODES:
        raise Unusable("wrong mode", f"mode {img.mode}")
    return img


def read_header(item: Item, max_pixels: int) -> Header:
    """Size (after EXIF rotation) and channel count, without decoding pixels."""
    img = _open(item, max_pixels)
    return Header(upright_size(img), 1 if img.mode in GREY_MODES else 3)


def wide_width(w: int, h: int) -> int:
    """The width of an image that ``--crop wide`` uses: all of it, or twice its height when the image is wider
    than 2:1 (the band is 2:1, so a wider image is cropped to it rather than squeezed); it must reach R."""
    return min(w, 2 * h)


def fit(img: Image.Image, resolution: int, crop: str) -> Image.Image:
    """``center``: short side to ``resolution``, centre square (as folder: does). ``wide``: the centre 2:1 band
    (of height w/2, or for an image wider than 2:1 of width 2h) to ``resolution`` x ``resolution // 2``,
    letterboxed on black (stylegan2-ada's wide crop, which skips images wider than 2:1 instead); the aspect
    is kept, never stretched. ``none``: a square image resized."""
    if crop == "wide":
        w, h = img.size
        band_h = resolution // 2
        src_w = wide_width(w, h)
        src_h = min(h, w / 2)
        left, top = (w - src_w) / 2, (h - src_h) / 2
        band = img.resize((resolution, band_h), LANCZOS, box=(left, top, left + src_w, top + src_h))
        canvas = Image.new(img.mode, (resolution, resolution), 0)
        canvas.paste(band, (0, (resolution - band_h) // 2))
        return canvas
    return crop_resize(img, resolution, LANCZOS)


def decode(item: Item, max_pixels: int, channels: int, resolution: int, crop: str) -> np.ndarray:
    """uint8 (channels, resolution, resolution), or :class:`Unusable`."""
    img = _open(item, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
            img = upright(img)
            img = _to_8bit(_flatten_alpha(img))
            img = img.convert("L" if channels == 1 else "RGB")
    except Unusable:
        raise
    except ValueError as exc:  # _to_8bit: values that cannot be mapped to 0..255
        raise Unusable("wrong mode", str(exc)) from None
    except Exception as exc:  # truncated data, bad EXIF, ...
        raise Unusable("corrupt", f"{type(exc).__name__}: {exc}") from None
    return to_array(fit(img, resolution, crop))
