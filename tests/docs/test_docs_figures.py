"""Every measured figure quoted in README.md or docs/*.md carries the command that produced it.

The rule, checkable: a Markdown table whose body holds a measured-looking number (a decimal point, a
``±`` or a percentage) must have, in its own section or the ``##`` section around it, a command that
produced it: a fenced line running ``ganforge ...``, ``python benchmarks/...`` or ``bash benchmarks/...``,
such a command in backticks in the text, or a link to docs/benchmarks.md (where every benchmark's
commands stand beside its tables). A table of settings or descriptions, whose numbers were not
measured, says so on the line before it: ``<!-- not measured: ... -->``. A new table of results
without its command fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from doclib import DOCS, README, fenced_blocks

COMMAND_LINE = re.compile(r"^\s*(?:\$ )?(?:[A-Z_]+=\S+ )*(?:ganforge |python3? (?:-m ganforge|benchmarks/)|"
                          r"bash benchmarks/)", re.M)
COMMAND_IN_TEXT = re.compile(r"`(?:[A-Z_]+=\S+ )*(?:ganforge \w|python3? (?:-m ganforge|benchmarks/)|"
                             r"bash benchmarks/)[^`]*`|benchmarks\.md")
MEASURED = re.compile(r"\d\.\d|±|\d%")
NOT_MEASURED = "<!-- not measured"
RULE = re.compile(r"^\|[-| :]+\|$")


def tables_without_their_command(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    blocks = fenced_blocks(path)
    fenced = {n for b in blocks for n in range(b.line, b.line + b.text.count("\n") + 2)}  # 1-based lines
    heads = [(i, len(re.match(r"^#+", line).group(0))) for i, line in enumerate(lines)
             if i + 1 not in fenced and re.match(r"^#{1,6} ", line)]

    def has_command(start: int, end: int) -> bool:
        return (any(COMMAND_LINE.search(b.text) for b in blocks if start < b.line <= end)
                or any(COMMAND_IN_TEXT.search(lines[i]) for i in range(start, end) if i + 1 not in fenced))

    missing = []
    for i, line in enumerate(lines):
        if i + 1 in fenced or not line.startswith("|") or i + 1 >= len(lines) or not RULE.match(lines[i + 1]):
            continue
        end = i + 2
        while end < len(lines) and lines[end].startswith("|"):
            end += 1
        if not any(MEASURED.search(row) for row in lines[i + 2:end]):
            continue
        if any(NOT_MEASURED in lines[k] for k in range(max(0, i - 2), i)):
            continue
        found, level = False, 99
        for h, lv in reversed(heads):  # the table's section, then the sections around it down to ##
            if h > i or lv >= level or lv < 2:
                continue
            level = lv
            stop = next((h2 for h2, l2 in heads if h2 > h and l2 <= lv), len(lines))
            if has_command(h, stop):
                found = True
                break
        if not found:
            missing.append(f"{path.name}:{i + 1}: {line[:80]}")
    return missing


def test_every_table_of_figures_carries_its_command():
    missing = [m for path in [README, *DOCS] for m in tables_without_their_command(path)]
    assert not missing, ("tables of figures without the command that produced them (add it, or mark a table "
                         "of settings `<!-- not measured: why -->`):\n" + "\n".join(missing))


def test_a_table_of_figures_without_a_command_is_found(tmp_path):
    doc = tmp_path / "d.md"
    table = "| run | fid |\n|---|---|\n| a | 12.5 |\n"
    doc.write_text(f"# T\n\n## Results\n\n{table}")
    assert tables_without_their_command(doc) == ["d.md:5: | run | fid |"]
    doc.write_text(f"# T\n\n## Results\n\n```bash\nganforge eval runs/a\n```\n\n### Detail\n\n{table}")
    assert tables_without_their_command(doc) == []
    doc.write_text(f"# T\n\n## Settings\n\n<!-- not measured: defaults -->\n{table}")
    assert tables_without_their_command(doc) == []
