"""Named presets: YAML files holding only their differences from the defaults in config/schema.py.

Two keys are the preset's own and never reach the RunConfig: ``description`` (one
line for ``ganforge presets``) and ``extends`` (the name of a preset to start from).
A path to a YAML file works wherever a preset name does.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ganforge.config import load_yaml, merge
from ganforge.config.yaml_reader import yaml_problem
from ganforge.errors import ConfigError, did_you_mean

DEFAULT_PRESET = "gan2014-digits"


def _files() -> dict[str, Any]:
    root = resources.files(__package__)
    return {p.name[: -len(".yaml")]: p for p in root.iterdir() if p.name.endswith(".yaml")}


def list_presets() -> dict[str, str]:
    """Preset name -> its one-line description, sorted by name."""
    return {name: _read(name, path).get("description", "") for name, path in sorted(_files().items())}


def _read(label: str, path: Any) -> dict:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"preset '{label}' is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}); "
                          f"save it as UTF-8") from None
    except IsADirectoryError:
        raise ConfigError(f"preset file '{label}' is a directory; give a path to a YAML file") from None
    except OSError as e:
        raise ConfigError(f"preset file '{label}' cannot be read ({e.strerror}); give a readable YAML file") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"preset '{label}' is not valid YAML: {yaml_problem(e)}") from None
    if data is None:  # an empty or comment-only file would silently train the defaults
        raise ConfigError(f"preset '{label}' is empty (no keys, only blank lines or comments); state at least one "
                          f"key, e.g. extends: {DEFAULT_PRESET}, or give no preset to train the default {DEFAULT_PRESET}")
    if not isinstance(data, dict):
        raise ConfigError(f"preset '{label}' must be a YAML mapping of config keys")
    return data


def layers(name: str) -> list[tuple[str, dict]]:
    """("preset NAME", its own differences) for the preset and each preset it extends, the furthest
    ancestor first: where each value of a preset comes from (``ganforge train --dry-run``)."""
    chain = [name]
    while (parent := _own(chain[-1]).get("extends")) is not None and _parent(chain[-1], parent) not in chain:
        chain.append(_parent(chain[-1], parent))
    return [(f"preset {n}", {k: v for k, v in _own(n).items() if k not in ("description", "extends")})
            for n in reversed(chain)]


def _parent(name: str, parent: Any) -> Any:
    """What ``extends: parent`` in preset ``name`` names: a preset name as it is; a file path, when ``name``
    is a file, relative to that file's folder (as a YAML file's own references are read), not to the
    folder the command runs in."""
    if not isinstance(parent, str) or parent in _files() or name in _files() or Path(parent).is_absolute():
        return parent
    return str(Path(name).parent / parent)


def _own(name: str) -> dict:
    """A preset file's own keys, before ``extends`` (its errors are load_preset's, which runs first)."""
    files = _files()
    return copy.deepcopy(_read(name, files[name] if name in files else Path(name)))


def load_preset(name: str, _seen: tuple[str, ...] = ()) -> tuple[dict, str]:
    """The preset's config differences (with ``extends`` applied) and its description."""
    files = _files()
    if name in files:
        data = _read(name, files[name])
    elif name.endswith((".yaml", ".yml")) or Path(name).exists():
        path = Path(name)
        if path.is_dir():
            raise ConfigError(f"preset file '{name}' is a directory; give a path to a YAML file in it, or a "
                              f"preset name (see `ganforge presets`)")
        if not path.is_file():
            raise ConfigError(f"preset file '{name}' does not exist; give a preset name "
                              f"(see `ganforge presets`) or a path to a YAML file")
        data = _read(name, path)
    else:
        raise ConfigError(f"unknown preset '{name}'{did_you_mean(name, files)}; "
                          f"valid presets: {', '.join(sorted(files))} (or a path to a YAML file)")
    if name in _seen:
        raise ConfigError(f"presets extend each other in a loop: {' -> '.join((*_seen, name))}")
    data = copy.deepcopy(data)
    description = data.pop("description", "")
    parent = data.pop("extends", None)
    if parent is not None and (not isinstance(parent, str) or not parent.strip()):  # `extends: 3` was a traceback
        raise ConfigError(f"preset '{name}': extends must be a preset name or a YAML file path (a string), got "
                          f"{parent!r}; write e.g. extends: {DEFAULT_PRESET}")
    if parent is not None:
        base, _ = load_preset(_parent(name, parent), (*_seen, name))
        data = merge(base, data)
    return data, description
