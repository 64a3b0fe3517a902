"""What every subcommand's ``--help`` ends with: two or three examples to copy."""

from __future__ import annotations

import argparse


def examples(*lines: str) -> dict:
    """``add_parser`` keywords that end a subcommand's ``--help`` with these examples, verbatim."""
    return {"epilog": "examples:\n" + "\n".join(f"  {line}" for line in lines),
            "formatter_class": argparse.RawDescriptionHelpFormatter}
