"""``store:PATH`` (a built store) and ``folder:PATH`` (a folder, decoded once into a cached store).

The folder cache lives under the data dir (``stores/folder-<key>``), keyed by what decides the store's
bytes: every image file's relative path, size and modification time, and the build options. Any
change to a file or an option is a new key, so a stale store is never reused; an unchanged folder
opens without decoding anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ganforge.data.base import Dataset, LoadRequest
from ganforge.data.folder import IMAGE_SUFFIXES, _named, find_images
from ganforge.data.paths import ENV_VAR, resolve_data_dir
from ganforge.data.registry import register
from ganforge.data.store import MANIFEST, VERSION, check_request, open_store, read_manifest
from ganforge.data.store_build import BuildOptions, build_store, rebuild_command
from ganforge.errors import DataError, GanforgeError, warn
from ganforge.outputs import check_dir_writable

CONFIG_FLAGS = (("resolution", "--set data.resolution={}"), ("channels", "--set data.channels={}"),
                ("crop", "--set data.crop={}"), ("labels", "--set data.labels={}"))


@register("store:PATH", splits=("train", "all"))
def load_store(req: LoadRequest) -> Dataset:
    """A store written by ``ganforge dataset``: nothing is decoded, images stay on disk until read."""
    req.reject("size", why="it holds every image in the store")
    ds = open_store(req.path, req.name, req.split, rebuild=rebuild_command)
    check_request(req, tuple(ds.x.shape), req.path, ds.meta.get("source"))
    return ds


def folder_options(req: LoadRequest) -> BuildOptions:
    """folder:'s long-standing rules: short side + centre crop, grey promoted to RGB when mixed, one image
    allowed, small images upscaled, image suffixes only, every file kept (duplicates too)."""
    return BuildOptions(resolution=req.resolution, crop="center", labels="auto", channels=req.channels, min_images=1,
                        promote_grey=True, every_file=False, dedupe=False, upscale_small=True, flags=CONFIG_FLAGS)


def cache_key(files: list[Path], root: Path, options: BuildOptions) -> str:
    """sha256 of (path, size, mtime) of every file and the options: any change is another store.

    Names are hashed as the bytes the file system holds (``os.fsencode``): a name that is not valid UTF-8
    (common in old archives unpacked on Linux) is a str with surrogates, which ``str.encode`` refuses."""
    h = hashlib.sha256(f"v{VERSION};{json.dumps(options.record(), sort_keys=True)};".encode())
    for f in files:
        st = f.stat()
        h.update(os.fsencode(f.relative_to(root).as_posix()) + f"\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _check_cache_writable(stores: Path) -> None:
    """A new cached store must be writable where it goes, checked before any file is read (a data dir that
    exists but is read-only would otherwise fail in the middle of the build)."""
    try:
        check_dir_writable(stores, flag="--data-dir")
    except GanforgeError:
        raise DataError(f"cannot write the folder cache in the data directory {stores.parent} (permission denied, "
                        f"read-only or not a folder); pass --data-dir or set {ENV_VAR} to a writable "
                        "directory") from None


@register("folder:PATH", splits=("train", "all"))
def load_folder(req: LoadRequest) -> Dataset:
    """Images are resized (short side, Lanczos) and centre-cropped when a resolution is given; the decoded
    folder is kept as a store in the data dir and reused while no file and no option changes."""
    req.reject("size", why="it holds every image in the folder")
    root = Path(req.path).expanduser()
    if not root.exists():
        raise DataError(f"image folder {root.resolve()} does not exist; check the path in '{req.name}'")
    if not root.is_dir():
        raise DataError(f"{root.resolve()} is not a folder; use npz:PATH for .npz files or give a folder of images")
    root = root.resolve()
    files = find_images(root, IMAGE_SUFFIXES)
    if not files:
        if (root / MANIFEST).is_file():
            raise DataError(f"{root} is a ganforge store, not a folder of images; train on it with "
                            f"--set data.name=store:{root}")
        common, other = "/".join(IMAGE_SUFFIXES[:3]), ", ".join(IMAGE_SUFFIXES[3:])
        raise DataError(f"no {common} images found under {root} (nor {other}); point folder: at a folder of images")
    options = folder_options(req)
    key = cache_key(files, root, options)
    dest = resolve_data_dir(req.data_dir) / "stores" / f"folder-{key[:24]}"
    if not (dest / MANIFEST).is_file():
        _check_cache_writable(dest.parent)
        try:
            build_store(root, dest, options, force=dest.exists(), source_key=key)
        except DataError as exc:
            if "no usable images" in str(exc):  # every file unreadable: folder:'s own message
                raise DataError(f"{_named([f.relative_to(root).as_posix() for f in files], len(files))}, "
                                "which leaves no images; fix the files") from None
            raise
    bad = [n for names in read_manifest(dest)["skipped_files"].values() for n in names]
    if bad:
        message = _named(bad, len(files))
        if not req.skip_unreadable:
            raise DataError(f"{message}. Fix or remove them, or set data.skip_unreadable=true to skip them")
        warn(f"{message}; skipping them (data.skip_unreadable=true)")
    ds = open_store(dest, req.name, req.split)
    ds.meta.update(source=str(root), files_sha256=key, num_files=len(ds), skipped=bad)
    return ds
