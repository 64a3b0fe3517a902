"""README and docs/architecture.md say what ganforge unpickles: only MNIST's and CIFAR-10's published pickles,
through the array-only unpickler of data/safe_pickle.py, and a user's ``.pt`` weights through
``torch.load(weights_only=True)``. This holds the code to that: every unpickling call in src/ganforge is one
of those (found by reading the code, not by running it)."""

from __future__ import annotations

import ast
from pathlib import Path

from doclib import README, ROOT

SRC = ROOT / "src" / "ganforge"
SAFE = SRC / "data" / "safe_pickle.py"


def _keyword(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def unsafe_unpickling(path: Path, root: Path = SRC.parent) -> list[str]:
    """Calls that may run a pickle's code: pickle.load(s) / pickle.Unpickler, numpy's load with
    allow_pickle=True, torch.load without weights_only=True."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
        name = node.func.attr
        allow = _keyword(node, "allow_pickle")
        weights_only = _keyword(node, "weights_only")
        if ((owner in ("pickle", "cPickle", "dill") and name in ("load", "loads", "Unpickler"))
                or (owner in ("np", "numpy") and name == "load" and not (allow is None or (
                    isinstance(allow, ast.Constant) and allow.value is False)))
                or (owner == "torch" and name == "load" and not (
                    isinstance(weights_only, ast.Constant) and weights_only.value is True))):
            found.append(f"{path.relative_to(root)}:{node.lineno} {owner}.{name}")
    return found


def test_every_unpickling_in_the_package_is_a_restricted_one():
    found = [f for path in sorted(SRC.rglob("*.py")) if path != SAFE for f in unsafe_unpickling(path)]
    assert not found, f"unpickling that can run code, against what README says: {found}"


def test_the_readme_names_the_safe_unpickler_and_claims_no_more():
    text = README.read_text()
    assert "data/safe_pickle.py" in text and "Nothing ganforge loads is unpickled" not in text


def test_the_scan_finds_an_unrestricted_load(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import pickle, torch, numpy as np\npickle.loads(b'')\ntorch.load('w.pt')\n"
                   "np.load('x.npy', allow_pickle=True)\ntorch.load('w.pt', weights_only=True)\nnp.load('x.npy')\n")
    assert unsafe_unpickling(bad, tmp_path) == ["bad.py:2 pickle.loads", "bad.py:3 torch.load", "bad.py:4 np.load"]
