"""Comparing two live schemas table by table, names compared as the engine compares them.

``adopt`` and ``migrate --fake`` ask the same question: does the schema in
this database equal the one aura-db's migrations build?  ``shape`` reads one
database's tables, columns, indexes and foreign keys from its catalog;
``differences`` lists, one line each, where two shapes disagree;
``build_expected`` builds what the migrations up to a target create, in a
scratch SQLite file that is deleted afterwards.

SQLite compares table, column and index names without regard to case
(``templates`` and ``Templates`` are one table), and types by affinity
(``VARCHAR(36)`` and ``TEXT`` store the same); PostgreSQL and MySQL compare
their own type names, and MySQL with ``lower_case_table_names`` set folds
table names as SQLite does.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.catalog import Catalog
    from aura_db.db import Engine

# Runs the migrations up to a target on an engine (the runner's migrate).
Builder = Callable[["Engine", Path, str], object]

# aura-db's own bookkeeping: never part of the schema being compared.
AURA_TABLES = ("aura_schema_history", "aura_migration_log", "aura_migration_lock")


@dataclass(frozen=True)
class ColumnShape:
    name: str
    type: str  # affinity on SQLite, the normalised type elsewhere
    not_null: bool
    primary_key: bool


@dataclass(frozen=True)
class IndexShape:
    name: str
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class ForeignKeyShape:
    column: str
    target_table: str
    target_column: str
    on_delete: str


@dataclass
class TableShape:
    name: str
    columns: dict[str, ColumnShape] = field(default_factory=dict)  # by folded name
    indexes: dict[str, IndexShape] = field(default_factory=dict)
    foreign_keys: set[ForeignKeyShape] = field(default_factory=set)


@dataclass
class SchemaShape:
    tables: dict[str, TableShape]  # by folded name
    fold: Callable[[str], str]

    @property
    def table_names(self) -> list[str]:
        return sorted(t.name for t in self.tables.values())


def sqlite_affinity(declared: str) -> str:
    """The type affinity SQLite gives a declared column type (section 3.1 of its datatype rules)."""
    t = (declared or "").upper()
    if "INT" in t:
        return "INTEGER"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "TEXT"
    if not t or "BLOB" in t:
        return "BLOB"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "REAL"
    return "NUMERIC"


def folds_names(catalog: "Catalog") -> bool:
    """Whether the engine treats ``Templates`` and ``templates`` as one table."""
    return catalog.folds_names_on_compare()


def shape(catalog: "Catalog", *, exclude: tuple[str, ...] = AURA_TABLES,
          fold_names: bool | None = None) -> SchemaShape:
    """The tables, columns, indexes and foreign keys of the database behind ``catalog``."""
    folding = folds_names(catalog) if fold_names is None else fold_names
    fold: Callable[[str], str] = (lambda s: s.lower()) if folding else (lambda s: s)
    excluded = {fold(t) for t in exclude}
    sqlite = catalog.engine.features.column_types_by_affinity
    tables: dict[str, TableShape] = {}
    for t in catalog.tables():
        if fold(t) in excluded:
            continue
        ts = TableShape(t)
        for c in catalog.columns(t):
            typ = sqlite_affinity(c.type) if sqlite else catalog.normalize_type(c.type)
            # SQLite lets a primary-key column hold NULL unless it says NOT NULL; an
            # INTEGER PRIMARY KEY is the rowid and never NULL, whatever it declares.
            not_null = (not c.nullable) or (c.primary_key and (not sqlite or typ == "INTEGER"))
            ts.columns[fold(c.name)] = ColumnShape(c.name, typ, not_null, c.primary_key)
        for ix in catalog.indexes(t):
            ts.indexes[fold(ix.name)] = IndexShape(ix.name, tuple(fold(c) for c in ix.columns), ix.unique)
        for fk in catalog.foreign_keys(t):
            ts.foreign_keys.add(ForeignKeyShape(fold(fk.column), fold(fk.target_table),
                                                fold(fk.target_column), fk.on_delete.upper()))
        tables[fold(t)] = ts
    return SchemaShape(tables, fold)


def differences(live: SchemaShape, expected: SchemaShape) -> list[str]:
    """Every way ``live`` differs from ``expected``, one readable line each."""
    out: list[str] = []
    for key in sorted(set(expected.tables) - set(live.tables)):
        out.append(f"table {expected.tables[key].name} is missing")
    for key in sorted(set(live.tables) - set(expected.tables)):
        out.append(f"table {live.tables[key].name} is not in aura-db's schema")
    for key in sorted(set(live.tables) & set(expected.tables)):
        lt, et = live.tables[key], expected.tables[key]
        name = et.name
        for c in sorted(set(et.columns) - set(lt.columns)):
            out.append(f"{name}: column {et.columns[c].name} is missing")
        for c in sorted(set(lt.columns) - set(et.columns)):
            out.append(f"{name}: column {lt.columns[c].name} is not in aura-db's schema")
        for c in sorted(set(lt.columns) & set(et.columns)):
            lc, ec = lt.columns[c], et.columns[c]
            if lc.type != ec.type:
                out.append(f"{name}.{ec.name}: type {lc.type}, expected {ec.type}")
            if lc.not_null != ec.not_null:
                out.append(f"{name}.{ec.name}: {'NOT NULL' if lc.not_null else 'nullable'}, "
                           f"expected {'NOT NULL' if ec.not_null else 'nullable'}")
            if lc.primary_key != ec.primary_key:
                out.append(f"{name}.{ec.name}: {'part of' if lc.primary_key else 'not in'} the primary key, "
                           f"expected {'in' if ec.primary_key else 'not in'} it")
        for i in sorted(set(et.indexes) - set(lt.indexes)):
            out.append(f"{name}: index {et.indexes[i].name} is missing")
        for i in sorted(set(lt.indexes) - set(et.indexes)):
            out.append(f"{name}: index {lt.indexes[i].name} is not in aura-db's schema")
        for i in sorted(set(lt.indexes) & set(et.indexes)):
            li, ei = lt.indexes[i], et.indexes[i]
            if li.columns != ei.columns:
                out.append(f"{name}: index {ei.name} is on ({', '.join(li.columns)}), "
                           f"expected ({', '.join(ei.columns)})")
            if li.unique != ei.unique:
                out.append(f"{name}: index {ei.name} is {'unique' if li.unique else 'not unique'}, "
                           f"expected {'unique' if ei.unique else 'not unique'}")
        for fk in sorted(et.foreign_keys - lt.foreign_keys, key=repr):
            out.append(f"{name}: foreign key {fk.column} -> {fk.target_table}({fk.target_column}) "
                       f"ON DELETE {fk.on_delete} is missing")
        for fk in sorted(lt.foreign_keys - et.foreign_keys, key=repr):
            out.append(f"{name}: foreign key {fk.column} -> {fk.target_table}({fk.target_column}) "
                       f"ON DELETE {fk.on_delete} is not in aura-db's schema")
    return out


@contextlib.contextmanager
def expected_database(migrations_dir: Path, target: str | None, build: Builder
                      ) -> Iterator[tuple["Engine", "pw.Database"]]:
    """A scratch SQLite database holding what the migrations up to ``target`` build; removed afterwards.

    ``build(engine, migrations_dir, target)`` runs the migrations: the runner
    is handed in, so that this module sits below it (the runner's ``--fake``
    check asks this module).
    """
    from aura_db.engines.registry import engine_for

    folder = Path(tempfile.mkdtemp(prefix=".aura-db-expected-"))
    try:
        scratch = engine_for(f"sqlite:///{folder / 'expected.db'}")
        if target is not None:
            build(scratch, migrations_dir, target)
        else:
            scratch.open(create=True).close()
        db = scratch.open(create=False)
        try:
            yield scratch, db
        finally:
            if not db.is_closed():
                db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def ef_history(db: "pw.Database", tables: list[str], engine_name: str = "sqlite") -> list[tuple[str, str]] | None:
    """The rows of EF Core's ``__EFMigrationsHistory`` (id, product version), or None without the table."""
    from aura_db.engines.registry import ENGINES

    name = next((t for t in tables if t.lower() == "__efmigrationshistory"), None)
    if name is None:
        return None
    q = ENGINES[engine_name].dialect.quote
    cursor = db.execute_sql(f"SELECT {q('MigrationId')}, {q('ProductVersion')} FROM {q(name)} "
                            f"ORDER BY {q('MigrationId')}")
    return [(str(a), str(b)) for a, b in cursor.fetchall()]


def compare_with_migrations(engine: "Engine", db: "pw.Database", migrations_dir: Path,
                            target: str | None, *, build: Builder) -> list[str]:
    """How the live database differs from what the migrations up to ``target`` build.

    The expected schema is built in a scratch SQLite file.  On PostgreSQL and
    MySQL the live names are folded as that engine folds them and column types
    are left out (their native types are not SQLite's affinities); everything
    else (tables, columns, NOT NULL, keys, indexes, foreign keys) is compared.
    """
    import dataclasses

    from aura_db.catalog import catalog_for

    live_catalog = catalog_for(engine, db)
    fold = folds_names(live_catalog)
    live = shape(live_catalog, fold_names=fold)
    with expected_database(migrations_dir, target, build) as (scratch, sdb):
        expected = shape(catalog_for(scratch, sdb), fold_names=fold)
        if not live_catalog.engine.features.column_types_by_affinity:
            for sh in (live, expected):
                for t in sh.tables.values():
                    t.columns = {k: dataclasses.replace(c, type="") for k, c in t.columns.items()}
        diffs = differences(live, expected)
        want = ef_history(sdb, sdb.get_tables())
    have = ef_history(db, db.get_tables(), engine.name)
    if want is not None and have is not None:
        want_ids, have_ids = [w[0] for w in want], [h[0] for h in have]
        for mid in want_ids:
            if mid not in have_ids:
                diffs.append(f"__EFMigrationsHistory: row {mid} is missing")
        for mid in have_ids:
            if mid not in want_ids:
                diffs.append(f"__EFMigrationsHistory: row {mid} is not one aura-db's migrations write")
    return diffs


