"""The package's import structure: no cycles between modules or between packages, no lazy imports.

Imports inside functions hide cycles (the code runs, the dependency is still circular), so the
scan below reads every module with :mod:`ast` instead of importing it:

- module-level imports of the package are edges (imports under ``if TYPE_CHECKING:`` are not:
  they never run, so they cannot make a cycle; they are kept apart, as ``Scan.typing``, and checked
  against the documented order like the others, since a name read only by a type checker is still a
  reference upwards); ``from pkg import x`` is an edge to ``pkg.x`` when ``x`` is a module, else to
  ``pkg``; importing ``pkg.a.b`` also runs ``pkg/a/__init__.py``, so that is an edge too (unless
  ``pkg.a`` is the importer's own package, which is already being imported);
- (a) no cycle between modules; (b) none between top-level packages (``engine``, ``runs``, ...;
  the root ``__init__`` re-exports the API and its own edges are left out); (c) no import of the
  package inside a function, except the listed ones.

The checks are functions of a package directory, so the tests at the end can show on small
synthetic packages that each one finds what it is for.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ganforge"

# (c) Imports of ganforge inside functions that exist today, as (file under src/, imported module).
# Each is a cycle waiting to happen or a hidden one; the list may only shrink. Empty: none today.
LAZY_IMPORTS_ALLOWED: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Edge:
    importer: str  # dotted module name
    target: str  # dotted module name
    file: str  # path relative to the package's parent directory (e.g. ganforge/engine/loop.py)
    line: int
    implicit: bool = False  # the package __init__ an import of one of its modules runs

    def where(self) -> str:
        via = " (its package __init__)" if self.implicit else ""
        return f"{self.file}:{self.line} {self.importer} -> {self.target}{via}"


@dataclass
class Scan:
    package: str
    modules: dict[str, Path]  # dotted name -> file
    edges: list[Edge]  # module-level imports (explicit and implicit)
    lazy: list[Edge]  # imports inside functions
    typing: list[Edge]  # imports under ``if TYPE_CHECKING:`` (never run; checked against the order only)


def _module_names(root: Path) -> dict[str, Path]:
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _literal_dynamic_import(node: ast.Call) -> str | None:
    """The module of ``importlib.import_module("pkg.x")`` / ``__import__("pkg.x")`` with a literal name."""
    f = node.func
    named = (isinstance(f, ast.Attribute) and f.attr == "import_module") or (
        isinstance(f, ast.Name) and f.id in ("import_module", "__import__"))
    if named and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def scan_package(root: Path) -> Scan:
    """Every import of the package ``root.name`` by its own modules, from their source."""
    package = root.name
    modules = _module_names(root)
    edges: list[Edge] = []
    lazy: list[Edge] = []
    typing: list[Edge] = []

    def existing(name: str) -> str:
        """The module an import of ``name`` loads (the longest prefix that is a module)."""
        parts = name.split(".")
        while parts and ".".join(parts) not in modules:
            parts.pop()
        return ".".join(parts) if parts else package

    def ours(name: str) -> bool:
        return name == package or name.startswith(package + ".")

    for importer, path in modules.items():
        is_pkg = path.name == "__init__.py"
        own_package = importer if is_pkg else importer.rpartition(".")[0]
        rel = path.relative_to(root.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

        def targets(node: ast.AST) -> list[str]:
            if isinstance(node, ast.Import):
                return [existing(a.name) for a in node.names if ours(a.name)]
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = own_package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                if not ours(module):
                    return []
                return [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else existing(module)
                        for a in node.names]
            if isinstance(node, ast.Call):
                name = _literal_dynamic_import(node)
                return [existing(name)] if name and ours(name) else []
            return []

        def record(node: ast.AST, in_function: bool) -> None:
            for target in targets(node):
                if target == importer:
                    continue
                if in_function:
                    lazy.append(Edge(importer, target, rel, node.lineno))
                    continue
                edges.append(Edge(importer, target, rel, node.lineno))
                # Importing pkg.a.b first runs pkg/a/__init__.py (unless pkg.a is being imported already).
                parts = target.split(".")
                for i in range(2, len(parts)):
                    parent = ".".join(parts[:i])
                    if parent != importer and not (own_package == parent or own_package.startswith(parent + ".")):
                        edges.append(Edge(importer, parent, rel, node.lineno, implicit=True))

        def visit(node: ast.AST, in_function: bool) -> None:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for child in node.body:  # never runs: read by type checkers only
                    for inner in ast.walk(child):
                        typing.extend(Edge(importer, t, rel, inner.lineno) for t in targets(inner) if t != importer)
                for child in node.orelse:  # the else branch does run
                    visit(child, in_function)
                return
            record(node, in_function)
            inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            for child in ast.iter_child_nodes(node):
                visit(child, inner)

        visit(tree, False)
    return Scan(package, modules, edges, lazy, typing)


def find_cycles(edges: list[Edge], node_of=lambda name: name) -> list[list[Edge]]:
    """One cycle (as its edges, in order) per strongly connected component of more than one node."""
    graph: dict[str, dict[str, Edge]] = {}
    for e in edges:
        a, b = node_of(e.importer), node_of(e.target)
        if a is None or b is None or a == b:
            continue
        graph.setdefault(a, {}).setdefault(b, e)
        graph.setdefault(b, {})

    # Tarjan's strongly connected components (iterative).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))

    cycles = []
    for component in components:
        members = set(component)
        start = component[0]
        # Shortest path back to start inside the component (breadth first): a readable cycle.
        previous: dict[str, str] = {}
        frontier, found = [start], None
        while frontier and found is None:
            following = []
            for node in frontier:
                for child in sorted(graph[node]):
                    if child not in members:
                        continue
                    if child == start:
                        found = node
                        break
                    if child not in previous:
                        previous[child] = node
                        following.append(child)
                if found is not None:
                    break
            frontier = following
        path = [found]
        while path[-1] != start:
            path.append(previous[path[-1]])
        path.reverse()  # start ... found
        path.append(start)
        cycles.append([graph[a][b] for a, b in zip(path, path[1:])])
    return cycles


def top_level(package: str):
    """Node function for the package graph: ``pkg.engine.loop`` -> ``pkg.engine``, ``pkg`` -> ``pkg``."""

    def node_of(name: str) -> str:
        parts = name.split(".")
        return ".".join(parts[:2])

    return node_of


def describe(cycles: list[list[Edge]], node_of=lambda name: name) -> str:
    lines = []
    for cycle in cycles:
        nodes = [node_of(e.importer) for e in cycle] + [node_of(cycle[0].importer)]
        lines.append(" -> ".join(nodes))
        lines += [f"    {e.where()}" for e in cycle]
    return "\n".join(lines)


def module_cycles(scan: Scan) -> list[list[Edge]]:
    return find_cycles(scan.edges)


def package_cycles(scan: Scan) -> list[list[Edge]]:
    node_of = top_level(scan.package)
    return find_cycles([e for e in scan.edges if e.importer != scan.package], node_of)


def lazy_imports(scan: Scan, allowed: set[tuple[str, str]] = frozenset()) -> list[Edge]:
    return [e for e in scan.lazy if (e.file, e.target) not in allowed]


# ---- the package itself ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scan() -> Scan:
    assert SRC.is_dir(), SRC
    return scan_package(SRC)


def test_the_scan_sees_the_package(scan):
    # A scan that found nothing would pass every check below.
    assert {"ganforge", "ganforge.engine.loop", "ganforge.recipes", "ganforge.objectives.losses"} <= set(scan.modules)
    assert any(e.importer == "ganforge.engine.loop" and e.target == "ganforge.recipes" for e in scan.edges)
    assert len({node for e in scan.edges for node in (e.importer, e.target)}) > 40


def test_no_import_cycle_between_modules(scan):
    cycles = module_cycles(scan)
    assert not cycles, "import cycles between modules:\n" + describe(cycles)


def test_no_import_cycle_between_packages(scan):
    cycles = package_cycles(scan)
    assert not cycles, "import cycles between packages:\n" + describe(cycles, top_level(scan.package))


def test_no_imports_inside_functions(scan):
    found = lazy_imports(scan, LAZY_IMPORTS_ALLOWED)
    assert not found, ("imports of ganforge inside functions (move them to the top of the module; a cycle "
                       "they hide shows in the tests above):\n" + "\n".join(e.where() for e in found))


# ---- the checks find what they are for (synthetic packages) ---------------------------------------

def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "fakepkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_a_module_cycle_is_found_and_printed(tmp_path):
    root = _package(tmp_path, {
        "a.py": "import os\nfrom fakepkg.b import thing\n",
        "b.py": "from fakepkg import c\nthing = 1\n",
        "c.py": "import fakepkg.a\n",
        "d.py": "from fakepkg.a import x\n",  # into the cycle, not part of it
    })
    scan = scan_package(root)
    cycles = module_cycles(scan)
    assert len(cycles) == 1
    assert [e.importer for e in cycles[0]] == ["fakepkg.a", "fakepkg.b", "fakepkg.c"]
    text = describe(cycles)
    assert "fakepkg.a -> fakepkg.b -> fakepkg.c -> fakepkg.a" in text
    assert "fakepkg/a.py:2" in text and "fakepkg/b.py:1" in text and "fakepkg/c.py:1" in text


def test_type_checking_imports_are_not_edges_but_their_else_branch_is(tmp_path):
    files = {
        "a.py": "from fakepkg.b import thing\n",
        "b.py": """\
            from typing import TYPE_CHECKING
            import typing
            thing = 1
            if TYPE_CHECKING:
                from fakepkg.a import x
            if typing.TYPE_CHECKING:
                import fakepkg.a
            """,
    }
    assert not module_cycles(scan_package(_package(tmp_path / "one", files)))
    files["b.py"] = textwrap.dedent(files["b.py"]) + "else:\n    import fakepkg.a\n"
    assert module_cycles(scan_package(_package(tmp_path / "two", files)))


def test_relative_imports_and_names_from_a_package_resolve(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "from fakepkg.api import run\nVERSION = 1\n",
        "api.py": "from . import sub\nfrom .sub.deep import f\nrun = 1\n",
        "sub/__init__.py": "from .. import VERSION\n",  # a name from the root: an edge to the root
        "sub/deep.py": "from ..sub import g\nf = 1\n",  # a name from its own package: no edge
    })
    edges = {(e.importer, e.target, e.implicit) for e in scan_package(root).edges}
    assert ("fakepkg.api", "fakepkg.sub", False) in edges
    assert ("fakepkg.api", "fakepkg.sub.deep", False) in edges
    assert ("fakepkg.api", "fakepkg.sub", True) in edges  # running sub/__init__.py on the way
    assert ("fakepkg.sub", "fakepkg", False) in edges
    assert not any(e[0] == "fakepkg.sub.deep" and e[1] != "fakepkg.sub" for e in edges)
    # fakepkg -> api -> sub -> fakepkg is a module cycle (a name taken from the half-imported root) ...
    scan = scan_package(root)
    assert [e.importer for e in module_cycles(scan)[0]] == ["fakepkg", "fakepkg.api", "fakepkg.sub"]
    # ... but the root's own edges do not count between packages.
    assert not package_cycles(scan)


def test_a_cycle_through_a_package_init_is_found(tmp_path):
    # x.m imports y.n, whose package __init__ imports x.k, whose package __init__ ... is x's: cycle.
    root = _package(tmp_path, {
        "x/__init__.py": "from fakepkg.x.m import m\n",
        "x/m.py": "from fakepkg.y.n import n\nm = 1\n",
        "x/k.py": "k = 1\n",
        "y/__init__.py": "from fakepkg.y.p import p\n",
        "y/n.py": "n = 1\n",
        "y/p.py": "import fakepkg.x.k\np = 1\n",
    })
    scan = scan_package(root)
    cycles = module_cycles(scan)
    assert cycles, "x/__init__ -> x.m -> y/__init__ (implicit) -> y.p -> x/__init__ (implicit)"
    assert "its package __init__" in describe(cycles)


def test_a_package_cycle_without_a_module_cycle_is_found(tmp_path):
    root = _package(tmp_path, {
        "x/__init__.py": "",
        "x/m.py": "from fakepkg.y.n import n\nm = 1\n",
        "x/k.py": "k = 1\n",
        "y/__init__.py": "",
        "y/n.py": "n = 1\n",
        "y/p.py": "from fakepkg.x.k import k\n",
        "z.py": "import fakepkg.x.m\n",
    })
    scan = scan_package(root)
    assert not module_cycles(scan)
    cycles = package_cycles(scan)
    assert len(cycles) == 1
    text = describe(cycles, top_level(scan.package))
    assert text.splitlines()[0] == "fakepkg.x -> fakepkg.y -> fakepkg.x"
    assert "fakepkg/x/m.py:1" in text and "fakepkg/y/p.py:1" in text


def test_imports_inside_functions_are_listed_with_file_and_line(tmp_path):
    root = _package(tmp_path, {
        "a.py": """\
            import json

            def f():
                import json
                from fakepkg import b
                return b

            class C:
                from fakepkg.b import thing  # module level: runs on import

                def method(self):
                    if True:
                        from fakepkg.b import thing
                    return thing

            async def g():
                import importlib
                return importlib.import_module("fakepkg.b")

            def h(name):
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from fakepkg.b import thing
                return __import__(name)
            """,
        "b.py": "thing = 1\n",
    })
    scan = scan_package(root)
    found = lazy_imports(scan)
    assert [e.where() for e in found] == ["fakepkg/a.py:5 fakepkg.a -> fakepkg.b",
                                          "fakepkg/a.py:13 fakepkg.a -> fakepkg.b",
                                          "fakepkg/a.py:18 fakepkg.a -> fakepkg.b"]
    assert ("fakepkg.a", "fakepkg.b") in {(e.importer, e.target) for e in scan.edges}  # the class body's
    assert lazy_imports(scan, {("fakepkg/a.py", "fakepkg.b")}) == []


# docs/architecture.md's dependency order, checked against the imports (issue 30: the drawing had drifted).
ARCHITECTURE = SRC.parents[1] / "docs" / "architecture.md"


def documented_order(text: str) -> tuple[list[set[str]], dict[str, set[str]]]:
    """(groups of the ``a, b ← c ← ...`` chain, lowest first; ``{package: what it "needs only"}``) from
    the paragraph that starts "Packages depend downwards only"."""
    para = text[text.index("Packages depend downwards only"):]
    para = para[:para.index("\n## ")] if "\n## " in para else para
    chain = next(line for line in para.split("\n\n") if "←" in line)
    groups = [{name.strip() for name in part.strip().strip("`").split(",")} for part in chain.split("←")]
    needs = {m.group(1): set(re.findall(r"`(\w+)`", m.group(2)))
             for m in re.finditer(r"`(\w+)` (?:\([^)]*\) )?needs only (.*?)(?:;|\.\s|\(|$)", para, re.S)}
    return groups, needs


def package_deps(edges: list[Edge]) -> dict[str, set[str]]:
    """Top-level package (or module) -> the others it imports (``Scan.edges``: at module level, or
    ``Scan.typing``: under ``TYPE_CHECKING``); the root re-export left out."""
    deps: dict[str, set[str]] = {}
    for e in edges:
        a, b = e.importer.split(".")[1:2], e.target.split(".")[1:2]
        if a and b and a != b and a[0] != "__main__":
            deps.setdefault(a[0], set()).add(b[0])
    return deps


def order_violations(groups: list[set[str]], needs: dict[str, set[str]], deps: dict[str, set[str]],
                     present: set[str]) -> list[str]:
    rank = {name: i for i, group in enumerate(groups) for name in group}
    wrong = [f"{name} is not in docs/architecture.md's order" for name in sorted(present - rank.keys())]
    wrong += [f"the order names {name}, which is not a package" for name in sorted(rank.keys() - present)]
    for a, targets in sorted(deps.items()):
        for b in sorted(targets):
            if a in rank and b in rank and rank[b] > rank[a]:
                wrong.append(f"{a} imports {b}, which the order puts after it")
    for a, allowed in sorted(needs.items()):
        if deps.get(a, set()) - allowed:
            wrong.append(f"{a} 'needs only' {sorted(allowed)} but imports {sorted(deps[a] - allowed)}")
    return wrong


def _present() -> set[str]:
    """The package's top-level packages and modules, as the order names them."""
    return {p.stem if p.is_file() else p.name for p in SRC.iterdir()
            if (p.suffix == ".py" and p.stem not in ("__init__", "__main__")) or (p / "__init__.py").exists()}


def test_architecture_md_dependency_order_is_the_imports(scan):
    groups, needs = documented_order(ARCHITECTURE.read_text())
    assert len(groups) > 5 and needs, "the order was not found in docs/architecture.md"
    assert not (wrong := order_violations(groups, needs, package_deps(scan.edges), _present())), "\n".join(wrong)


# Imports under TYPE_CHECKING against the order that exist today, as (importer's package, imported package),
# each with its reason; the list may only shrink. An annotation names what it reads (a Protocol, as
# metrics/translation_eval.OpenedRun does) instead of importing upwards.
TYPING_AGAINST_ORDER_ALLOWED: dict[tuple[str, str], str] = {
    ("objectives", "config"): "the objectives' attach(cfg, ...) functions annotate RunConfig; config imports "
                              "objectives to validate itself, so they cannot import it at run time",
}


def typing_deps(scan: Scan, allowed: dict[tuple[str, str], str]) -> dict[str, set[str]]:
    """:func:`package_deps` of the ``TYPE_CHECKING`` imports, without the ``allowed`` pairs."""
    deps = package_deps(scan.typing)
    return {a: {b for b in targets if (a, b) not in allowed} for a, targets in deps.items()}


def test_type_checking_imports_keep_the_documented_order(scan):
    # Never run, so no cycle; but a name a type checker reads is still a reference, and one upwards means
    # the lower package is written against the higher one.
    assert scan.typing, "the scan saw no TYPE_CHECKING import (the objectives have some)"
    used = package_deps(scan.typing)
    stale = [pair for pair in TYPING_AGAINST_ORDER_ALLOWED if pair[1] not in used.get(pair[0], set())]
    assert not stale, f"allowed exceptions no import needs any more (remove them): {stale}"
    groups, needs = documented_order(ARCHITECTURE.read_text())
    deps = typing_deps(scan, TYPING_AGAINST_ORDER_ALLOWED)
    assert not (wrong := order_violations(groups, needs, deps, _present())), (
        "imports under TYPE_CHECKING against docs/architecture.md's order (name what the code reads with a "
        "Protocol in the lower package instead):\n" + "\n".join(wrong))


def test_a_type_checking_import_against_the_order_is_found(tmp_path):
    root = _package(tmp_path, {
        "low/__init__.py": "",
        "low/m.py": """\
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from fakepkg.high.run import Run
            else:
                import fakepkg.other
            """,
        "high/__init__.py": "",
        "high/run.py": "from fakepkg.low.m import x\n",
        "other.py": "",
    })
    scan = scan_package(root)
    assert not module_cycles(scan) and not package_cycles(scan)  # it never runs, so it is no cycle
    assert [e.where() for e in scan.typing] == ["fakepkg/low/m.py:3 fakepkg.low.m -> fakepkg.high.run"]
    assert package_deps(scan.typing) == {"low": {"high"}}
    assert package_deps(scan.edges) == {"low": {"other"}, "high": {"low"}}
    groups, needs = [{"other"}, {"low"}, {"high"}], {}
    present = {"other", "low", "high"}
    assert order_violations(groups, needs, typing_deps(scan, {}), present) == [
        "low imports high, which the order puts after it"]
    assert order_violations(groups, needs, typing_deps(scan, {("low", "high"): "why"}), present) == []


def test_an_import_against_the_documented_order_is_found():
    text = ("Packages depend downwards only:\n\n`errors` ← `data` ← `cli`\n\n`data` needs only `errors`.\n")
    groups, needs = documented_order(text)
    assert groups == [{"errors"}, {"data"}, {"cli"}] and needs == {"data": {"errors"}}
    present = {"errors", "data", "cli"}
    assert order_violations(groups, needs, {"data": {"errors"}, "cli": {"data"}}, present) == []
    assert order_violations(groups, needs, {"data": {"errors", "cli"}}, present) == [
        "data imports cli, which the order puts after it", "data 'needs only' ['errors'] but imports ['cli']"]
    assert order_violations(groups, needs, {}, present | {"serve"}) == ["serve is not in docs/architecture.md's order"]
