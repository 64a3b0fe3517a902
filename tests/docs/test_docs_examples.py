"""Every shell example in README.md and docs/*.md is a command ganforge accepts.

Each ``ganforge ...`` line of a ```bash / ```sh / ```console block is parsed by the CLI's own parser
(argparse: a verb or option that does not exist, or a value of the wrong type, fails here); a ``train``
line also has its preset and every ``--set key=value`` resolved into a config and its recipe found, as
``--dry-run`` does (cheap: nothing is built or trained). Shell variables are expanded from the block's
own assignments and loops (the first value); an upper-case placeholder (``PRESET``, ``N``, ``SIGMA``)
stands for a value and is replaced by a typical one of its kind before parsing.
"""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from doclib import DOCS, README, SHELL_LANGS, fenced_blocks, shell_commands

from ganforge import api, recipes
from ganforge.cli import build_parser
from ganforge.errors import GanforgeError

# What the docs' placeholders stand for: a value of the kind the option takes.
PLACEHOLDERS = {"PRESET": "gan2014-digits", "N": "100", "SIGMA": "1.0", "K": "1", "S": "0", "SEED": "0",
                "PSI": "0.7", "P": "8000"}


def _fill(word: str) -> str:
    word = word.strip("[]")  # a synopsis's optional part: parsed as if given
    key, eq, value = word.rpartition("=")
    if eq and value in PLACEHOLDERS:
        return f"{key}={PLACEHOLDERS[value]}"
    return PLACEHOLDERS.get(word, word)


EXAMPLES = [(block.path.relative_to(README.parent), line, [_fill(w) for w in argv])
            for path in [README, *DOCS] for block in fenced_blocks(path) if block.lang in SHELL_LANGS
            for line, argv in shell_commands(block)]


def _parse(argv: list[str]):
    """The parsed namespace, or None for ``--help`` / ``--version``; argparse's complaint raised as ValueError."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return build_parser().parse_args(argv)
    except SystemExit as e:
        if e.code == 0:
            return None
        raise ValueError(err.getvalue().strip().splitlines()[-1]) from None


def test_the_docs_have_shell_examples_to_check():
    assert len(EXAMPLES) > 50 and {str(p) for p, _, _ in EXAMPLES} >= {"README.md", "docs/anomaly.md"}


@pytest.mark.parametrize("path,line,argv", EXAMPLES, ids=[f"{p}:{n}" for p, n, _ in EXAMPLES])
def test_every_shell_example_parses(path, line, argv):
    try:
        _parse(argv)
    except ValueError as e:
        pytest.fail(f"{path}:{line}: `ganforge {' '.join(argv)}` is refused by the CLI: {e}")


TRAIN = [(p, n, argv) for p, n, argv in EXAMPLES if argv[:1] == ["train"]]


@pytest.mark.parametrize("path,line,argv", TRAIN, ids=[f"{p}:{n}" for p, n, _ in TRAIN])
def test_every_train_example_resolves_its_preset_and_settings(path, line, argv):
    args = _parse(argv)
    own_data = args is not None and any(re.match(r"data\.name=\w+:", item) for item in args.set or [])
    if args is None or (args.preset or "").endswith((".yaml", ".yml")) or own_data:
        pytest.skip("help, or a preset file or data of the reader's own")
    overrides = list(args.set or []) + [f"{k}={v}" for k, v in (("train.steps", args.steps), ("seed", args.seed))
                                        if v is not None]
    try:
        cfg, _ = api.resolve_config(args.preset, overrides)
        recipes.get(cfg.recipe)
    except GanforgeError as e:
        pytest.fail(f"{path}:{line}: `ganforge {' '.join(argv)}` is refused: {e}")
