"""docs/schema.md documents every table, column and index the models define."""

from __future__ import annotations

import importlib.util
import re

import peewee as pw
import pytest

from aura_db.migrations import HISTORY_TABLE, LOG_TABLE, _history_models
from aura_db.models.schema import INDEXES, MODELS, index_name
from conftest import REPO

DOC = REPO / "docs" / "schema.md"


def _sections() -> dict[str, str]:
    """'### Table' heading -> the text up to the next heading."""
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^### (\S+)\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _column_rows(section: str) -> dict[str, list[str]]:
    rows = {}
    columns_table = section.split("| index |", 1)[0]  # the index table has a yes column too
    for line in columns_table.splitlines():
        m = re.match(r"^\| `([^`]+)` \| ([^|]*)\| (yes|no) \|", line)
        if m:
            rows[m.group(1)] = [m.group(2).strip(), m.group(3)]
    return rows


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.table_name)
def test_every_column_is_documented_with_type_and_null(model):
    section = _sections().get(model._meta.table_name)
    assert section is not None, f"docs/schema.md has no section for {model._meta.table_name}"
    rows = _column_rows(section)
    for field in model._meta.sorted_fields:
        assert field.column_name in rows, f"{model._meta.table_name}.{field.column_name} is not in docs/schema.md"
        assert rows[field.column_name][1] == ("yes" if field.null else "no"), field.column_name
    assert set(rows) == {f.column_name for f in model._meta.sorted_fields}, "documented columns the model lacks"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.table_name)
def test_every_index_is_documented_with_columns_and_a_purpose(model):
    section = _sections()[model._meta.table_name]
    for m, cols, unique in INDEXES:
        if m is not model:
            continue
        name = index_name(m, cols)
        line = next((ln for ln in section.splitlines() if ln.startswith(f"| `{name}` |")), None)
        assert line is not None, f"index {name} is not in docs/schema.md"
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == ", ".join(f"`{m._meta.fields[c].column_name}`" for c in cols), name
        assert cells[2] == ("yes" if unique else ""), name
        assert len(cells[3]) > 15, f"{name}: say which query it serves"


def test_all_indexes_and_tables_counted():
    text = DOC.read_text(encoding="utf-8")
    names = set(re.findall(r"\| `(IX_[A-Za-z0-9_]+)` \|", text))
    assert names == {index_name(m, c) for m, c, _ in INDEXES}
    assert len(names) == 146 and len(MODELS) == 34


def test_aura_db_own_tables_are_documented():
    history, log = _history_models(pw.SqliteDatabase(None))
    sections = _sections()
    for table, model in ((HISTORY_TABLE, history), (LOG_TABLE, log)):
        assert table in sections, table
        assert set(_column_rows(sections[table])) == {f.column_name for f in model._meta.sorted_fields}


def test_generated_part_is_up_to_date():
    spec = importlib.util.spec_from_file_location("generate_schema", REPO / "docs" / "generate_schema.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    current = DOC.read_text(encoding="utf-8")
    assert gen.render(current) == current, "docs/schema.md is out of date: run python docs/generate_schema.py"
