"""Reading the docs for the tests that check them against the code: tables, fenced shell examples, the CLI.

Kept apart from the tests so that each test reads as the claim it checks. Nothing here imports more of
ganforge than the command line's parser and the preset list.
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from ganforge.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
SHELL_LANGS = {"bash", "sh", "console", "shell", ""}  # "": a bare fence, read for its ganforge lines only


def section(text: str, heading: str) -> str:
    """The text under ``## heading`` up to the next heading of the same or a higher level."""
    m = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, re.M)
    assert m, f"no heading {heading!r}"
    level = len(m.group(1))
    rest = text[m.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[:end.start()] if end else rest


def table_rows(text: str) -> list[list[str]]:
    """The body rows of every Markdown table in ``text``, as lists of cells (header and rule left out)."""
    rows, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("|") or re.match(r"^\|[-| :]+\|$", line):
            continue
        if i + 1 < len(lines) and re.match(r"^\|[-| :]+\|$", lines[i + 1]):
            continue  # a header
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([c.strip() for c in cells])
    return rows


def code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence
    lang: str
    text: str


def fenced_blocks(path: Path) -> list[Block]:
    blocks, lines = [], path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)", lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(2), m.group(3).lower(), i
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        blocks.append(Block(path, start + 1, lang, "\n".join(lines[i + 1:j])))
        i = j + 1
    return blocks


def shell_commands(block: Block) -> list[tuple[int, list[str]]]:
    """``ganforge ...`` (and ``python -m ganforge ...``) commands of a shell block, as argv after the program
    name, with their line: continuation lines joined, ``$ `` prompts and comments dropped, each command of
    ``a && b`` and ``a; b`` taken apart. Lines of other programs are left out."""
    out, pending, first, variables = [], "", 0, {}
    for n, raw in enumerate(block.text.splitlines(), start=block.line + 1):
        line = raw.rstrip()
        if not pending:
            first = n
            if block.lang == "console" and not line.lstrip().startswith("$"):
                continue  # output, not a command
            line = re.sub(r"^\s*\$\s?", "", line)
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        loop = re.match(r"^\s*for (\w+) in (\S+)", line)
        if loop:  # a loop's variable takes its first value
            variables[loop.group(1)] = loop.group(2).rstrip(";")
        line = re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m.group(1), m.group(0)), line)
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue  # not a shell line (a heredoc's body, a Python line)
        for command in _split_commands(words):
            if command[:1] == ["export"]:
                command = command[1:]
            assignments = [w for w in command if re.match(r"^[A-Za-z_]\w*=", w)]
            if command and len(assignments) == len(command):  # VAR=value lines: kept for $VAR
                variables.update(w.split("=", 1) for w in assignments)
                continue
            argv = _ganforge_argv(command)
            if argv is not None:
                out.append((first, argv))
    return out


def _split_commands(words: list[str]) -> list[list[str]]:
    parts, cur = [], []
    for w in words:
        if w in ("&&", "||", ";", "|"):
            parts.append(cur)
            cur = []
        elif w.endswith(";") and len(w) > 1:
            cur.append(w[:-1])
            parts.append(cur)
            cur = []
        else:
            cur.append(w)
    return [*parts, cur]


def _ganforge_argv(words: list[str]) -> list[str] | None:
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):  # VAR=value before the program
        words = words[1:]
    if words[:1] == ["ganforge"]:
        return words[1:]
    if len(words) >= 3 and words[0] in ("python", "python3") and words[1:3] == ["-m", "ganforge"]:
        return words[3:]
    return None


def verbs() -> dict[str, argparse.ArgumentParser]:
    """The CLI's own list of verbs: name -> its parser (from argparse's subparsers)."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option a verb takes, its sub-verbs' included (``anomaly score --maps``)."""
    found = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= option_strings(child)
    return found
