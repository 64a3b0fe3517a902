"""YAML as ganforge reads config files, presets and ``--set`` values: numbers and booleans as YAML 1.2
reads them, and a key stated twice refused, where PyYAML's YAML 1.1 would silently misread or drop what
the user wrote. PyYAML parses; this module only changes which scalars resolve to which types."""
from __future__ import annotations

import re
import typing
from typing import Any

import yaml


_INT, _FLOAT, _BOOL = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping states a key twice: YAML keeps the last silently, so a second ``train:`` would reset the first."""


class _Loader(yaml.SafeLoader):
    """YAML whose numbers read as YAML 1.2 reads them, refusing a key stated twice.

    PyYAML follows YAML 1.1, which silently misreads what users write: ``2e-4`` is a string (it wants
    ``2.0e-4``), ``010`` is 8 (octal), ``1:30`` is 90 (base 60), ``0b11`` is 3. Here, as in YAML 1.2's core
    schema, an integer is decimal (``010`` is 10; ``_`` separators as in Python), ``0x10`` is 16 and ``0o10``
    is 8 (spelled out, never a leading zero); ``1:30`` and ``0b11`` are strings, which a number key refuses.
    A boolean is ``true``/``false`` only: ``yes``, ``no``, ``on``, ``off`` are strings (table columns named
    ``yes``/``no`` stay names; a bool key given ``yes`` is refused in one line)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else ():
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` may restate keys: that is what a merge is
            key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
            if not isinstance(key, typing.Hashable):
                continue  # PyYAML's own error refuses it
            if key in seen:
                where = f"line {line}" if seen[key] == line else f"lines {seen[key]} and {line}"
                raise DuplicateKeyError(None, None, f"the key {key!r} is stated twice ({where}), and only the "
                                                    f"last would count; keep one", key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign, digits = (-1, text[1:]) if text[0] == "-" else (1, text.lstrip("+"))
    base = {"0x": 16, "0o": 8}.get(digits[:2], 10)
    return sign * int(digits[2:] if base != 10 else digits, base)


_Loader.yaml_implicit_resolvers = {first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT, _BOOL)]
                                   for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(_INT, re.compile(r"^[-+]?[0-9][0-9_]*$|^0x[0-9a-fA-F][0-9a-fA-F_]*$|^0o[0-7][0-7_]*$"),
                              list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(r"""^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$|^[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?$|"""
               r"""^[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"""),
    list("-+0123456789."),
)
_Loader.add_constructor(_INT, _construct_int)


def yaml_problem(e: yaml.YAMLError) -> str:
    """One line for a YAML error: what is wrong and where (PyYAML's first line is only its context,
    e.g. "while scanning for the next token"); the context where PyYAML names no problem."""
    problem, mark = getattr(e, "problem", None), getattr(e, "problem_mark", None)
    if not problem:
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    if mark is None or isinstance(e, DuplicateKeyError):  # its problem names the lines already
        return str(problem)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"


def load_yaml(text: str):
    """Parse YAML text the way config files and ``--set`` values are read."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
