"""Every file of this repository that README.md or docs/*.md names in backticks exists: after a rename
(training/logging.py -> engine/stats_log.py, ...) a doc pointing at the old path fails here.

A path counts when it starts at the repository (``src/ganforge/...``, ``tests/...``, ``benchmarks/...``)
or at the package (``engine/loop.py``, ``ganforge/metrics/families.py``); bare file names and other
projects' files (``parzen_ll.py``, ``torch/...``) are not checked."""

from __future__ import annotations

import re

from doclib import DOCS, README, ROOT

PACKAGE = ROOT / "src" / "ganforge"
TOP = {p.name for p in PACKAGE.iterdir() if p.is_dir()} | {"src", "tests", "benchmarks", "ganforge", "docs"}
# Files a doc names on purpose that do not exist: the example a reader would write.
HYPOTHETICAL = {"src/ganforge/objectives/logit_penalty.py"}


def missing_paths(text: str) -> list[str]:
    missing = []
    for path in re.findall(r"`([\w./-]+\.py)\b", text):
        if "/" not in path or path.split("/")[0] not in TOP or path in HYPOTHETICAL:
            continue
        places = [ROOT / path, PACKAGE / path, ROOT / "src" / path]
        if not any(p.exists() for p in places):
            missing.append(path)
    return missing


def test_every_repository_path_the_docs_name_exists():
    missing = [f"{doc.name}: {p}" for doc in [README, *DOCS] for p in missing_paths(doc.read_text())]
    assert not missing, f"docs name files that do not exist (renamed or removed?): {missing}"


def test_a_renamed_module_is_found():
    assert missing_paths("see `training/logging.py` and `engine/stats_log.py`, `parzen_ll.py`") == [
        "training/logging.py"]
