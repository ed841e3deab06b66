"""The eight shipped migrations as ports of the Aura app's EF migrations, on every engine.

Counts of what a fresh migrate builds, the rows the app's migrations insert,
and the data move of the app's newest migration (``CustomTemplates`` renamed
to ``custom_templates`` with snake_case columns, ``ProjectStates.DeletedByUserId``
renamed to ``ModifiedBy``): every row survives the way up and the way down.
"""

from __future__ import annotations

import datetime as dt

from aura_db.catalog import catalog_for
from aura_db.db import engine_for, parse_url
from conftest import SHIPPED

EF_IDS = ["20251026005425_InitialCreate", "20251101230642_AddUserSetupTable",
          "20251102050640_AddProjectStatePersistence", "20251103202216_AddActionLogAndSoftDelete",
          "20251108184353_AddWizardProjectManagement", "20251109170431_AddSystemConfiguration",
          "20251121045900_AddCreatedByToConfigurations", "20251122175419_AddMissingDatabaseTables"]


class Db:
    def __init__(self, url: str):
        self.engine = engine_for(parse_url(url))
        self.db = self.engine.open()
        self.cat = catalog_for(self.engine, self.db)

    def sql(self, text: str, *params):
        if self.engine.name == "mysql":
            text = text.replace('"', "`")
        cursor = self.db.execute_sql(text.replace("?", self.db.param), params)
        if self.db.in_transaction():
            self.db.commit()
        return cursor.fetchall() if cursor.description else None

    def close(self):
        self.db.close()


def test_each_shipped_migration_names_its_ef_migration():
    from aura_db.migrations import discover, load
    from conftest import MIGRATIONS

    files = discover(MIGRATIONS)
    assert [f.name for f in files] == SHIPPED and len(SHIPPED) == 8
    for f, ef_id in zip(files, EF_IDS):
        scope: dict = {}
        exec(compile(f.path.read_text(), str(f.path), "exec"), scope)
        assert scope["EF_MIGRATION_ID"] == ef_id
        assert ef_id.split("_", 1)[1] in scope["__doc__"] or ef_id in scope["__doc__"]
        assert load(f).rollback is not None


def test_fresh_migrate_builds_34_tables_and_146_indexes(cli, any_engine_url):
    assert cli("--db", any_engine_url, "migrate", "--no-backup").exit_code == 0
    d = Db(any_engine_url)
    try:
        tables = [t for t in d.cat.tables() if not t.startswith("aura_")]
        assert len(tables) == 35 and "__EFMigrationsHistory" in tables  # the app's 34 and EF's own
        named = [i.name for t in tables for i in d.cat.indexes(t) if i.name.startswith("IX_")]
        assert len(named) == len(set(named)) == 146
        rows = d.sql('SELECT "MigrationId", "ProductVersion" FROM "__EFMigrationsHistory" ORDER BY "MigrationId"')
        assert [tuple(r) for r in rows] == [(i, "8.0.11") for i in EF_IDS]
        assert [tuple(r) for r in d.sql('SELECT "id", "output_directory" FROM "system_configuration"')] == [
            (1, "/home/runner/AuraVideoStudio/Output")]
        assert sorted(r[0] for r in d.sql('SELECT "id" FROM "roles"')) == ["role-admin", "role-user", "role-viewer"]
        assert d.sql('SELECT "MaxConcurrentJobs" FROM "QueueConfiguration" WHERE "Id" = ?', "default")[0][0] == 2
        # A new system_configuration row gets a fresh id (PostgreSQL's sequence was moved past 1).
        d.sql('INSERT INTO "system_configuration" ("is_setup_complete", "output_directory", "created_at", '
              '"updated_at") VALUES (?, ?, ?, ?)', False, "/x", dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 1))
        assert sorted(r[0] for r in d.sql('SELECT "id" FROM "system_configuration"')) == [1, 2]
    finally:
        d.close()
    r = cli("--db", any_engine_url, "rollback", "--all", "--yes", "--no-backup")
    assert r.exit_code == 0, r
    d = Db(any_engine_url)
    try:
        assert [t for t in d.cat.tables() if not t.startswith("aura_")] == []
    finally:
        d.close()


def test_the_apps_newest_migration_moves_every_row_both_ways(cli, any_engine_url):
    url = any_engine_url
    assert cli("--db", url, "migrate", "--to", SHIPPED[6], "--no-backup").exit_code == 0
    d = Db(url)
    pid = "6F1C2A7E-0000-4000-8000-000000000001"
    t = dt.datetime(2025, 3, 4, 5, 6, 7)
    try:
        d.sql('INSERT INTO "ProjectStates" ("Id", "Title", "Status", "CreatedAt", "UpdatedAt", "ProgressPercent", '
              '"DeletedByUserId", "IsDeleted", "CurrentWizardStep") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
              pid, "Demo", "Draft", t, t, 0, "bob", False, 0)
        d.sql('INSERT INTO "CustomTemplates" ("Id", "Name", "Description", "Category", "Tags", "CreatedAt", '
              '"UpdatedAt", "Author", "IsDefault", "IsDeleted", "DeletedAt", "DeletedByUserId", '
              '"ScriptStructureJson", "VideoStructureJson", "LLMPipelineJson", "VisualPreferencesJson") '
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              "ct1", "Mine", "A template", "Social", "a,b", t, t, "me", True, False, None, "carol",
              '{"s":1}', '{"v":2}', '{"l":3}', '{"p":4}')
    finally:
        d.close()

    r = cli("--db", url, "migrate", "--no-backup")
    assert r.exit_code == 0, r
    d = Db(url)
    try:
        got = d.sql('SELECT "id", "name", "description", "category", "tags", "author", "is_default", '
                    '"is_deleted", "created_by", "deleted_by", "modified_by" FROM "custom_templates"')
        flags = [(*x[:6], bool(x[6]), bool(x[7]), *x[8:]) for x in got]  # 0/1 on SQLite and MySQL
        assert flags == [("ct1", "Mine", "A template", "Social", "a,b", "me", True, False, None, None, None)]
        assert "CustomTemplates" not in d.cat.tables()
        assert d.sql('SELECT "ModifiedBy" FROM "ProjectStates"')[0][0] == "bob"
        assert d.sql('SELECT count(*) FROM "custom_templates"')[0][0] == 1
    finally:
        d.close()

    r = cli("--db", url, "rollback", SHIPPED[6].split("_", 1)[0], "--yes", "--no-backup")
    assert r.exit_code == 0, r
    d = Db(url)
    try:
        got = d.sql('SELECT "Id", "Name", "Author", "DeletedByUserId" FROM "CustomTemplates"')
        assert [tuple(x) for x in got] == [("ct1", "Mine", "me", None)]  # the app's migration dropped the column
        assert d.sql('SELECT "DeletedByUserId" FROM "ProjectStates"')[0][0] == "bob"
        names = {c.name for c in d.cat.columns("ProjectStates")}
        assert "ModifiedBy" not in names and "Category" not in names
    finally:
        d.close()
