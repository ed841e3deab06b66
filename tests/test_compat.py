"""aura_db.compat: what its patches of peewee and peewee-migrate rely on is still there.

These tests fail loudly when an upgrade of peewee or peewee-migrate (even one
inside the pinned ranges) moves, renames or changes a private method,
attribute or signature a patch uses, or changes the SQL or code a patch was
written around.  Each test names the patch it protects.
"""

from __future__ import annotations

import inspect
from importlib import metadata

import peewee as pw
import pytest
from peewee_migrate import Migrator, auto
from playhouse import migrate as pm

from aura_db import compat
from aura_db.errors import UnsupportedDependency


def _params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


# --------------------------------------------------------------------------
# The version check


def test_the_installed_versions_are_the_supported_ones():
    compat.ensure_supported()  # raises outside the ranges
    assert compat._checked == {"peewee": metadata.version("peewee"),
                               "peewee-migrate": metadata.version("peewee-migrate")}


def test_the_supported_ranges_are_pyprojects_pins():
    import tomllib
    from pathlib import Path

    deps = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "peewee>=4.4,<5" in deps and "peewee-migrate>=2.3,<3" in deps
    assert compat.SUPPORTED == {"peewee": ((4, 4), (5,)), "peewee-migrate": ((2, 3), (3,))}


@pytest.mark.parametrize("distribution, version", [
    ("peewee", "4.4.0"), ("peewee", "4.5.3"), ("peewee", "4.99"),
    ("peewee-migrate", "2.3.0"), ("peewee-migrate", "2.9.1.post1"),
])
def test_versions_inside_the_ranges_pass(distribution, version):
    compat.check_version(distribution, version)


@pytest.mark.parametrize("distribution, version", [
    ("peewee", "3.17.9"), ("peewee", "4.3.9"), ("peewee", "5.0.0"), ("peewee", "5.0.0b1"),
    ("peewee-migrate", "2.2.0"), ("peewee-migrate", "3.0.0"), ("peewee-migrate", "dev"),
])
def test_versions_outside_the_ranges_stop_with_a_clear_error(distribution, version):
    with pytest.raises(UnsupportedDependency) as info:
        compat.check_version(distribution, version)
    assert f"{distribution} {version} is installed" in info.value.message
    assert "pip install" in info.value.hint
    assert info.value.exit_code == 1


def test_a_version_outside_the_range_stops_the_first_patch(monkeypatch):
    monkeypatch.setattr(compat, "_checked", {})
    monkeypatch.setattr(metadata, "version", lambda name: "5.1.0" if name == "peewee" else "2.3.0")
    with pytest.raises(UnsupportedDependency, match="peewee 5.1.0 is installed"):
        with compat.tables_never_exist():
            pass


# --------------------------------------------------------------------------
# migrator_class: Migrator.drop_index for named indexes


def test_migrator_internals_that_drop_index_uses_exist():
    assert _params(Migrator.drop_index) == ["self", "model", "columns"]
    db = pw.SqliteDatabase(":memory:")
    m = Migrator(db)
    assert hasattr(m, "__get_model__") and callable(m.__get_model__)
    assert isinstance(m.__ops__, list)
    assert isinstance(m.__migrator__, pm.SchemaMigrator)
    assert _params(pm.SchemaMigrator.drop_index)[:3] == ["self", "table", "index_name"]
    assert pm.make_index_name("t", ["a", "b"]) == "t_a_b"


def test_model_index_keeps_its_name_and_expressions():
    class Thing(pw.Model):
        a = pw.IntegerField(column_name="A")
        b = pw.IntegerField(column_name="B")

        class Meta:
            database = pw.SqliteDatabase(":memory:")
            table_name = "Things"

    Thing.add_index(Thing.a, Thing.b, unique=True, name="IX_Things_A_B")
    idx = Thing._meta.indexes[-1]
    assert isinstance(idx, pw.ModelIndex)
    assert idx._name == "IX_Things_A_B" and idx._unique is True and idx._model is Thing
    assert [e.column_name for e in idx._expressions] == ["A", "B"]


def test_aura_migrator_drops_a_named_index_by_its_real_name():
    db = pw.SqliteDatabase(":memory:")
    migrator = compat.migrator_class()(db)
    assert compat.migrator_class() is type(migrator)  # made once

    @migrator.create_model
    class Thing(pw.Model):
        a = pw.IntegerField(column_name="A")

        class Meta:
            table_name = "Things"

    Thing.add_index(Thing.a, name="IX_Things_A")
    migrator()  # the table and its index IX_Things_A exist
    migrator.drop_index("Things", "a")
    assert not [i for i in migrator.orm["Things"]._meta.indexes if isinstance(i, pw.ModelIndex)]
    assert [i.name for i in db.get_indexes("Things")] == ["IX_Things_A"]
    statements = []
    plain = db.execute_sql
    with compat.execute_sql_replaced(db, lambda sql, params=None: statements.append(sql) or plain(sql, params)):
        migrator()
    assert [s for s in statements if s.startswith("DROP")] == ['DROP INDEX "IX_Things_A"']
    assert db.get_indexes("Things") == []


# --------------------------------------------------------------------------
# queries_faked / tables_never_exist: process-wide, for a `with` block


def test_queries_faked_reaches_no_database_and_undoes_itself():
    assert "self" in _params(pw.Database.execute_sql) and _params(pw.Database.execute_sql)[1:3] == ["sql", "params"]
    plain_execute, plain_select = pw.Database.execute_sql, vars(pw.Model)["select"]
    db = pw.SqliteDatabase(":memory:")
    with compat.queries_faked():
        db.execute_sql("CREATE TABLE never (x)")
    assert pw.Database.execute_sql is plain_execute and vars(pw.Model)["select"] is plain_select
    assert db.get_tables() == []


def test_tables_never_exist_answers_no_and_undoes_itself():
    db = pw.SqliteDatabase(":memory:")

    class Thing(pw.Model):
        class Meta:
            database = db

    Thing.create_table()
    assert inspect.ismethod(pw.Model.table_exists)  # a classmethod: what the patch replaces
    with compat.tables_never_exist():
        assert Thing.table_exists() is False
    assert Thing.table_exists() is True


def test_mysql_create_table_asks_table_exists_before_its_indexes():
    # Why tables_never_exist exists: offline, MySQL's CREATE INDEX follows a table_exists() check.
    db = pw.MySQLDatabase("aura")  # never connected

    class Thing(pw.Model):
        a = pw.IntegerField(index=True)

        class Meta:
            database = db

    statements = []
    with compat.tables_never_exist(), compat.execute_sql_replaced(
            db, lambda sql, params=None: statements.append(sql)):
        Thing.create_table()
    assert statements[0].startswith("CREATE TABLE IF NOT EXISTS `thing`")
    assert statements[1] == "CREATE INDEX `thing_a` ON `thing` (`a`)"


# --------------------------------------------------------------------------
# One Database object


def test_execute_sql_replaced_sees_every_statement_and_restores_the_object():
    db = pw.SqliteDatabase(":memory:")
    seen = []
    plain = db.execute_sql
    with compat.execute_sql_replaced(db, lambda sql, params=None: seen.append((sql, params)) or plain(sql, params)
                                     ) as original:
        db.execute_sql("SELECT ?", (1,))
        assert original("SELECT 2").fetchone() == (2,)
        db.execute_sql('CREATE TABLE "thing" ("id" INTEGER PRIMARY KEY, "x" INTEGER)')

        class Thing(pw.Model):
            x = pw.IntegerField()

            class Meta:
                database = db

        Thing.insert(x=5).execute()
    assert seen[0] == ("SELECT ?", (1,))
    assert seen[2] == ('INSERT INTO "thing" ("x") VALUES (?)', [5])  # peewee's own statements pass through it
    assert "execute_sql" not in vars(db)
    assert db.execute_sql("SELECT 3").fetchone() == (3,)


def test_foreign_keys_answered_has_the_signature_peewee_calls():
    assert _params(pw.Database.get_foreign_keys) == ["self", "table", "schema"]
    db = pw.PostgresqlDatabase("aura")
    fk = pw.ForeignKeyMetadata("ParentId", "Parents", "Id", "Children")
    compat.foreign_keys_answered(db, {"Children": [fk]})
    assert db.get_foreign_keys("Children") == [fk]
    assert db.get_foreign_keys("Parents", schema="public") == []


# --------------------------------------------------------------------------
# autogen_patched: peewee-migrate's auto module


def test_auto_functions_the_patch_replaces_exist_with_their_signatures():
    assert _params(auto.find_field_type) == ["field"]
    assert _params(auto.add_index) == ["idx"] and _params(auto.drop_index) == ["idx"]
    assert _params(auto.create_model) == ["model_type", "kwargs"]
    assert _params(auto.change_fields) == ["model_cls", "fields"]
    assert _params(auto.drop_fields) == ["model_type", "fields"]
    sig = inspect.signature(auto.Column.get_field_parameters)
    assert list(sig.parameters) == ["self", "change"] and sig.parameters["change"].kind is inspect.Parameter.KEYWORD_ONLY
    assert isinstance(auto.FIELD_MODULES_MAP, dict)
    assert _params(auto.diff_many)[:3] == ["active", "source", "migrator"]
    assert set(compat.AUTO_FUNCTIONS) <= set(vars(auto))


def test_the_patched_auto_module_writes_the_expected_code_and_undoes_itself():
    from aura_db import autogen
    from aura_db.fields import GuidField, new_guid

    before = {name: getattr(auto, name) for name in compat.AUTO_FUNCTIONS}
    plain_params = auto.Column.get_field_parameters

    class Parent(pw.Model):
        id = GuidField(column_name="Id", primary_key=True, default=new_guid)

        class Meta:
            table_name = "Parents"

    class Child(pw.Model):
        id = GuidField(column_name="Id", primary_key=True, default=new_guid)
        parent = pw.ForeignKeyField(Parent, column_name="ParentId", field="id", index=False)
        name = pw.CharField(column_name="Name", max_length=50)

        class Meta:
            table_name = "Children"

    Child.add_index(Child.name, name="IX_Children_Name")
    imports: set[str] = set()
    with autogen._fixed_autogen(imports):
        created = auto.create_model(Child)
    assert "class Child(pw.Model):" in created and 'table_name = "Children"' in created
    assert "id = aura_fields.GuidField(column_name='Id', default=aura_fields.new_guid, primary_key=True)" in created
    assert "parent = pw.ForeignKeyField(column_name='ParentId', field='id', index=False, model=migrator.orm['Parents'])" in created
    assert "add_named_index(migrator, 'Children', 'IX_Children_Name', ['name'], unique=False)" in created
    assert "indexes" not in created.split("add_named_index")[0]  # no unrunnable repr of index objects
    assert imports == {"from aura_db import fields as aura_fields"}
    # Unpatched, peewee-migrate writes what the patches are there to fix (a bare
    # pw.Field, no default, an index object's repr); when it stops doing so,
    # a patch may be dropped.
    plain = auto.create_model(Child)
    assert "id = pw.Field(column_name='Id', primary_key=True)" in plain
    assert "indexes = [<peewee.ModelIndex object" in plain
    assert {name: getattr(auto, name) for name in compat.AUTO_FUNCTIONS} == before
    assert auto.Column.get_field_parameters is plain_params
    assert "GuidField" not in auto.FIELD_MODULES_MAP


def test_aura_migrator_creates_a_table_without_stepping_over_one_already_there():
    # Relies on: Migrator.create_model queueing the model's bound create_table last.
    assert _params(Migrator.create_model) == ["self", "model"]
    db = pw.SqliteDatabase(":memory:")
    plain = Migrator(db)

    @plain.create_model
    class Plain(pw.Model):
        class Meta:
            table_name = "Things"

    assert getattr(plain.__ops__[-1], "__self__", None) is plain.orm["Things"]
    assert getattr(plain.__ops__[-1], "__name__", None) == "create_table"

    db.execute_sql('CREATE TABLE "Things" ("x" INTEGER)')  # someone else's table of the same name
    migrator = compat.migrator_class()(db)

    @migrator.create_model
    class Thing(pw.Model):
        class Meta:
            table_name = "Things"

    step = migrator.__ops__[-1]
    assert isinstance(step, compat.CreateTable) and step.__name__ == "create_table"
    assert step.__self__ is migrator.orm["Things"]
    with pytest.raises(pw.OperationalError, match="already exists"):
        migrator()
