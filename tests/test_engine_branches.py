"""Outside aura_db/engines/, nothing branches on an engine's name or keys a table by it.

Read statically (ast): a comparison with an engine's name (``engine.name ==
"mysql"``, ``dialect in ("sqlite", ...)``) or a dict literal keyed by engine
names is engine knowledge, and belongs in the engine's package, asked for
through ``engine.features`` / ``engine.dialect`` / the registry.
"""

from __future__ import annotations

import ast
from pathlib import Path

import aura_db

ROOT = Path(aura_db.__file__).parent
NAMES = {"sqlite", "postgresql", "postgres", "mysql", "mariadb"}

# Modules allowed to hold engine knowledge outside aura_db/engines/: none.
# (Kept as a set so that a module on its way out can be listed while it moves;
# it may only shrink.)
KNOWN: set[str] = set()


def _is_name(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and node.value in NAMES:
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_is_name(e) for e in node.elts)
    return False


def branches(source: str) -> list[int]:
    """Lines of ``source`` that compare with an engine's name or key a dict literal by one."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(_is_name(n) for n in [node.left, *node.comparators]):
            lines.append(node.lineno)
        elif isinstance(node, ast.Dict) and sum(_is_name(k) for k in node.keys if k is not None) >= 2:
            lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and _is_name(node.slice):
            lines.append(node.lineno)
    return lines


def offenders() -> dict[str, list[int]]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).as_posix()
        if rel.startswith("aura_db/engines/"):
            continue
        lines = branches(path.read_text())
        if lines:
            found[rel] = lines
    return found


def test_the_reader_sees_a_branch_and_a_table():
    assert branches('if engine.name == "mysql":\n    pass\n') == [1]
    assert branches('x = d in ("sqlite", "postgresql")\n') == [1]
    assert branches('T = {"sqlite": 1, "mysql": 2}\n') == [1]
    assert branches('types = FIELD_TYPES["sqlite"]\n') == [1]
    assert branches('if engine.features.transactional_ddl:\n    pass\n') == []


def test_no_module_outside_the_engines_branches_on_an_engine_name():
    found = offenders()
    new = {m: lines for m, lines in found.items() if m not in KNOWN}
    assert new == {}, "engine knowledge outside aura_db/engines/ (ask the engine instead)"
    assert KNOWN - set(found) == set(), "these no longer branch: remove them from KNOWN"
