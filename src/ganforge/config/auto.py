"""Auto configuration (``--set auto=true``): a StyleGAN2 or DCGAN run sized for its resolution and device count.

A user pointing a preset at their own images rarely knows which batch, R1 gamma or width suits 256 px
on one GPU. stylegan2-ada's ``--cfg=auto`` (Karras et al. 2020) answered that with a few published
formulas of the resolution and the GPU count; the rules here are our own, written from those
formulas and from this package's nets (whose widths are set differently from ada's):

- **batch** (global): StyleGAN2 takes ada's rule, ``min(4096 // res, 32)`` images per device, at most
  64 in all and at least one per device (memory per device stays bounded as the pixels grow). DCGAN
  takes the DCGAN paper's 128 at 64 px and halves it per doubling of the resolution beyond,
  ``min(8192 // res, 128)`` per device, times the devices (its BatchNorm wants bigger batches).
- **R1 gamma** = ``0.0002 * res**2 / batch``: ada's heuristic (the penalty on D's gradient grows with
  the pixel count and falls with the batch over which it is averaged). For DCGAN only where the run
  already uses R1 (``reg.r1 > 0``): auto does not switch a regulariser on.
- **EMA half-life** = ``batch * 10,000 / 32`` images with a ramp-up of 0.05: ada's ``ema_kimg = mb * 10 / 32``
  and ``ema_rampup``.
- **channels**: our StyleGAN2 G and D have one width at every resolution, so they take the width ada's
  auto gives its full-resolution layers, where the cost is: ``min(channel_base // res, 512)`` with
  ada's channel base of 16384 below 512 px and 32768 from 512 px. DCGAN's width doubles at every block
  towards the 4x4 start, so its ``base_channels`` is set for the widest layer to be 512, as in the
  DCGAN paper's 64 px net: ``512 / 2**(blocks - 1)``, at most the paper's 64 and at least 16.
- **mapping depth** (StyleGAN2): 2 layers, ada's auto and cifar choice (the paper's 8 is for FFHQ-scale
  data); the minibatch-std group is ``min(batch per device, 4)``, as ada's auto, so it divides the batch.

A key the user states with ``--set`` (or a flag such as ``--steps``) wins over auto, and the printout
says so; the keys a preset states are replaced (that is what asking for auto means). The picks go in
as a layer of differences between the preset's and the ``--set`` layers (``loading.with_auto``), so
``--dry-run`` shows each one with ``# auto (...)`` as its source, and the saved config.yaml holds the
values picked, so a run reloads without re-picking. Devices are torchrun's ``WORLD_SIZE`` (1 without it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ganforge.data.registry import native_resolution
from ganforge.data.store import read_manifest
from ganforge.errors import ConfigError, DataError

ARCHS = ("stylegan2", "dcgan")  # the G/D families auto knows how to size
STYLEGAN2_BATCH = (4096, 32, 64)  # ada: per device min(4096 // res, 32), at most 64 in all
DCGAN_BATCH = (8192, 128)  # the DCGAN paper's 128 at 64 px, halved per doubling beyond, per device
R1_PER_PIXEL = 0.0002  # ada's gamma = 0.0002 * res**2 / batch
EMA_IMAGES_PER_SAMPLE = 10_000 / 32  # ada's ema_kimg = batch * 10 / 32 (thousands of images)
EMA_RAMPUP = 0.05  # ada's ema_rampup
CHANNEL_BASE = (16384, 32768, 512)  # ada's fmaps 0.5 x 32768 below 512 px, 1 x 32768 from it; cap 512
DCGAN_WIDEST, DCGAN_BASE_RANGE = 512, (16, 64)  # the paper's widest layer; base width bounds (64: the paper's)
MAPPING_LAYERS = 2  # ada's auto and cifar configs
MBSTD_GROUP = 4  # ada's auto: min(batch per device, 4)


def device_count() -> int:
    """The processes that share the global batch: torchrun's WORLD_SIZE, 1 in a plain process."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def _halvings(res: int) -> int:
    """Blocks of a DCGAN at ``res`` px (the 2x steps down to a start of at most 7, as nets.base.image_plan)."""
    steps = 0
    while res > 7 and res % 2 == 0:
        res //= 2
        steps += 1
    return max(steps, 1)


def picks(arch: str, res: int, devices: int, *, batch: int | None = None, r1_on: bool = True,
          samples: int | None = None) -> dict[str, Any]:
    """Dotted key -> value auto picks for ``arch`` at ``res`` px on ``devices`` devices.

    ``batch``: the global batch the user stated, from which gamma, the EMA and the minibatch-std
    group are then derived (None: auto's own batch). ``r1_on``: whether the run uses R1 (DCGAN only).
    ``samples``: the images the run trains on, where known before loading them (a store's count,
    ``data.limit``): auto's batch is never more than them (a batch larger than the data is refused).
    """
    if arch == "stylegan2":
        per, cap, total = STYLEGAN2_BATCH
        auto_batch = max(min(devices * min(per // res, cap), total), devices)
    else:
        per, cap = DCGAN_BATCH
        auto_batch = devices * max(1, min(per // res, cap))
    if samples is not None and auto_batch > samples:  # 24 photos: a batch of 24 at most, whole per device,
        # and whole minibatch-std groups for a StyleGAN2 D
        unit = devices * (MBSTD_GROUP if arch == "stylegan2" and samples >= devices * MBSTD_GROUP else 1)
        auto_batch = max(devices, samples // unit * unit)
    b = batch if batch is not None else auto_batch
    out: dict[str, Any] = {"train.batch_size": auto_batch}
    if arch == "stylegan2":
        small, large, widest = CHANNEL_BASE
        width = min((large if res >= 512 else small) // res, widest)
        out.update({"model.g.channels": width, "model.d.channels": width, "model.g.mapping_layers": MAPPING_LAYERS,
                    "model.d.mbstd_group": max(1, min(b // devices, MBSTD_GROUP))})
    else:
        lo, hi = DCGAN_BASE_RANGE
        base = min(max(DCGAN_WIDEST >> (_halvings(res) - 1), lo), hi)
        out.update({"model.g.base_channels": base, "model.d.base_channels": base})
    if arch == "stylegan2" or r1_on:
        out["reg.r1"] = round(R1_PER_PIXEL * res * res / b, 6)
    out.update({"ema.half_life_images": int(round(b * EMA_IMAGES_PER_SAMPLE)), "ema.rampup": EMA_RAMPUP,
                "ema.beta": None})
    return out


def _store_manifest(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A ``store:DIR`` dataset's dataset.json, read once per plan; None for any other dataset."""
    prefix, _, path = str(data.get("name", "")).partition(":")
    if prefix.lower() != "store" or not path:
        return None
    try:
        return read_manifest(Path(path).expanduser().resolve())
    except DataError as exc:
        raise ConfigError(f"auto=true reads the store's size: {exc}") from None


def resolution_of(data: Mapping[str, Any], manifest: Mapping[str, Any] | None = None) -> int:
    """The images' size without loading them: data.resolution, a store's dataset.json (``manifest``, read
    here when not given), or the dataset's own."""
    if data.get("resolution"):
        return int(data["resolution"])
    name = str(data.get("name", ""))
    manifest = _store_manifest(data) if manifest is None else manifest
    found = None
    if manifest is not None:
        found = int(manifest["shape"][-1])
    elif ":" not in name:
        found = native_resolution(name)
    if not found:
        raise ConfigError(f"auto=true sizes the nets for a resolution, and the size of '{name}' is not known "
                          f"before its images are read; set data.resolution=R (e.g. 64), or train from a store "
                          f"(ganforge dataset ... --out DIR, then data.name=store:DIR)")
    return found


def samples_of(data: Mapping[str, Any], manifest: Mapping[str, Any] | None = None) -> int | None:
    """How many images the run trains on, where that is known without loading them: a store's count (its
    dataset.json, ``manifest`` when already read) and ``data.limit``; None otherwise (a built-in dataset is
    far larger than any batch)."""
    counts = [int(data["limit"])] if data.get("limit") else []
    manifest = _store_manifest(data) if manifest is None else manifest
    if manifest is not None:
        counts.append(int(manifest["shape"][0]))
    return min(counts) if counts else None


def _arch(raw: Mapping[str, Any]) -> str:
    g, d = raw["model"]["g"].get("arch"), raw["model"]["d"].get("arch")
    if g != d or g not in ARCHS:
        raise ConfigError(f"auto=true sizes {' and '.join(ARCHS)} nets, and this run's are G '{g}', D '{d}'; "
                          f"remove auto=true or choose a dcgan- or stylegan2- preset")
    return g


def _get(raw: Mapping[str, Any], dotted: str) -> Any:
    value: Any = raw
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _stated(explicit: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every dotted key the explicit layers (--set, flags) write."""
    out: set[str] = set()

    def walk(value: Any, path: str) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{path}.{k}" if path else k)
        else:
            out.add(path)

    for layer in explicit:
        walk(layer, "")
    return out


def _nest(flat: Mapping[str, Any]) -> dict:
    out: dict = {}
    for dotted, value in flat.items():
        *parents, last = dotted.split(".")
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return out


def plan(raw: Mapping[str, Any], explicit: Iterable[Mapping[str, Any]] = (), devices: int | None = None, *,
         reads: Mapping[str, Iterable[str]] | None = None) -> tuple[str, dict, list[str]] | None:
    """(the layer's label, the layer of picks, the printout lines) for a merged config ``raw`` that says
    ``auto: true``; None when it does not. ``explicit``: the --set and flag layers, whose keys win.
    ``reads`` ({section: keys}, the recipe's ``config_reads``): only those keys are picked, since a key the
    recipe never reads is refused, and the user would be told to remove a key they never wrote (ganomaly
    keeps no moving average, so auto sizes no EMA for it). ``raw`` has been type-checked (loading._auto)."""
    if not raw.get("auto"):
        return None
    devices = device_count() if devices is None else devices
    data = raw.get("data", {})
    manifest = _store_manifest(data)
    arch, res = _arch(raw), resolution_of(data, manifest)
    stated = _stated(explicit)
    user_batch = _get(raw, "train.batch_size") if "train.batch_size" in stated else None
    chosen = picks(arch, res, devices, batch=user_batch, r1_on=bool(_get(raw, "reg.r1")),
                   samples=samples_of(data, manifest))
    if reads is not None:
        chosen = {k: v for k, v in chosen.items() if k.split(".")[1] in reads.get(k.split(".")[0], ())}
    label = f"auto ({res} px, {devices} device{'s' if devices != 1 else ''})"
    lines = [f"auto configuration for {arch} at {res} px on {devices} device{'s' if devices != 1 else ''}:"]
    layer = {}
    for key, value in chosen.items():
        if key in stated:
            lines.append(f"  {key} = {_get(raw, key)!r} from --set (auto would pick {value!r})")
        else:
            layer[key] = value
            if value is not None:
                lines.append(f"  {key} = {value!r}")
    if arch == "dcgan" and "reg.r1" not in chosen and (reads is None or "r1" in reads.get("reg", ())):
        lines.append("  reg.r1 left at 0: this run uses no R1, and auto sizes gamma only where R1 is on")
    if arch == "dcgan":
        lines.append("  (no mapping network: a DCGAN G maps z directly)")
    return label, _nest(layer), lines


__all__ = ["ARCHS", "device_count", "picks", "plan", "resolution_of", "samples_of"]
