"""Building a RunConfig from layers: defaults <- preset <- ``--set key=value`` overrides.

Each layer only states what differs from the one below, so layers are merged
as plain dicts (a net spec whose ``arch`` changes is replaced whole) and the
result is checked once, on the way into the dataclasses: unknown keys are
rejected with a did-you-mean, values are coerced to the annotated types (an int
is accepted where a float is meant) and then :func:`validation.validate` checks
ranges and choices. Everything a user can mistype fails here, before training.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any

import yaml

from ganforge.config import auto
from ganforge.config.reads import Reads, check_stated
from ganforge.config.schema import NetSpec, RunConfig
from ganforge.config.dormant import check_dormant
from ganforge.config.labels import typed_by_user
from ganforge.config.layer_checks import check_keys, check_kept
from ganforge.config.validation import validate
from ganforge.config.yaml_reader import DuplicateKeyError, load_yaml
from ganforge.errors import ConfigError, did_you_mean


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against annotation ``tp``; ints are accepted where floats are expected."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, path)
            except ConfigError as e:
                errors.append(e)
        raise errors[0]
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path} must be a list, got {value!r}; write it as [a, b]")
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{path} must have {len(args)} items, got {len(value)}: {value!r}")
            return tuple(_coerce(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        out = [_coerce(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path} must be a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path} must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{path} must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path} must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{path}: unsupported type {_type_name(tp)}")


def _build(cls: type, raw: Any, path: str) -> Any:
    if cls is NetSpec:
        if not isinstance(raw, dict) or "arch" not in raw:
            raise ConfigError(f"{path} must be a mapping with an 'arch' key, e.g. {{arch: mlp}}")
        options = {k: v for k, v in raw.items() if k != "arch"}
        return NetSpec(arch=_coerce(raw["arch"], str, f"{path}.arch"), options=options)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path or 'config'} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in names:
            where = f"{path}.{key}" if path else key
            raise ConfigError(f"unknown config key '{where}'{did_you_mean(key, names)}; "
                              f"valid keys here: {', '.join(names)}")
    kwargs = {}
    for name in names:
        if name not in raw:
            continue
        sub = f"{path}.{name}" if path else name
        tp = hints[name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, raw[name], sub)
        else:
            kwargs[name] = _coerce(raw[name], tp, sub)
    return cls(**kwargs)


def check_sections(layer: Any, cls: type = RunConfig, path: str = "") -> None:
    """Refuse a layer that sets a section (``train``, ``model.g``) to a non-mapping, as :func:`_build` does.

    Checked per layer, before merging: merged first, a later layer's key (``--steps`` is train.steps)
    would replace ``--set train=3`` with a mapping of that key alone, and the section would silently go
    back to the defaults. Unknown keys and values inside a section are left to :func:`_build`."""
    if not isinstance(layer, dict):
        return
    hints = typing.get_type_hints(cls)
    for key, value in layer.items():
        tp, sub = hints.get(key), f"{path}.{key}" if path else key
        if tp is NetSpec and not isinstance(value, dict):
            _build(NetSpec, value, sub)  # raises its own line, naming the 'arch' key
        elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"{sub} must be a mapping, got {value!r}")
            check_sections(value, tp, sub)


def merge(base: dict, update: dict) -> dict:
    """Recursive dict merge; a net spec whose ``arch`` changes is replaced whole,
    so options of the old architecture never leak into the new one."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            if "arch" in value and value["arch"] != out[key].get("arch"):
                out[key] = copy.deepcopy(value)
            else:
                out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=4e-4"`` -> (["train", "lr"], 0.0004); the value is read as YAML, except for a key whose
    schema type is a string (:func:`_string_kind`), whose value is taken as written (``str | None``:
    ``null`` or ``~`` is None)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like key=value, e.g. train.steps=2000")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override '{text}' has no key; write it as key=value")
    keys = key.split(".")
    kind = _string_kind(keys)
    if raw.strip() and (kind is str or (kind == OPTIONAL_STR and raw.strip() not in NULLS)):
        return keys, _literal(raw.strip())
    try:
        value = load_yaml(raw) if raw.strip() else None
    except DuplicateKeyError as e:
        raise ConfigError(f"--set {text}: {e.problem}") from None
    except yaml.YAMLError:
        value = raw
    return keys, value


OPTIONAL_STR = str | None
NULLS = ("null", "~")  # what a ``str | None`` key reads as None; any other value is the string as written


def _string_kind(keys: list[str]) -> Any:
    """``str`` or ``str | None`` where the schema types the key ``keys`` so (data.name, recipe, optim.g.name,
    model.g.arch; data.target), else None.

    Such a value is often a path or a column name (``data.name=store:my photos #2``, ``folder:a: b``,
    ``data.target=yes``), and YAML would silently cut it at `` #`` (a comment), turn it into a mapping or
    a bool; a string key wants no YAML anyway. Every other key (numbers, lists, other unions, a net's
    options) is still YAML."""
    tp: Any = RunConfig
    for i, key in enumerate(keys):
        if tp is NetSpec:  # its arch is a string; the rest of a net spec are its builder's options (Any)
            return str if key == "arch" and i == len(keys) - 1 else None
        if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
            return None
        hints = typing.get_type_hints(tp)
        if key not in hints or key not in {f.name for f in dataclasses.fields(tp)}:
            return None
        tp = hints[key]
    return tp if tp is str or tp == OPTIONAL_STR else None


def _literal(raw: str) -> str:
    """A string key's value as written; one quoted whole in YAML (``"store:x #2"``, as the quoting workaround
    and the Python API's keywords write it) loses its quotes."""
    if raw[0] in "'\"" and raw[-1] == raw[0] and len(raw) > 1:
        try:
            value = load_yaml(raw)
        except yaml.YAMLError:
            return raw
        if isinstance(value, str):
            return value
    return raw


def _nest(keys: list[str], value: Any) -> dict:
    out: Any = value
    for key in reversed(keys):
        out = {key: out}
    return out


def override_layers(overrides: list[str] | tuple[str, ...]) -> list[tuple[str, dict]]:
    """("--set key=value", the nested difference) for each override, in order."""
    out = []
    for text in overrides:
        keys, value = parse_override(text)
        out.append((f"--set {text}", _nest(keys, value)))
    return out


def resolve(preset: dict | None = None, overrides: list[str] | tuple[str, ...] = (), *,
            reads: Callable[[str], Reads] | None = None, preset_label: str = "the preset") -> RunConfig:
    """Defaults <- preset dict <- ``key=value`` overrides, validated into a RunConfig.

    With ``reads`` (recipe name -> the keys that recipe reads: ``ganforge.recipes.reads_of``), a key the
    preset or an override states that the chosen recipe never reads is a one-line ConfigError naming
    it, where it came from (``preset_label`` or ``--set``) and the keys of its section that are read.
    """
    layers, raw = ([(preset_label, preset)] if preset else []) + override_layers(overrides), RunConfig().to_dict()
    for label, layer in layers:
        check_keys(layer, label)
        check_sections(layer)
    check_kept(layers)
    layers = with_auto(layers, reads=reads)
    for _, layer in layers:
        raw = merge(raw, layer)
    cfg = from_dict(raw)
    if reads is not None:
        check_stated(layers, cfg.recipe, reads(cfg.recipe))
    check_dormant(layers, cfg)
    return cfg


def with_auto(layers: list[tuple[str, dict]], devices: int | None = None, *,
              reads: Callable[[str], Reads] | None = None) -> list[tuple[str, dict]]:
    """``layers`` with auto configuration's picks (config/auto.py) inserted before the first explicit
    layer (--set, a flag: labels starting with "--"), when the merged layers say ``auto: true``: so the
    user's keys win and ``--dry-run`` names auto as the source of the rest. With ``reads`` (as for
    :func:`resolve`), auto picks only keys the recipe reads: the user is never told to remove one."""
    first, found = _auto(layers, devices, reads)
    return layers if found is None else [*layers[:first], found[:2], *layers[first:]]


def auto_printout(layers: list[tuple[str, dict]], devices: int | None = None, *,
                  reads: Callable[[str], Reads] | None = None) -> str:
    """What auto configuration picked for these layers, one key a line ("" when auto is off)."""
    found = _auto(layers, devices, reads)[1]
    return "" if found is None else "\n".join(found[2]) + "\n"


def _auto(layers: list[tuple[str, dict]], devices: int | None, reads: Callable[[str], Reads] | None
          ) -> tuple[int, tuple[str, dict, list[str]] | None]:
    """Auto's plan, read from the merged layers' typed form: ``data=3`` fails its type check, not auto."""
    raw = RunConfig().to_dict()
    for _, layer in layers:
        raw = merge(raw, layer)
    first = next((i for i, (label, _) in enumerate(layers) if typed_by_user(label)), len(layers))
    typed = _build(RunConfig, raw, "")
    if not typed.auto:
        return first, None
    return first, auto.plan(typed.to_dict(), [layer for _, layer in layers[first:]], devices,
                            reads=reads(typed.recipe) if reads is not None else None)


def differences(cfg: RunConfig) -> dict:
    """The keys of ``cfg`` whose values differ from the defaults, nested as a preset writes them (a net
    spec whole, when its arch or any option differs): what a RunConfig passed as a whole states."""
    def diff(value: Any, default: Any) -> Any:
        if isinstance(value, dict) and isinstance(default, dict) and "arch" not in value:
            out = {k: d for k, v in value.items() if (d := diff(v, default.get(k, _MISSING))) is not _MISSING}
            return out or _MISSING
        return _MISSING if value == default else value

    found = diff(cfg.to_dict(), RunConfig().to_dict())
    return {} if found is _MISSING else found


_MISSING = object()


def sources(layers: list[tuple[str, dict]]) -> dict[str, str]:
    """Dotted key -> the label of the last layer that wrote it (``--dry-run``'s "where from"). A layer
    that replaces a mapping whole (a net spec with a new arch) writes every key under it."""
    out: dict[str, str] = {}
    archs: dict[str, Any] = {}

    def walk(value: Any, path: str, label: str) -> None:
        if isinstance(value, dict):
            if "arch" in value and archs.get(path, value["arch"]) != value["arch"]:
                # a net spec with a new arch replaces the old one's options (see merge)
                for key in [k for k in out if k.startswith(path + ".")]:
                    del out[key]
            if "arch" in value:
                archs[path] = value["arch"]
            for key, sub in value.items():
                walk(sub, f"{path}.{key}" if path else key, label)
        else:
            out[path] = label

    for label, layer in layers:
        walk(layer, "", label)
    return out


def from_dict(raw: dict) -> RunConfig:
    """Build and fully validate a RunConfig (keys, types, ranges, net options)."""
    check_keys(raw, "the config")
    cfg = _build(RunConfig, raw, "")
    validate(cfg)
    return cfg


def diff(a: RunConfig, b: RunConfig) -> list[str]:
    """Human-readable differences between two configs, as 'key: old -> new' lines."""
    out: list[str] = []

    def walk(x: Any, y: Any, path: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y)):
                walk(x.get(key), y.get(key), f"{path}.{key}" if path else key)
        elif x != y:
            out.append(f"{path}: {x!r} -> {y!r}")

    walk(a.to_dict(), b.to_dict(), "")
    return out


__all__ = ["diff", "differences", "with_auto", "auto_printout", "from_dict", "load_yaml", "merge", "override_layers", "parse_override", "resolve",
           "sources"]
