"""Every change aura-db makes to peewee and peewee-migrate, in one place.

aura-db runs peewee-migrate's modules itself (``aura_db.migrations``),
records their SQL without a database (``aura_db.script``) and fills new
modules with peewee-migrate's auto-generation (``aura_db.autogen``).  Each of
those needs peewee or peewee-migrate to behave a little differently from how
it does out of the box; every such change is here, and nowhere else:

* ``migrator_class``: peewee-migrate's ``Migrator`` whose ``create_model``
  fails on a table already there (``CreateTable``) and whose ``drop_index``
  handles the named ``ModelIndex`` objects of the Aura schema;
* ``queries_faked``: ``Model.select`` and ``Database.execute_sql`` mocked
  out, process-wide, while a module's ``migrate(fake=True)`` builds model
  state (what peewee-migrate's ``Router`` does for applied migrations);
* ``tables_never_exist``: ``Model.table_exists`` answering no, process-wide,
  while a script is recorded without a server;
* ``execute_sql_replaced`` and ``foreign_keys_answered``: one ``Database``
  object's ``execute_sql`` / ``get_foreign_keys`` replaced (that object only);
* ``autogen_patched``: peewee-migrate's ``auto`` module with this project's
  fixes to its code generation, process-wide while it runs.

Each relies on internals the pinned ranges were read for (pyproject.toml:
peewee>=4.4,<5, peewee-migrate>=2.3,<3).  ``ensure_supported`` checks the
installed versions once, before the first patch is applied, and stops with
a clear error outside those ranges; tests/test_compat.py fails loudly when
an upgrade inside them changes what the patches rely on.

Nothing here is applied at import time; the process-wide patches last only
for their ``with`` block.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable, Iterator

from aura_db.errors import UnsupportedDependency

if TYPE_CHECKING:
    import peewee as pw

# distribution -> (lowest supported, first unsupported): pyproject.toml's pins.
SUPPORTED: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "peewee": ((4, 4), (5,)),
    "peewee-migrate": ((2, 3), (3,)),
}

_checked: dict[str, str] = {}  # distribution -> the version found supported


def version_tuple(text: str) -> tuple[int, ...]:
    """``"4.5.3"`` -> ``(4, 5, 3)``; a pre-release or local suffix ends the numbers (``"3.0b1"`` -> ``(3, 0)``)."""
    out: list[int] = []
    for part in text.split("."):
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        out.append(int(digits))
        if digits != part:
            break
    return tuple(out)


def check_version(distribution: str, installed: str) -> None:
    """UnsupportedDependency unless ``installed`` lies in the range the patches were written for."""
    lowest, below = SUPPORTED[distribution]
    found = version_tuple(installed)
    if not found or not (lowest <= found < below):
        wanted = f">={'.'.join(map(str, lowest))},<{'.'.join(map(str, below))}"
        raise UnsupportedDependency(
            f"{distribution} {installed} is installed, but aura-db's changes to it were written for "
            f"{distribution}{wanted}; running them on another version could corrupt a migration",
            hint=f"install a supported version: pip install '{distribution}{wanted}'",
        )


def ensure_supported() -> None:
    """Check peewee's and peewee-migrate's installed versions, once per process."""
    if len(_checked) == len(SUPPORTED):
        return
    from importlib import metadata

    for distribution in SUPPORTED:
        if distribution in _checked:
            continue
        try:
            installed = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            raise UnsupportedDependency(f"{distribution} is not installed",
                                        hint="reinstall aura-db with its dependencies") from None
        check_version(distribution, installed)
        _checked[distribution] = installed


# --------------------------------------------------------------------------
# peewee-migrate's Migrator

_MIGRATOR_CLASS: Any = None


class CreateTable:
    """``model.create_table(safe=False)`` as a queued step.

    It looks like the bound ``create_table`` peewee-migrate queues
    (``__name__`` and ``__self__``), so ``script`` and ``migrate add --auto``
    still know it for plain DDL.
    """

    __name__ = "create_table"

    def __init__(self, model: Any):
        self.__self__ = model

    def __call__(self) -> None:
        self.__self__.create_table(safe=False)


def migrator_class() -> Any:
    """peewee-migrate's Migrator, with create_model made strict and drop_index fixed for named indexes (made once).

    ``create_model`` queues ``create_table(safe=False)`` (``CreateTable``):
    peewee-migrate queues the model's bound ``create_table``, whose
    ``safe=True`` default steps over a table already there.

    peewee-migrate 2.3 assumes ``Meta.indexes`` holds ``(columns, unique)``
    tuples and crashes on the named ``ModelIndex`` objects the Aura schema
    uses (``IX_<Table>_<Columns>``); it also drops by peewee's generated name,
    which is not the index's real name.

    Relies on: ``Migrator.create_model`` queueing the bound ``create_table`` last,
    ``Migrator.__get_model__``, ``__ops__``, ``__migrator__``,
    ``ModelIndex._expressions`` and ``._name``, ``playhouse.migrate.make_index_name``.
    """
    global _MIGRATOR_CLASS
    if _MIGRATOR_CLASS is not None:
        return _MIGRATOR_CLASS
    ensure_supported()
    import peewee as pw
    from peewee_migrate import Migrator
    from playhouse.migrate import make_index_name

    class AuraMigrator(Migrator):
        def create_model(self, model):
            """As peewee-migrate's, but a table or index already there is an error.

            peewee's ``Model.create_table()`` defaults to ``safe=True``
            (``CREATE TABLE/INDEX IF NOT EXISTS``), which silently steps over an
            object of the same name and leaves a schema nobody built.  Without
            it, the statement fails and the migration's transaction rolls back.
            """
            super().create_model(model)
            ops = self.__ops__
            if ops and getattr(ops[-1], "__self__", None) is model:
                ops[-1] = CreateTable(model)
            return model

        def drop_index(self, model, *columns: str):
            model = self.__get_model__(model)
            meta = model._meta
            fields = [meta.fields.get(c) for c in columns]
            cols = [f.column_name if f is not None else c for f, c in zip(fields, columns)]
            name = None
            keep = []
            for idx in meta.indexes:
                if isinstance(idx, pw.ModelIndex):
                    idx_cols = [getattr(e, "column_name", None) for e in idx._expressions]
                    if name is None and idx_cols == cols:
                        name = idx._name
                        continue
                elif isinstance(idx, (tuple, list)) and tuple(idx[0]) == tuple(columns):
                    continue
                keep.append(idx)
            meta.indexes = keep
            if len(fields) == 1 and fields[0] is not None:
                fields[0].unique = fields[0].index = False
            self.__ops__.append(
                self.__migrator__.drop_index(meta.table_name, name or make_index_name(meta.table_name, cols))
            )
            return model

    _MIGRATOR_CLASS = AuraMigrator
    return AuraMigrator


# --------------------------------------------------------------------------
# Process-wide, for the length of a `with` block


@contextlib.contextmanager
def queries_faked() -> Iterator[None]:
    """No query reaches any database: ``Model.select`` and ``Database.execute_sql`` are mocks.

    How peewee-migrate's Router builds model state for applied migrations:
    their ``migrate(fake=True)`` runs with queries mocked out.
    """
    ensure_supported()
    from unittest import mock

    import peewee as pw

    cursor = mock.Mock()
    cursor.fetchone.return_value = None
    with mock.patch.object(pw.Model, "select"), mock.patch.object(pw.Database, "execute_sql", return_value=cursor):
        yield


@contextlib.contextmanager
def tables_never_exist() -> Iterator[None]:
    """``Model.table_exists()`` says no for every model.

    MySQL cannot say CREATE INDEX IF NOT EXISTS, so peewee asks whether a
    table exists before creating it; in a script recorded without a server,
    the table a migration creates never exists yet.
    """
    ensure_supported()
    from unittest import mock

    import peewee as pw

    with mock.patch.object(pw.Model, "table_exists", classmethod(lambda cls: False)):
        yield


# --------------------------------------------------------------------------
# One Database object only


@contextlib.contextmanager
def execute_sql_replaced(db: "pw.Database", execute_sql: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """``db.execute_sql`` is ``execute_sql`` inside the block; yields the original, bound method.

    peewee sends every statement (queries, DDL, transaction control) through
    ``Database.execute_sql(sql, params=None)``: replacing it on the one
    object records or withholds what a migration sends.
    """
    ensure_supported()
    original = db.execute_sql
    shadowed = vars(db).get("execute_sql")  # an outer replacement, put back afterwards
    db.execute_sql = execute_sql  # type: ignore[method-assign]
    try:
        yield original
    finally:
        if shadowed is not None:
            db.execute_sql = shadowed  # type: ignore[method-assign]
        else:
            with contextlib.suppress(AttributeError):
                del db.execute_sql


def foreign_keys_answered(db: "pw.Database", known: dict[str, list]) -> None:
    """``db.get_foreign_keys(table)`` answers from ``known`` (table -> ``pw.ForeignKeyMetadata``).

    For a database that is never connected (a script recorded offline):
    dropping a column asks which foreign keys the table has.
    """
    ensure_supported()
    db.get_foreign_keys = lambda table, schema=None: list(known.get(table, []))  # type: ignore[method-assign]


# --------------------------------------------------------------------------
# peewee-migrate's auto-generation

# The functions and attributes of ``peewee_migrate.auto`` that ``autogen_patched`` replaces.
AUTO_FUNCTIONS = ("find_field_type", "add_index", "drop_index", "create_model", "change_fields", "drop_fields")


@contextlib.contextmanager
def autogen_patched(
    *,
    own_types: dict[type, str],
    on_import: Callable[[str], None],
    callable_ref: Callable[[Any, str], tuple[str, str | None]],
    fill_value: Callable[[Any], str | None],
) -> Iterator[None]:
    """peewee-migrate's auto-generation with this project's fixes patched in (see aura_db.autogen).

    ``own_types`` maps aura-db's column classes to the alias generated code
    imports them under; ``on_import(line)`` collects the module-level imports
    the code needs; ``callable_ref(fn, where)`` writes a callable default as
    code, ``fill_value(field)`` the value a column takes before it becomes
    NOT NULL.
    """
    ensure_supported()
    from unittest import mock

    import peewee as pw
    from peewee_migrate import auto

    plain_find = auto.find_field_type

    def find_field_type(f: Any) -> type:
        # aura-db's column types are their own classes, not a bare pw.Field.
        for cls in type(f).mro():
            if cls in own_types:
                on_import(f"from aura_db import fields as {own_types[cls]}")
                return cls
        return plain_find(f)

    plain_params = auto.Column.get_field_parameters

    def get_field_parameters(self: Any, *, change: bool = False) -> dict:
        params = plain_params(self, change=change)
        if not change and isinstance(self.field, pw.ForeignKeyField) and not (self.field.index or self.field.unique):
            # A foreign key is indexed unless told otherwise; the Aura
            # schema says otherwise and names its own indexes.
            params["index"] = False
        default = self.field.default
        if not change and default is not None and callable(default):
            expr, imp = callable_ref(default, f"{self.field.model._meta.table_name}.{self.field.column_name}")
            params["default"] = expr
            if imp:
                on_import(imp)
        return params

    def add_index(idx: Any) -> str:
        names = [f.name if isinstance(f, pw.Field) else str(f) for f in idx._expressions]
        return (f"add_named_index(migrator, {idx._model._meta.table_name!r}, {idx._name!r}, "
                f"{names!r}, unique={bool(idx._unique)})")

    def drop_index(idx: Any) -> str:
        return f"drop_named_index(migrator, {idx._model._meta.table_name!r}, {idx._name!r})"

    plain_change = auto.change_fields

    def change_fields(model: Any, *changed: tuple) -> str:
        # A column that becomes NOT NULL fails on rows holding NULL: give
        # them the field's default first, where it has one.
        fills = []
        for f, diff in changed:
            value = fill_value(f)
            if diff.get("null") is False and value is not None:
                if callable(f.default):
                    expr, imp = callable_ref(f.default, f"{model._meta.table_name}.{f.column_name}")
                    if imp:
                        on_import(imp)
                    value = f"{expr}()"
                fills.append(f"fill_nulls(migrator, {model._meta.table_name!r}, {f.name!r}, {value})")
        return "\n".join([*fills, plain_change(model, *changed)])

    plain_drop_fields = auto.drop_fields

    def drop_fields(model: Any, *dropped: Any) -> str:
        indexed = [f.name for f in dropped if isinstance(f, pw.Field) and (f.index or f.unique)]
        code = plain_drop_fields(model, *dropped)
        if not indexed:
            return code
        names = ", ".join(repr(n) for n in indexed)
        return f"drop_column_indexes(migrator, {model._meta.table_name!r}, {names})\n{code}"

    plain_create = auto.create_model

    def create_model(model: Any, **kwargs: Any) -> str:
        # The class is written without Meta.indexes (their repr is not code);
        # each index follows as a named-index call.
        meta = model._meta
        saved = meta.indexes
        meta.indexes = []
        try:
            code = plain_create(model, **kwargs)
        finally:
            meta.indexes = saved
        implicit = {f.name for f in meta.sorted_fields if f.index or f.unique}
        extra = [add_index(i) for i in meta.fields_to_index()
                 if not (len(i._expressions) == 1 and isinstance(i._expressions[0], pw.Field)
                         and i._expressions[0].name in implicit)]
        return "\n".join([code, *extra])

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(auto, "find_field_type", find_field_type))
        stack.enter_context(mock.patch.dict(auto.FIELD_MODULES_MAP, {c.__name__: a for c, a in own_types.items()}))
        stack.enter_context(mock.patch.object(auto.Column, "get_field_parameters", get_field_parameters))
        stack.enter_context(mock.patch.object(auto, "add_index", add_index))
        stack.enter_context(mock.patch.object(auto, "drop_index", drop_index))
        stack.enter_context(mock.patch.object(auto, "create_model", create_model))
        stack.enter_context(mock.patch.object(auto, "change_fields", change_fields))
        stack.enter_context(mock.patch.object(auto, "drop_fields", drop_fields))
        yield
