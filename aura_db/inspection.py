"""What is in the database: engine facts, tables, one table in detail, configuration.

Read-only.  Values of configuration rows marked ``IsSensitive`` are masked in
every result this module returns unless the caller asks for them
(``show_sensitive=True``), so no output path can leak them by accident.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from aura_db.catalog import Catalog, Column, ForeignKey, Index, catalog_for
from aura_db.errors import AuraError, UsageError

if TYPE_CHECKING:
    from aura_db.db import Engine

CONFIG_COLUMNS = ("Key", "Value", "Category", "ValueType", "IsSensitive", "IsActive", "Version", "UpdatedAt",
                  "Description")
MASK = "********"  # fixed width: the mask must not reveal the secret's length


@dataclass
class TableSummary:
    name: str
    rows: int
    data_bytes: int | None
    index_bytes: int | None
    size_exact: bool
    size_source: str
    indexes: int


@dataclass
class Overview:
    engine: str
    server_version: str
    location: str
    facts: dict[str, Any]
    head: str | None
    applied: int
    health: dict[str, Any]
    tables: list[TableSummary]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TableDetail:
    name: str
    rows: int
    columns: list[Column]
    primary_key: list[str]
    indexes: list[Index]
    foreign_keys_out: list[ForeignKey]
    foreign_keys_in: list[ForeignKey]
    sample_columns: list[str] = field(default_factory=list)
    sample_rows: list[list[Any]] = field(default_factory=list)
    masked: int = 0  # sensitive values hidden in the sample

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sample_rows"] = [dict(zip(self.sample_columns, r)) for r in self.sample_rows]
        return d


@dataclass
class ConfigReport:
    rows: list[dict[str, Any]]
    masked: int
    show_sensitive: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plain(value: Any) -> Any:
    """A value as JSON and a terminal can show it."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, (dict, list)):  # jsonb comes back parsed
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    return str(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "t", "yes")
    return bool(value)


def mask_rows(columns: list[str], rows: list[list[Any]], show_sensitive: bool) -> int:
    """Replace Value by MASK in rows flagged IsSensitive; returns how many were masked."""
    if show_sensitive or "IsSensitive" not in columns or "Value" not in columns:
        return 0
    flag, value = columns.index("IsSensitive"), columns.index("Value")
    masked = 0
    for row in rows:
        if _truthy(row[flag]) and row[value] is not None:
            row[value] = MASK
            masked += 1
    return masked


class _Opened:
    def __init__(self, engine: "Engine"):
        self.engine = engine

    def __enter__(self) -> Catalog:
        self.db = self.engine.open(create=False)
        return catalog_for(self.engine, self.db)

    def __exit__(self, *exc: Any) -> None:
        self.db.close()


def overview(engine: "Engine") -> Overview:
    from aura_db.migrations import read_history

    with _Opened(engine) as cat:
        version = engine.server_version(cat.db)
        history = read_history(cat.db)
        tables = cat.tables()
        sizes = cat.sizes(tables)
        summaries = []
        for t in tables:
            s = sizes.get(t)
            summaries.append(TableSummary(
                t, cat.row_count(t), s.data_bytes if s else None, s.index_bytes if s else None,
                bool(s and s.exact), s.how if s else "unknown", len(cat.indexes(t))))
        return Overview(engine.name, version, engine.describe(), cat.facts(),
                        history[-1].name if history else None, len(history), cat.health(), summaries)


def resolve_table(cat: Catalog, name: str) -> str:
    """The live table ``name`` names, compared as the engine compares names.

    Case-insensitively on SQLite and on MySQL/MariaDB with
    ``lower_case_table_names`` 1 or 2; exactly elsewhere (PostgreSQL keeps
    ``Templates`` and ``templates`` apart), with a hint naming the table meant.
    """
    found = cat.find_table(name)
    if found is not None:
        return found
    tables = cat.tables()
    near = [t for t in tables if t.casefold() == name.casefold()]
    if near:
        raise UsageError(f"no table named {name!r} ({cat.name} compares table names case-sensitively)",
                         hint=f"did you mean {', '.join(near)}?")
    raise UsageError(f"no table named {name!r}", hint=f"tables: {', '.join(tables) if tables else '(none)'}")


def table_detail(engine: "Engine", name: str, *, rows: int = 0, show_sensitive: bool = False) -> TableDetail:
    if rows < 0:
        raise UsageError(f"--rows must be 0 or more, got {rows}")
    with _Opened(engine) as cat:
        table = resolve_table(cat, name)
        columns = cat.columns(table)
        incoming = [fk for t in cat.tables() for fk in cat.foreign_keys(t)
                    if cat.fold(fk.target_table) == cat.fold(table)]
        detail = TableDetail(
            table, cat.row_count(table), columns, [c.name for c in columns if c.primary_key],
            cat.indexes(table), cat.foreign_keys(table), incoming)
        if rows:
            names, got = cat.sample_rows(table, rows)
            detail.sample_columns = names
            detail.sample_rows = [[plain(v) for v in r] for r in got]
            detail.masked = mask_rows(names, detail.sample_rows, show_sensitive)
        return detail


def config(engine: "Engine", *, show_sensitive: bool = False) -> ConfigReport:
    with _Opened(engine) as cat:
        table = cat.find_table("Configurations")
        if table is None:
            raise AuraError(f"{engine.describe()} has no Configurations table",
                            hint="run `aura-db migrate` first")
        q = cat.quote
        cursor = cat.db.execute_sql(
            f"SELECT {', '.join(q(c) for c in CONFIG_COLUMNS)} "
            f"FROM {q(table)} ORDER BY {q('Category')}, {q('Key')}")
        names = [d[0] for d in cursor.description]
        rows = [[plain(v) for v in r] for r in cursor.fetchall()]
        masked = mask_rows(names, rows, show_sensitive)
        for r in rows:
            for i in (names.index("IsSensitive"), names.index("IsActive")):
                r[i] = _truthy(r[i])
        return ConfigReport([dict(zip(names, r)) for r in rows], masked, show_sensitive)


def health(engine: "Engine") -> dict[str, Any]:
    """Health figures of a live database: latency of a trivial query, and
    connections where the engine counts them (None on SQLite).  Small enough
    for `status` to show."""
    with _Opened(engine) as cat:
        return cat.health()
