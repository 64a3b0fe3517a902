"""``ganforge presets``: the presets, one line each."""

from __future__ import annotations

import argparse

from ganforge.cli.help import examples
from ganforge.presets import DEFAULT_PRESET, list_presets


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list the presets, one line each",
                       **examples("ganforge presets",
                                  "ganforge presets | grep mnist",
                                  "ganforge train ring8-best --dry-run      # what a preset sets, in full"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    items = list_presets()
    width = max(map(len, items))
    for name, description in items.items():
        mark = " (default)" if name == DEFAULT_PRESET else ""
        print(f"{name:<{width}}  {description}{mark}")
    return 0
