"""Reading a live database's own description of itself, per engine.

``verify`` and ``inspect`` ask the same questions of every engine (which
tables, columns, indexes and foreign keys exist; how many rows; how large;
does this query use an index), and each engine answers from its own catalog:
SQLite from ``PRAGMA``s and ``dbstat``, PostgreSQL from ``pg_catalog``,
MySQL/MariaDB from ``information_schema``.  One ``Catalog`` subclass per
engine, in the engine's package (``aura_db/engines/<engine>/catalog.py``);
``engine.catalog(db)`` gives it, and nothing else branches on the engine.
This module holds what they share: the ``Catalog`` interface and the
dataclasses it answers with.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

MAX_PROBLEMS = 200  # a badly damaged file can report thousands; the first ones say enough

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.engines.base import Engine


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as the engine spells it
    nullable: bool
    default: str | None = None
    primary_key: bool = False


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str
    target_table: str
    target_column: str
    on_delete: str  # CASCADE, NO ACTION, RESTRICT, SET NULL, SET DEFAULT


@dataclass
class TableSize:
    data_bytes: int | None
    index_bytes: int | None
    exact: bool
    how: str  # where the figure comes from, e.g. "dbstat", "estimate from sampled rows"

    @property
    def total_bytes(self) -> int | None:
        if self.data_bytes is None:
            return None
        return self.data_bytes + (self.index_bytes or 0)


@dataclass
class Plan:
    lines: list[str]
    uses_index: bool
    full_scan_of: list[str] = field(default_factory=list)
    sorts: bool = False


@dataclass
class Integrity:
    ran: str  # what was run, e.g. "PRAGMA quick_check"
    problems: list[str]


class Catalog:
    """What verify and inspect need from one engine's catalog."""

    name = "?"
    # Tables that belong to the engine itself, never to the application.
    internal_table = re.compile(r"^$")

    def __init__(self, engine: "Engine", db: "pw.Database"):
        self.engine = engine
        self.db = db

    # -- helpers -----------------------------------------------------------
    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    @property
    def param(self) -> str:
        return self.db.param

    def rows(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        return list(self.db.execute_sql(sql, tuple(params)).fetchall())

    def scalar(self, sql: str, params: tuple | list = ()) -> Any:
        row = self.db.execute_sql(sql, tuple(params)).fetchone()
        return row[0] if row else None

    # -- names -------------------------------------------------------------
    @property
    def case_insensitive_names(self) -> bool:
        """Whether the engine takes ``ProjectStates`` and ``projectstates`` for the same table."""
        return False

    def folds_names_on_compare(self) -> bool:
        """Whether a schema comparison takes ``Templates`` and ``templates`` for one table."""
        return False

    def fold(self, name: str) -> str:
        """``name`` as the engine compares table and column names."""
        return name.casefold() if self.case_insensitive_names else name

    def live_names(self) -> dict[str, str]:
        """Folded name -> the table's name as the catalog spells it."""
        return {self.fold(t): t for t in self.tables()}

    def find_table(self, name: str) -> str | None:
        """The live table the engine would take ``name`` for, spelled as the catalog spells it."""
        return self.live_names().get(self.fold(name))

    # -- structure ---------------------------------------------------------
    def tables(self) -> list[str]:
        return sorted(t for t in self.db.get_tables() if not self.internal_table.match(t))

    def columns(self, table: str) -> list[Column]:
        raise NotImplementedError

    def indexes(self, table: str) -> list[Index]:
        """Named indexes, without the one the engine keeps for the primary key."""
        raise NotImplementedError

    def foreign_keys(self, table: str) -> list[ForeignKey]:
        raise NotImplementedError

    def normalize_type(self, type_name: str) -> str:
        """One spelling per type, so the models' DDL and the catalog compare equal."""
        t = re.sub(r"\s+", " ", type_name.strip().lower())
        t = re.sub(r"\s*\(\s*", "(", t)
        t = re.sub(r"\s*,\s*", ",", t)
        t = re.sub(r"\s*\)", ")", t)
        return t

    # -- contents ----------------------------------------------------------
    def row_count(self, table: str) -> int:
        return int(self.scalar(f"SELECT COUNT(*) FROM {self.quote(table)}"))

    def sample_rows(self, table: str, limit: int) -> tuple[list[str], list[tuple]]:
        cursor = self.db.execute_sql(f"SELECT * FROM {self.quote(table)} LIMIT {int(limit)}")
        names = [d[0] for d in cursor.description]
        return names, [tuple(r) for r in cursor.fetchall()]

    def sizes(self, tables: list[str]) -> dict[str, TableSize]:
        raise NotImplementedError

    def facts(self) -> dict[str, Any]:
        """Engine facts for `inspect`: size, page size, journal mode..."""
        raise NotImplementedError

    def health(self) -> dict[str, Any]:
        """Figures of a live database: latency of a trivial query, connections."""
        timings = []
        for _ in range(5):
            t0 = time.perf_counter()
            self.db.execute_sql("SELECT 1").fetchone()
            timings.append((time.perf_counter() - t0) * 1000)
        return {"latency_ms": round(statistics.median(timings), 3)}

    # -- checks ------------------------------------------------------------
    def settings_check(self) -> tuple[str, list[str]]:
        """(summary, problems): database or server settings that would garble or cut the app's text.

        Each problem names what to change; ``verify`` reports them as a
        warning (the data is not wrong yet, only at risk).
        """
        return "text is stored as UTF-8", []

    def integrity(self, full: bool) -> Integrity:
        raise NotImplementedError

    def orphans(self, fks: list[ForeignKey], full: bool = False) -> dict[str, int]:
        """Rows whose foreign key points at no parent, counted per child table.

        Works from the foreign keys the application expects, so orphans are
        found even where the constraint itself is missing.  The distinct key
        values come from the child's index on the key column (every Aura
        foreign key has one), so the parent is probed once per parent, not
        once per child row; rows are only counted for keys found missing.
        """
        out: dict[str, int] = {}
        q = self.quote
        for fk in fks:
            c, k, p, pk = q(fk.table), q(fk.column), q(fk.target_table), q(fk.target_column)
            n = self.scalar(
                f"SELECT COUNT(*) FROM {c} WHERE {k} IN (SELECT d.k FROM "
                f"(SELECT DISTINCT {k} AS k FROM {c} WHERE {k} IS NOT NULL) d "
                f"WHERE NOT EXISTS (SELECT 1 FROM {p} x WHERE x.{pk} = d.k))")
            if n:
                out[fk.table] = out.get(fk.table, 0) + int(n)
        return out

    def iterate(self, sql: str, params: tuple | list = ()):
        """Rows one at a time, for results too large to hold twice."""
        return iter(self.db.execute_sql(sql, tuple(params)))

    def explain(self, sql: str, params: tuple, table: str) -> Plan:
        raise NotImplementedError

    @property
    def concurrent_connections(self) -> bool:
        """A second connection sees the same database (not so for SQLite :memory:)."""
        return True


def text_of(value: Any) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


def catalog_for(engine: "Engine", db: "pw.Database") -> Catalog:
    """The engine's catalog reader over ``db`` (``engine.catalog(db)``)."""
    return engine.catalog(db)


def name_folder(engine: "Engine", db: "pw.Database") -> Any:
    """A function giving a name as ``engine`` compares table names (see ``Catalog.fold``)."""
    return catalog_for(engine, db).fold


def expected_type(db: "pw.Database", field: Any) -> str:
    """The column type a model field gets on ``db``, as the migrations create it."""
    from types import SimpleNamespace

    ctx = SimpleNamespace(state=SimpleNamespace(field_types=db._field_types))
    ddl = field.ddl_datatype(ctx)
    return ddl.sql if ddl is not None else ""
