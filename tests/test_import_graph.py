"""aura_db's import graph, read statically (ast): no circle, and the backup package in its layers.

An edge A -> B is any ``import`` in A's source that names B (at module level
or inside a function: a lazy import is still a dependency), except under
``if TYPE_CHECKING:``.  ``from P import x`` names P.x when that is a module,
else P; importing P.Q.R also runs P and P.Q, so each package's ``__init__``
is an edge too - except a module's own packages: a submodule always runs
inside its package's import, whatever it names.  A string naming a module
of aura_db (``"aura_db.engines.sqlite.base:SqliteEngine"``, as the engine
registry names engines it imports when asked for) is an edge as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import aura_db

ROOT = Path(aura_db.__file__).parent

# Circles that exist outside the backup and engines packages today, each a
# sorted tuple of modules.  The set may only shrink: a new circle fails, and so
# does one that is gone but still listed here (delete it from the list).
KNOWN_CYCLES: set[tuple[str, ...]] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skip.update(id(n) for n in ast.walk(inner))
    return skip


def _with_parents(name: str, modules: dict[str, Path]) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & set(modules)


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_only(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                named = node.value.partition(":")[0]
                if named in modules and named.startswith("aura_db."):
                    edges |= _with_parents(named, modules)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    edges |= _with_parents(alias.name, modules)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                edges |= _with_parents(base, modules)
                for alias in node.names:
                    if f"{base}.{alias.name}" in modules:
                        edges |= _with_parents(f"{base}.{alias.name}", modules)
        edges -= {name} | _with_parents(name, modules)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan), each as a sorted tuple."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: set[tuple[str, ...]] = set()
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.add(tuple(sorted(comp)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {("a", "b", "c")}
    assert cycles({"a": {"b"}, "b": set()}) == set()


def test_the_graph_sees_lazy_imports_and_skips_type_checking_ones():
    graph = import_graph()
    # verify imports the engine registry inside a function only.
    assert "aura_db.engines.registry" in graph["aura_db.backup.verify"]
    # engine.py names the Engine class for type checkers only.
    assert "aura_db.engines.base" not in graph["aura_db.backup.engine"]
    # The registry names the engines it imports when asked for.
    assert "aura_db.engines.mysql.base" in graph["aura_db.engines.registry"]


def test_aura_db_has_no_import_circle_but_the_known_ones():
    found = cycles(import_graph())
    assert found - KNOWN_CYCLES == set(), "new import circle(s)"
    assert KNOWN_CYCLES - found == set(), "circle(s) gone: remove them from KNOWN_CYCLES"


LEAVES = {"aura_db.backup.files", "aura_db.backup.manifest", "aura_db.backup.crypto"}
ENGINE_BACKUPS = {"aura_db.backup.engine", "aura_db.backup.server", "aura_db.engines.sqlite.backup",
                  "aura_db.engines.postgresql.backup", "aura_db.engines.mysql.backup"}
ORCHESTRATION = {"aura_db.backup.catalogue", "aura_db.backup.verify", "aura_db.backup.retention",
                 "aura_db.backup.create", "aura_db.backup.restore"}


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for w in graph.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_the_backup_package_is_in_layers():
    graph = import_graph()
    for leaf in LEAVES:
        assert not _reach(graph, leaf) & (ENGINE_BACKUPS | ORCHESTRATION), leaf
    assert graph["aura_db.backup.files"] & {m for m in graph if m.startswith("aura_db.backup.")} == set()
    for module in ENGINE_BACKUPS:
        assert not _reach(graph, module) & ORCHESTRATION, module
    # The package's __init__ re-exports lazily: importing a leaf runs no orchestration.
    assert graph["aura_db.backup"] == set()
