"""Where a config layer came from, by its label: one place that says which labels the user typed.

``ganforge train`` merges labelled layers in order: each preset in an ``extends`` chain ("preset NAME"),
then ``--set key=value``, then the flags (``--steps N``). Three checks treat the user's own layers apart
from a preset's: auto configuration plans only what the user left open, a dormant key is let through
when a preset stated it, and a net's options are tracked per layer. They all ask :func:`typed_by_user`,
so a new kind of label changes one line.
"""
from __future__ import annotations


def typed_by_user(label: str) -> bool:
    """True for ``--set`` and the flags (labels starting with "--"); False for a preset or config file."""
    return label.startswith("--")
