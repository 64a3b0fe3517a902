"""Every Markdown link in README.md and docs/*.md lands where it says: the file exists, and a ``#anchor``
is the slug of a heading in that file (GitHub's rule: lower case, punctuation other than ``-`` and ``_``
dropped, each space a ``-``, repeats numbered ``-1``, ``-2``...). A heading renamed from "Synthetic data
..." to "13. Synthetic data ... (issue 17)" left four links that opened the top of benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path

from doclib import DOCS, README, fenced_blocks

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6}) +(.+?) *#*$")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text (inline code and links kept as their words)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    blocks = fenced_blocks(path)
    fenced = {n for b in blocks for n in range(b.line, b.line + b.text.count("\n") + 2)}
    seen: dict[str, int] = {}
    found = set()
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        m = HEADING.match(line)
        if not m or n in fenced:
            continue
        base = slug(m.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path: Path) -> list[str]:
    blocks = fenced_blocks(path)
    fenced = {n for b in blocks for n in range(b.line, b.line + b.text.count("\n") + 2)}
    broken = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if n in fenced:
            continue
        for target in LINK.findall(line):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            if not dest.exists():
                broken.append(f"{path.name}:{n}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{path.name}:{n}: {target} (no heading with that anchor in {dest.name})")
    return broken


def test_every_link_in_the_docs_lands_on_a_file_and_heading():
    broken = [b for doc in [README, *DOCS] for b in broken_links(doc)]
    assert not broken, f"links that land nowhere (renamed heading or file?): {broken}"


def test_the_slug_rule_matches_github_s():
    assert slug("13. Synthetic data that is measured: `ganforge export` (issue 17)") == \
        "13-synthetic-data-that-is-measured-ganforge-export-issue-17"
    assert slug("MNIST with 100 labels: where it stands") == "mnist-with-100-labels-where-it-stands"


def test_a_link_to_a_renamed_heading_is_found(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("# Title\n\n## 2. Results (issue 3)\n\nsee [r](#results) and [ok](#2-results-issue-3)\n")
    assert broken_links(doc) == ["a.md:5: #results (no heading with that anchor in a.md)"]
