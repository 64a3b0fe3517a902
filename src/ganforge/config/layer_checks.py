"""Checks of the layers a config is merged from (a preset, its parents, flags and ``--set``), made before they
merge, where the layer that wrote a key is still known: every key is a name, and a key the user typed is never
dropped when a later layer switches its net to another ``arch``. Apart from :mod:`.validation`, which checks
the ranges of the merged config, because these read the layers themselves, not a :class:`RunConfig`.
"""

from __future__ import annotations

from typing import Any

from ganforge.config.labels import typed_by_user
from ganforge.errors import ConfigError


def check_keys(layer: Any, label: str, path: str = "") -> None:
    """Refuse a key that is not a name (YAML's ``1: 2``, ``null: 2``): config keys are strings, and any
    other would reach the did-you-mean of an unknown key as a TypeError."""
    if isinstance(layer, list):
        for item in layer:
            check_keys(item, label, path)
    if not isinstance(layer, dict):
        return
    for key, value in layer.items():
        if not isinstance(key, str):
            where = f"under '{path}'" if path else "at the top level"
            shown = "null" if key is None else repr(key)
            raise ConfigError(f"{label} has the key {shown} {where}, and config keys are names; write the key "
                              f"as a name (e.g. steps), or quote it if it is one")
        check_keys(value, label, f"{path}.{key}" if path else key)


def check_kept(layers: list[tuple[str, dict]]) -> None:
    """A key the user typed never vanishes: a later layer that switches a net to a new ``arch`` replaces its
    spec whole (:func:`merge`), so an option an earlier ``--set`` or flag gave the old arch would silently
    be dropped; refuse it instead. (A preset's options for its own arch are meant to go with it.)"""
    typed: dict[str, str] = {}  # dotted key -> the explicit layer that wrote it
    archs: dict[str, Any] = {}
    for label, layer in layers:
        specs = {path: spec for path, spec in _net_specs(layer)}
        for path, spec in specs.items():
            if "arch" in spec and path in archs and spec["arch"] != archs[path]:
                lost = [k for k in typed if k.startswith(path + ".") and k[len(path) + 1:] not in spec]
                if lost:
                    raise ConfigError(f"{lost[0]} (from {typed[lost[0]]}) would be dropped: {label} then switches "
                                      f"{path} from arch '{archs[path]}' to '{spec['arch']}', whose spec starts "
                                      f"from its own defaults; set the arch first, then the options it takes")
                typed = {k: v for k, v in typed.items() if not k.startswith(path + ".")}
            if "arch" in spec:
                archs[path] = spec["arch"]
            if typed_by_user(label):
                typed.update({f"{path}.{k}": label for k in spec if k != "arch"})


def _net_specs(layer: Any) -> list[tuple[str, dict]]:
    """(model.g, its mapping), (model.d, ...) for the net specs a layer writes."""
    model = layer.get("model") if isinstance(layer, dict) else None
    if not isinstance(model, dict):
        return []
    return [(f"model.{role}", model[role]) for role in ("g", "d") if isinstance(model.get(role), dict)]


__all__ = ["check_keys", "check_kept"]
