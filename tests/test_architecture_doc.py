"""docs/architecture.md stays true: every module path it names exists, and the engines it describes are registered."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"


def named_paths(text: str) -> set[str]:
    """Paths under aura_db/, tests/ or docs/ written in `code` in the page."""
    return {m.group(1).rstrip("/") for m in re.finditer(r"`((?:aura_db|tests|docs)/[\w./]*)`", text)}


def test_the_page_names_modules():
    paths = named_paths(DOC.read_text())
    assert "aura_db/engines/registry.py" in paths and len(paths) > 20


def test_every_path_the_page_names_exists():
    missing = sorted(p for p in named_paths(DOC.read_text()) if not (ROOT / p).exists())
    assert missing == [], f"docs/architecture.md names what does not exist: {missing}"


def test_a_path_that_does_not_exist_is_caught():
    assert named_paths("see `aura_db/nowhere.py` and `aura_db/cli/`") == {"aura_db/nowhere.py", "aura_db/cli"}


def test_the_engine_packages_in_the_page_are_the_registered_ones():
    from aura_db.engines.registry import ENGINES

    text = DOC.read_text()
    listed = set(re.findall(r"^  (\w+)/ +base\.py", text, re.M))
    assert listed == set(ENGINES)
    for name, cls in ENGINES.items():
        assert cls.__module__ == f"aura_db.engines.{name}.base"
        assert (ROOT / "aura_db" / "engines" / name / "features.py").is_file()
        assert (ROOT / "aura_db" / "engines" / name / "dialect.py").is_file()
        assert cls.backup_class().__module__.startswith(f"aura_db.engines.{name}.")
