"""SQL building blocks for the migration modules, for the three engines.

Every function queues its statements on the peewee-migrate ``migrator`` with
``migrator.sql`` (nothing runs at once), so ``aura-db script`` can write them
out, ``--dry-run`` can show them and a fake replay skips them.  Statements are
plain DDL: never ``IF NOT EXISTS``/``IF EXISTS``, so an object already there
(or already gone) is an error and the migration's transaction rolls back.

Each function also keeps peewee-migrate's model state (``migrator.orm``) in
step, as peewee-migrate's own operations do, so that ``aura-db migrate add
--auto`` diffs ``aura_db.models`` against what the migrations really build.

The EF history table (``__EFMigrationsHistory``) is created and kept exactly as
EF Core creates it, so the Aura app's own ``MigrateAsync()`` finds every
migration aura-db has applied already applied.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import peewee as pw

EF_HISTORY_TABLE = "__EFMigrationsHistory"
EF_PRODUCT_VERSION = "8.0.11"


def engine(database: pw.Database) -> Any:
    """The engine (class) of ``database``: what differs is asked of its dialect and features."""
    from aura_db.engines.registry import engine_of

    return engine_of(database)


def dialect(database: pw.Database) -> str:
    return engine(database).name


def quote(database: pw.Database, name: str) -> str:
    opening, closing = database.quote[0], database.quote[1]
    return opening + name.replace(closing, closing * 2) + closing


def literal(database: pw.Database, value: Any) -> str:
    """A constant for a DEFAULT clause, spelled as the engine (and EF on SQLite) spells it."""
    if isinstance(value, bool):
        return engine(database).dialect.default_literal(value)
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _render(database: pw.Database, node: Any) -> str:
    ctx = database.get_sql_context()
    sql, params = ctx.sql(node).query()
    assert not params, "DDL takes no parameters"
    return sql


def add_indexes(model: type[pw.Model], specs: Iterable[tuple]) -> None:
    """Declare ``(name, "ColA ColB", unique?)`` indexes on ``model`` by column name."""
    by_column = {f.column_name: f for f in model._meta.sorted_fields}
    for spec in specs:
        name, columns = spec[0], spec[1]
        unique = bool(spec[2]) if len(spec) > 2 else False
        model.add_index(*(by_column[c] for c in columns.split()), unique=unique, name=name)


def _state(migrator: Any, table: str) -> type[pw.Model] | None:
    orm = getattr(migrator, "orm", None)
    try:
        return orm[table] if orm is not None else None
    except KeyError:
        return None


def _field_by_column(model: type[pw.Model], column: str) -> pw.Field:
    for f in model._meta.sorted_fields:
        if f.column_name == column:
            return f
    raise KeyError(f"{model._meta.table_name} has no column {column}")


def create_table(migrator: Any, database: pw.Database, model: type[pw.Model]) -> None:
    """CREATE TABLE for ``model``, then CREATE INDEX for each of its named indexes."""
    model._meta.set_database(database)
    if hasattr(migrator, "orm"):
        migrator.orm.add(model)
    schema = model._schema
    sql, params = schema._create_table(safe=False).query()
    migrator.sql(sql, *params)
    for ctx in schema._create_indexes(safe=False):
        sql, params = ctx.query()
        migrator.sql(sql, *params)


def drop_table(migrator: Any, database: pw.Database, table: str) -> None:
    model = _state(migrator, table)
    if model is not None:
        migrator.orm.remove(model)
    migrator.sql(f"DROP TABLE {quote(database, table)}")


def rename_table(migrator: Any, database: pw.Database, old: str, new: str) -> None:
    """RENAME TO ``new``; the model state forgets the table (a ``create_table`` names its successor)."""
    model = _state(migrator, old)
    if model is not None:
        migrator.orm.remove(model)
    migrator.sql(f"ALTER TABLE {quote(database, old)} RENAME TO {quote(database, new)}")


def add_column(migrator: Any, database: pw.Database, table: str, name: str, field: pw.Field,
               default: Any = None) -> None:
    """ALTER TABLE ADD COLUMN (``name`` is the model attribute); a NOT NULL column needs ``default``."""
    column = _render(database, field.ddl(database.get_sql_context()))
    model = _state(migrator, table)
    if model is not None:
        model._meta.add_field(name, field)
    if default is not None:
        column += f" DEFAULT {literal(database, default)}"
    migrator.sql(f"ALTER TABLE {quote(database, table)} ADD COLUMN {column}")


def drop_column(migrator: Any, database: pw.Database, table: str, column: str) -> None:
    model = _state(migrator, table)
    if model is not None:
        model._meta.remove_field(_field_by_column(model, column).name)
    migrator.sql(f"ALTER TABLE {quote(database, table)} DROP COLUMN {quote(database, column)}")


def rename_column(migrator: Any, database: pw.Database, table: str, old: str, new: str,
                  name: str | None = None) -> None:
    """RENAME COLUMN ``old`` to ``new`` (``name``: the model attribute it becomes)."""
    model = _state(migrator, table)
    if model is not None:
        field = _field_by_column(model, old)
        model._meta.remove_field(field.name)
        field.column_name = new
        model._meta.add_field(name or field.name, field)
    migrator.sql(
        f"ALTER TABLE {quote(database, table)} RENAME COLUMN {quote(database, old)} TO {quote(database, new)}"
    )


def create_index(migrator: Any, database: pw.Database, table: str, name: str, columns: str,
                 unique: bool = False) -> None:
    model = _state(migrator, table)
    if model is not None:
        model.add_index(*(_field_by_column(model, c) for c in columns.split()), unique=unique, name=name)
    cols = ", ".join(quote(database, c) for c in columns.split())
    kind = "UNIQUE INDEX" if unique else "INDEX"
    migrator.sql(f"CREATE {kind} {quote(database, name)} ON {quote(database, table)} ({cols})")


def drop_index(migrator: Any, database: pw.Database, table: str, name: str) -> None:
    model = _state(migrator, table)
    if model is not None:
        model._meta.indexes = [i for i in model._meta.indexes if getattr(i, "_name", None) != name]
    if engine(database).dialect.drop_index_names_table:
        migrator.sql(f"DROP INDEX {quote(database, name)} ON {quote(database, table)}")
    else:
        migrator.sql(f"DROP INDEX {quote(database, name)}")


def insert(migrator: Any, database: pw.Database, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """One INSERT per row, values as parameters (bools stay bools: 0/1 on SQLite)."""
    for row in rows:
        cols = ", ".join(quote(database, c) for c in row)
        marks = ", ".join([database.param] * len(row))
        migrator.sql(f"INSERT INTO {quote(database, table)} ({cols}) VALUES ({marks})", *row.values())


def restart_sequence(migrator: Any, database: pw.Database, table: str, column: str, next_value: int) -> None:
    """After rows with explicit ids: PostgreSQL's serial must not hand those ids out again.

    (SQLite and MySQL move their counters past inserted ids by themselves.)
    """
    if engine(database).features.serial_sequences:
        migrator.sql(f"ALTER SEQUENCE {quote(database, f'{table}_{column}_seq')} RESTART WITH {int(next_value)}")


def update(migrator: Any, database: pw.Database, table: str, key: tuple[str, Any],
           values: dict[str, Any]) -> None:
    sets = ", ".join(f"{quote(database, c)} = {database.param}" for c in values)
    migrator.sql(
        f"UPDATE {quote(database, table)} SET {sets} WHERE {quote(database, key[0])} = {database.param}",
        *values.values(), key[1],
    )


def copy_rows(migrator: Any, database: pw.Database, source: str, target: str,
              columns: Sequence[tuple[str, str]]) -> None:
    """INSERT INTO target SELECT ... FROM source, ``columns`` as (source column, target column)."""
    into = ", ".join(quote(database, t) for _, t in columns)
    cols = ", ".join(quote(database, s) for s, _ in columns)
    migrator.sql(f"INSERT INTO {quote(database, target)} ({into}) SELECT {cols} FROM {quote(database, source)}")


# --------------------------------------------------------------------------
# The EF history table


def create_ef_history(migrator: Any, database: pw.Database) -> None:
    """``__EFMigrationsHistory`` as EF Core creates it on each engine."""
    t = quote(database, EF_HISTORY_TABLE)
    mid, ver, pk = (quote(database, n) for n in ("MigrationId", "ProductVersion", "PK___EFMigrationsHistory"))
    if engine(database).features.database_is_a_file:  # EF's SQLite provider: TEXT, the key inline
        migrator.sql(f"CREATE TABLE {t} ({mid} TEXT NOT NULL CONSTRAINT {pk} PRIMARY KEY, {ver} TEXT NOT NULL)")
    else:
        migrator.sql(f"CREATE TABLE {t} ({mid} VARCHAR(150) NOT NULL, {ver} VARCHAR(32) NOT NULL, "
                     f"CONSTRAINT {pk} PRIMARY KEY ({mid}))")


def record_ef_migration(migrator: Any, database: pw.Database, migration_id: str) -> None:
    insert(migrator, database, EF_HISTORY_TABLE,
           [{"MigrationId": migration_id, "ProductVersion": EF_PRODUCT_VERSION}])


def forget_ef_migration(migrator: Any, database: pw.Database, migration_id: str) -> None:
    migrator.sql(
        f"DELETE FROM {quote(database, EF_HISTORY_TABLE)} WHERE {quote(database, 'MigrationId')} = {database.param}",
        migration_id,
    )
