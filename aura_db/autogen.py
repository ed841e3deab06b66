"""Fill a new migration from the difference between the models and the migrations.

``generate()`` builds the schema state the existing migrations leave (each
module's ``migrate(fake=True)``, as peewee-migrate's router does), diffs the
Aura models against it with peewee-migrate's auto-generation, and fixes what
that gets wrong for this project:

* aura-db's own column types (``GuidField``, ``JsonField``, ``LongTextField``)
  came out as a bare ``pw.Field``, which has no column type;
* callable defaults (``default=new_guid``, ``default=utcnow``) were dropped,
  so a NOT NULL column had no default and failed on a table with rows;
* a NOT NULL column added to an existing table without a default is refused
  here rather than failing on the first database with data;
* indexes lost their names (``IX_<Table>_<Columns>``) and new tables carried
  an unrunnable ``repr()`` of their index objects;
* abstract base models (``BaseModel``, ``SoftDeleteModel``) were tables: only
  the concrete models of ``aura_db.models.MODELS`` are compared;
* a rename shows up as drop + add, which loses the column's data: it is
  warned about loudly, and marked in the generated code.

``add_named_index`` and ``drop_named_index`` are called by generated
migration modules: their behaviour must stay as it is, like any migration's.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from aura_db.errors import UsageError

if TYPE_CHECKING:
    from aura_db.migrations import MigrationFile

INDENT = "    "
# How generated modules name aura-db's column types and default functions.
FIELDS_ALIAS = "aura_fields"
FIELDS_MODULE = "aura_db.fields"


@dataclass
class Generated:
    migrate: str  # the body of migrate(), indented
    rollback: str  # the body of rollback(), indented
    operations: int
    warnings: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # module-level import lines


# --------------------------------------------------------------------------
# Helpers that generated migrations call


def add_named_index(migrator: Any, table: str, name: str, fields: list[str], *, unique: bool = False) -> None:
    """Create index ``name`` on ``fields`` of ``table`` and record it in the model state.

    peewee-migrate's own ``add_index`` names every index ``<table>_<columns>``;
    the Aura schema names them ``IX_<Table>_<Columns>``.
    """
    from playhouse.migrate import SchemaMigrator

    model = migrator.orm[table]
    columns = [model._meta.fields[f].column_name for f in fields]
    model.add_index(*(model._meta.fields[f] for f in fields), unique=unique, name=name)
    # A table this migration creates gets its indexes from create_table,
    # which runs later and reads the model's indexes, this one included.
    if any(getattr(op, "__self__", None) is model and getattr(op, "__name__", "") == "create_table"
           for op in migrator.__ops__):
        return
    migrator.__ops__.append(
        SchemaMigrator.add_index(migrator.__migrator__, table, columns, unique=unique, name=name)
    )


def drop_named_index(migrator: Any, table: str, name: str) -> None:
    """Drop index ``name`` of ``table`` and forget it in the model state.

    peewee-migrate's ``drop_index`` derives the name from the columns and
    cannot read indexes declared with ``Model.add_index`` (as 001 does).
    """
    model = migrator.orm[table]
    meta = model._meta
    meta.indexes = [i for i in meta.indexes if _index_name(model, i) != name]
    migrator.__ops__.append(migrator.__migrator__.drop_index(table, name))


def fill_nulls(migrator: Any, table: str, field: str, value: Any) -> None:
    """Set ``field`` to ``value`` where it is NULL, before it becomes NOT NULL.

    Written as an UPDATE query (not Python), so ``aura-db script`` can script it.
    """
    model = migrator.orm[table]
    column = model._meta.fields[field]
    sql, params = model.update({column: value}).where(column.is_null()).sql()
    migrator.sql(sql, *params)


def drop_column_indexes(migrator: Any, table: str, *fields: str) -> None:
    """Drop the indexes on ``fields`` before ``migrator.remove_fields`` drops the columns.

    SQLite refuses to drop a column an index still covers (PostgreSQL and
    MySQL drop such indexes with the column).  peewee-migrate drops a unique
    column's index by a name it guesses, which is not the name the index has
    when ``create_table`` made it; so the state forgets the flags and the
    indexes are found by what they cover.
    """
    from playhouse.migrate import Operation

    from aura_db.engines.registry import engine_of

    model = migrator.orm[table]
    columns = set()
    for name in fields:
        f = model._meta.fields[name]
        f.unique = f.index = False
        columns.add(f.column_name)
    schema = migrator.__migrator__
    if not engine_of(schema.database).features.drops_indexes_with_column:
        migrator.__ops__.append(Operation(schema, _drop_indexes, table, columns))


def _drop_indexes(schema: Any, table: str, columns: set) -> list:
    import peewee as pw

    return [
        schema.make_context().literal("DROP INDEX ").sql(pw.Entity(index.name))
        for index in schema.database.get_indexes(table)
        if set(index.columns) & columns
    ]


def _index_name(model: Any, index: Any) -> str | None:
    import peewee as pw

    if isinstance(index, pw.ModelIndex):
        return index._name
    if isinstance(index, (tuple, list)) and len(index) == 2:
        from playhouse.migrate import make_index_name

        cols = [model._meta.fields[c].column_name if c in model._meta.fields else c for c in index[0]]
        return make_index_name(model._meta.table_name, cols)
    return None


# --------------------------------------------------------------------------
# Generation


def generate(migrations_dir: Path, existing: list["MigrationFile"], *, models: list | None = None) -> Generated | None:
    """The migrate/rollback bodies that bring the migrations up to the models.

    None when nothing changed.  Raises UsageError for a change that cannot be
    generated safely (a NOT NULL column without a default, a default that
    cannot be written into a module).
    """
    warnings: list[str] = []
    if models is None:
        from aura_db.models import MODELS

        models = list(MODELS)
        warnings += unlisted_models(models)
    state = _state(existing)
    warnings += _refuse_unsafe(models, state)
    warnings += _rename_warnings(models, state)
    warnings += _drop_warnings(models, state)
    imports: set[str] = set()
    with _fixed_autogen(imports):
        from peewee_migrate.auto import diff_many

        up = _drops_first(diff_many(models, state, migrator=None))
        down = _drops_first(diff_many(state, models, migrator=None, reverse=True))
    if not up:
        return None
    warnings += _rollback_warnings(models, state)
    helpers = [h for h in ("add_named_index", "drop_named_index", "drop_column_indexes", "fill_nulls")
               if any(h + "(" in c for c in up + down)]
    if helpers:
        imports.add(f"from aura_db.autogen import {', '.join(helpers)}")
    return Generated(
        migrate=_body(up, warnings),
        rollback=_body(down, []),
        operations=len(up),
        warnings=warnings,
        imports=sorted(imports),
    )


def unlisted_models(models: list | None = None) -> list[str]:
    """Concrete models of the schema module that MODELS leaves out.

    Only MODELS is compared (peewee-migrate would take every Model subclass,
    the abstract bases included, for a table); a new model someone forgot to
    list would otherwise be silently missing from the migration.
    """
    import inspect

    import peewee as pw

    from aura_db.models import MODELS, schema

    listed = set(MODELS if models is None else models)
    out = []
    for name, obj in vars(schema).items():
        if not (inspect.isclass(obj) and issubclass(obj, pw.Model)) or obj.__module__ != schema.__name__:
            continue
        if obj in listed or any(m is not obj and issubclass(m, obj) for m in listed):
            continue  # listed, or a base class of listed models
        out.append(f"model {name} (table {obj._meta.table_name}) is not in aura_db.models.MODELS, "
                   f"so it is not compared: add it there")
    return out


def _drops_first(changes: list[str]) -> list[str]:
    # An index must go before its column does: dropping the column takes the
    # index with it (PostgreSQL, a SQLite rebuild), and the DROP INDEX after
    # it would fail.
    drops = [c for c in changes if c.startswith("drop_named_index(")]
    return drops + [c for c in changes if not c.startswith("drop_named_index(")]


def _state(existing: list["MigrationFile"]) -> list:
    """The models as the existing migrations leave them (no database needed)."""
    import peewee as pw

    from aura_db.engines.sqlite.dialect import SqliteDialect
    from aura_db.migrations import _fake_replay, load, migrator_class

    db = pw.SqliteDatabase(":memory:", field_types=SqliteDialect.field_types)
    migrator = migrator_class()(db)
    for mf in existing:
        _fake_replay(load(mf), migrator, db)
    return list(migrator.orm)


def _body(changes: list[str], notes: list[str]) -> str:
    lines: list[str] = []
    for note in notes:
        lines.append(f"# WARNING: {note}")
    for change in changes:
        lines.extend(change.splitlines())
        lines.append("")
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(f"{INDENT}{line}".rstrip() for line in lines) or f"{INDENT}pass"


def _tables(models: list) -> dict[str, Any]:
    return {m._meta.table_name: m for m in models}


def _refuse_unsafe(models: list, state: list) -> list[str]:
    """Refuse the changes that fail on a database that holds rows; warn of surprising ones."""
    import peewee as pw

    out: list[str] = []
    old = _tables(state)
    for table, model in _tables(models).items():
        source = old.get(table)
        if source is None:
            continue
        added = set(model._meta.fields) - set(source._meta.fields)
        for name in sorted(added):
            f = model._meta.fields[name]
            if not f.null and f.default is None:
                raise UsageError(
                    f"{table}.{f.column_name} is added NOT NULL without a default: the rows "
                    f"already in {table} would have no value for it",
                    hint="give the field a default= (or null=True), then run `aura-db migrate add --auto` again",
                )
            if (f.index or f.unique) and not isinstance(f, pw.ForeignKeyField):
                out.append(
                    f"{table}.{f.column_name}: a field-level index is named by peewee, not "
                    f"IX_{table}_{f.column_name} as the schema's other indexes; declare it with "
                    f"Model.add_index(..., name=...) to keep the naming"
                )
            if f.default is not None and callable(f.default):
                expr, _ = _callable_ref(f.default, f"{table}.{f.column_name}")  # raises when unwritable
                if not f.null:
                    out.append(
                        f"{table}.{f.column_name}: the rows already there all get ONE value of "
                        f"{expr}() (computed once when the column is added); new rows get their own"
                    )
    return out


def _rename_warnings(models: list, state: list) -> list[str]:
    """Drop + add in one table (or one table gone, one new) looks like a rename."""
    from peewee_migrate.auto import find_field_type

    out: list[str] = []
    old, new = _tables(state), _tables(models)
    for table, model in new.items():
        source = old.get(table)
        if source is None:
            continue
        gone = sorted(set(source._meta.fields) - set(model._meta.fields))
        came = sorted(set(model._meta.fields) - set(source._meta.fields))
        for g in gone:
            gf = source._meta.fields[g]
            for c in came:
                cf = model._meta.fields[c]
                if find_field_type(gf) is find_field_type(cf):
                    out.append(
                        f"DATA LOSS: {table}.{gf.column_name} is dropped and {table}.{cf.column_name} "
                        f"added; if this is a rename, the generated code loses every value in "
                        f"{gf.column_name}: replace it with migrator.rename_field({table!r}, {g!r}, {c!r})"
                    )
    removed = [t for t in old if t not in new]
    created = [t for t in new if t not in old]
    for r in removed:
        rcols = {f.column_name for f in old[r]._meta.sorted_fields}
        for c in created:
            ccols = {f.column_name for f in new[c]._meta.sorted_fields}
            if rcols and len(rcols & ccols) * 2 >= len(rcols):
                out.append(
                    f"DATA LOSS: table {r} is dropped and {c} created with mostly the same columns; "
                    f"if this is a rename, the generated code loses every row of {r}: replace it "
                    f"with migrator.rename_table({r!r}, {c!r})"
                )
    return out


def _drop_warnings(models: list, state: list) -> list[str]:
    out: list[str] = []
    old, new = _tables(state), _tables(models)
    for table, source in old.items():
        if table not in new:
            out.append(f"table {table} is dropped with all its rows")
            continue
        for name in sorted(set(source._meta.fields) - set(new[table]._meta.fields)):
            out.append(f"column {table}.{source._meta.fields[name].column_name} is dropped with its data")
    return out


def _rollback_warnings(models: list, state: list) -> list[str]:
    out: list[str] = []
    old, new = _tables(state), _tables(models)
    for table, source in old.items():
        if table not in new:
            continue
        for name in sorted(set(source._meta.fields) - set(new[table]._meta.fields)):
            f = source._meta.fields[name]
            if not f.null and f.default is None:
                out.append(
                    f"rollback re-adds {table}.{f.column_name} NOT NULL without a default: it fails on "
                    f"a table with rows; give it a default in rollback()"
                )
    for table, model in new.items():
        if table in old:
            for name in sorted(set(model._meta.fields) & set(old[table]._meta.fields)):
                f = model._meta.fields[name]
                if old[table]._meta.fields[name].null and not f.null and _fill_value(f) is None:
                    out.append(
                        f"{table}.{model._meta.fields[name].column_name} becomes NOT NULL: rows holding "
                        f"NULL there make the migration fail; fill them first (migrator.sql UPDATE)"
                    )
    return out


def _fill_value(f: Any) -> str | None:
    """The code for a NOT NULL field's default, to fill NULLs with; None without one."""
    default = f.default
    if default is None:
        return None
    if callable(default):
        return "call"
    if isinstance(default, (str, int, float, bool)):
        return repr(default)
    return None


def _callable_ref(fn: Any, where: str) -> tuple[str, str | None]:
    """(expression, import line) naming a default function in generated code."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    if not module or not qualname or "<" in qualname:
        raise UsageError(
            f"the default of {where} ({fn!r}) cannot be written into a migration",
            hint="use a module-level function as default, e.g. aura_db.fields.new_guid",
        )
    if module == FIELDS_MODULE:
        return f"{FIELDS_ALIAS}.{qualname}", f"from aura_db import fields as {FIELDS_ALIAS}"
    if module == "builtins":
        return qualname, None
    return f"{module}.{qualname}", f"import {module}"


@contextlib.contextmanager
def _fixed_autogen(imports: set[str]) -> Iterator[None]:
    """peewee-migrate's auto-generation with this project's fixes patched in (``aura_db.compat``)."""
    from aura_db import compat
    from aura_db import fields as aura_fields

    own_types = {aura_fields.GuidField: FIELDS_ALIAS, aura_fields.JsonField: FIELDS_ALIAS,
                 aura_fields.LongTextField: FIELDS_ALIAS,
                 # before their peewee bases in each MRO, so AUTOINCREMENT is not lost
                 aura_fields.AutoIncrementField: FIELDS_ALIAS, aura_fields.BigAutoIncrementField: FIELDS_ALIAS}
    with compat.autogen_patched(own_types=own_types, on_import=imports.add, callable_ref=_callable_ref,
                                fill_value=_fill_value):
        yield
