"""Name -> loader table, so a new dataset is one decorated function.

Names are either plain ("mnist") or a prefix template ("folder:PATH") whose PATH
part is handed to the loader. Split and name checking happen here, once, so every
dataset fails the same helpful way.
"""

from __future__ import annotations

from typing import Any

import numbers
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ganforge.data.base import Dataset, LoadRequest, OptionsChecked, limited
from ganforge.errors import DataError, did_you_mean

Loader = Callable[[LoadRequest], Dataset]
PATH_SUFFIX = ":PATH"


@dataclass(frozen=True)
class Entry:
    name: str
    loader: Loader
    splits: tuple[str, ...]
    takes_digit: bool = False  # whether data.digit means something to it (the anomaly protocols)
    # The images' own size, known without loading them (auto configuration reads it); None: not known.
    resolution: int | None = None


REGISTRY: dict[str, Entry] = {}


def register(name: str, *, splits: Sequence[str] = ("train",), takes_digit: bool = False,
             resolution: int | None = None) -> Callable[[Loader], Loader]:
    """Register ``loader`` under ``name`` ("x" or "x:PATH"); ``splits`` are the split names it accepts,
    ``takes_digit`` says whether it reads ``data.digit`` (any other dataset refuses one), ``resolution``
    the images' own size when every split has one."""
    if name in REGISTRY:
        raise ValueError(f"dataset {name!r} is registered twice")

    def decorate(loader: Loader) -> Loader:
        REGISTRY[name] = Entry(name, loader, tuple(splits), takes_digit, resolution)
        return loader

    return decorate


def list_datasets() -> list[str]:
    return sorted(REGISTRY)


def _lookup(name: str) -> tuple[Entry, str, str | None]:
    """(entry, canonical name, PATH or None) for a user-given name; names are case-insensitive, paths not."""
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"no dataset name given; use one of: {', '.join(list_datasets())}")
    name = name.strip()
    prefix, sep, rest = name.partition(":")
    templated = REGISTRY.get(prefix.lower() + PATH_SUFFIX)
    if templated is not None:
        if not rest.strip():
            raise DataError(f"dataset '{name}' needs a path: write it as {prefix.lower()}:/path/to/data")
        return templated, f"{prefix.lower()}:{rest.strip()}", rest.strip()
    entry = REGISTRY.get(name.lower())
    if entry is not None and not sep:
        return entry, entry.name, None
    plain = [n.removesuffix(PATH_SUFFIX) for n in REGISTRY]
    if name.lower().endswith((".csv", ".parquet", ".pq")):  # a bare table: its prefix
        hint = f" (for a table write '{'csv' if name.lower().endswith('.csv') else 'parquet'}:{name}')"
    elif "/" in name or "\\" in name or name.lower().endswith(".npz"):  # a bare path: which prefix, not a near name
        hint = (f" (for a folder of images write 'folder:{name}', for an .npz file 'npz:{name}', "
                f"for a store from ganforge dataset 'store:{name}')")
    else:
        hint = did_you_mean(prefix.lower(), plain)
    raise DataError(f"unknown dataset '{name}'{hint}; valid datasets: {', '.join(list_datasets())}")


def _check_int(opt: str, value: object, lo: int, allowed: tuple[int, ...] | None = None) -> int | None:
    """``value`` as a plain int (numpy ints welcome), or a DataError saying what is allowed."""
    if value is None:
        return None
    want = f"one of {', '.join(map(str, allowed))}" if allowed else f"an integer >= {lo}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DataError(f"data.{opt}={value!r} is invalid; it must be {want}")
    value = int(value)
    if value < lo or (allowed and value not in allowed):
        raise DataError(f"data.{opt}={value!r} is invalid; it must be {want}")
    return value


def _names(value: Sequence[str] | str | None) -> tuple[str, ...]:
    """Column names from a list or from one comma-separated string (``--set data.discrete=a,b``)."""
    if isinstance(value, str):
        return tuple(n.strip() for n in value.split(",") if n.strip())
    return tuple(str(n) for n in value or ())


def run_data_options(data: Any, seed: int) -> dict[str, Any]:
    """``load_dataset``'s keyword arguments for a run's ``data`` config section (``RunConfig.data``).

    The one list of them: training (engine/build.py) and every command that reloads a run's training
    data (audit, downstream, export's datasheet) take it from here, so a reloaded table keeps the
    discrete columns, target and id columns it was trained with (it once lost them and was refused
    as different data).
    """
    return {"resolution": data.resolution, "channels": data.channels, "seed": seed, "size": data.size,
            "skip_unreadable": data.skip_unreadable, "digit": data.digit, "discrete": data.discrete,
            "target": data.target, "ids": data.ids, "limit": data.limit}


def evaluator_data_options(data: Any) -> dict[str, Any]:
    """The ``data_options`` a run's :class:`~ganforge.metrics.Evaluator` reloads its reference data with, for
    a run's ``data`` config section: the part of :func:`run_data_options` that shapes an image, so the
    reference images have the run's size and channels (and an anomaly protocol's digit). The one list of
    them: in-training ``eval.every`` (engine/periodic.py) and ``ganforge eval`` (api.evaluate_run) take it
    from here."""
    return {"resolution": data.resolution, "channels": data.channels, "digit": data.digit}


def _request(
    name: str,
    *,
    split: str = "train",
    resolution: int | None = None,
    channels: int | None = None,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    size: int | None = None,
    skip_unreadable: bool = False,
    digit: int | None = None,
    discrete: Sequence[str] = (),
    target: str | None = None,
    ids: Sequence[str] = (),
    check_only: bool = False,
) -> tuple[Entry, LoadRequest]:
    """The entry and the checked request for ``load_dataset``'s arguments (a one-line DataError if not)."""
    entry, canonical, path = _lookup(name)
    if split not in entry.splits:
        raise DataError(
            f"dataset '{name}' has no split '{split}'{did_you_mean(str(split), entry.splits)}; "
            f"valid splits: {', '.join(entry.splits)}"
        )
    req = LoadRequest(
        name=canonical,
        split=split,
        path=path,
        resolution=_check_int("resolution", resolution, 1),
        channels=_check_int("channels", channels, 1, (1, 3)),
        data_dir=data_dir,
        seed=_check_int("seed", 0 if seed is None else seed, 0),
        size=_check_int("size", size, 1),
        skip_unreadable=bool(skip_unreadable),
        digit=_check_int("digit", digit, 0, tuple(range(10))),
        discrete=_names(discrete),
        target=target,
        ids=_names(ids),
        check_only=check_only,
    )
    if req.digit is not None and not entry.takes_digit:
        takers = sorted(e.name for e in REGISTRY.values() if e.takes_digit)
        raise DataError(f"data.digit={req.digit} does not apply to dataset '{name}' (only the anomaly protocols "
                        f"{', '.join(takers)} take a digit); remove data.digit from the config, or "
                        f"--set data.digit=null where a preset sets it")
    return entry, req


def load_dataset(name: str, *, split: str = "train", limit: int | None = None, **options: Any) -> Dataset:
    """Load dataset ``name`` fully into memory (see ``list_datasets()`` for names; ``options`` are
    :func:`_request`'s: resolution, channels, data_dir, seed, size, skip_unreadable, digit, discrete, target, ids)."""
    entry, req = _request(name, split=split, **options)
    return limited(entry.loader(req), _check_int("limit", limit, 1))


def check_options(name: str, *, split: str = "train", limit: int | None = None, **options: Any) -> bool:
    """What ``load_dataset`` refuses about its options, without reading the data (``train --dry-run``): the
    name, split and values here, then the loader's own ``req.reject``, which stops it once they pass. True when
    it stopped there; False for a loader that never calls ``req.reject`` (a dataset a user registered may not),
    which has then loaded its data to check them, as a real run would."""
    entry, req = _request(name, split=split, check_only=True, **options)
    _check_int("limit", limit, 1)
    try:
        entry.loader(req)
    except OptionsChecked:
        return True
    return False


def native_resolution(name: str) -> int | None:
    """The images' own size of dataset ``name`` without loading it, when its loader declares one."""
    return _lookup(name)[0].resolution


def dataset_splits(name: str) -> tuple[str, ...]:
    """The split names dataset ``name`` accepts (e.g. for picking a held-out split), or a DataError."""
    return _lookup(name)[0].splits
