"""migrate add / add --auto / remove: writing migration modules, and what they do to data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import peewee as pw
import pytest

import aura_db.models as aura_models
from aura_db import autogen
from aura_db.fields import BigAutoIncrementField, GuidField, JsonField, new_guid, utcnow
from aura_db.migrations import discover, load
from aura_db.models import MODELS, ProjectState, Template, UserSetup
from conftest import FIRST, NEXT


# --------------------------------------------------------------------------
# Changed models, as a developer would edit aura_db/models/schema.py


class ProjectStateWithTags(ProjectState):
    keywords = pw.CharField(column_name="Keywords", max_length=200, null=True)
    owner = GuidField(column_name="OwnerId", null=True)
    settings_json = JsonField(column_name="SettingsJson", null=True)
    share_key = pw.CharField(column_name="ShareKey", max_length=36, default=new_guid)
    reviewed_at = pw.DateTimeField(column_name="ReviewedAt", default=utcnow)
    priority = pw.IntegerField(column_name="Priority", default=3)

    class Meta:
        table_name = "ProjectStates"


ProjectStateWithTags.add_index(ProjectStateWithTags.keywords, name="IX_ProjectStates_Keywords")


class Label(pw.Model):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    project = pw.ForeignKeyField(ProjectStateWithTags, column_name="ProjectId", field="id",
                                 on_delete="CASCADE", index=False)
    text = pw.CharField(column_name="Text", max_length=100)

    class Meta:
        table_name = "Labels"


Label.add_index(Label.project, Label.text, unique=True, name="IX_Labels_ProjectId_Text")


class RenderLog(pw.Model):
    id = BigAutoIncrementField(column_name="Id")
    message = pw.CharField(column_name="Message", max_length=200)

    class Meta:
        table_name = "RenderLogs"


def with_models(*replace_and_add) -> list:
    """MODELS with some classes swapped for changed ones (same table) and new ones appended."""
    new = {m._meta.table_name: m for m in replace_and_add}
    out = [new.pop(m._meta.table_name, m) for m in MODELS]
    return out + list(new.values())


@pytest.fixture
def models(monkeypatch):
    def use(models: list) -> None:
        monkeypatch.setattr(aura_models, "MODELS", models)

    return use


def seed_rows(db: Path) -> None:
    """A project with a scene, and a template: rows that must survive."""
    con = sqlite3.connect(db)
    con.execute('INSERT INTO "ProjectStates" ("Id", "Title", "Status", "CurrentWizardStep", "ProgressPercent", '
                '"CreatedAt", "UpdatedAt", "IsDeleted") VALUES (\'p1\', \'Demo\', \'Draft\', 0, 0, '
                '\'2026-01-01 00:00:00\', \'2026-01-01 00:00:00\', 0)')
    con.execute('INSERT INTO "SceneStates" ("Id", "ProjectId", "SceneIndex", "ScriptText", "DurationSeconds", '
                '"IsCompleted", "CreatedAt") VALUES (\'s1\', \'p1\', 0, \'\', 1.5, 0, \'2026-01-01 00:00:00\')')
    con.commit()
    con.close()


def rows(db: Path, query: str) -> list:
    con = sqlite3.connect(db)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def columns(db: Path, table: str) -> list[str]:
    return [r[1] for r in rows(db, f'PRAGMA table_info("{table}")')]


def indexes(db: Path, table: str) -> set[str]:
    return {r[1] for r in rows(db, f'PRAGMA index_list("{table}")')}


# --------------------------------------------------------------------------
# migrate add NAME


def test_add_writes_the_next_numbered_module(cli, migrations_copy, workdir):
    r = cli("--migrations", migrations_copy, "migrate", "add", "add_project_tags")
    assert r.exit_code == 0, r
    path = migrations_copy / f"{NEXT:03d}_add_project_tags.py"
    assert path.exists() and str(path) in r.stdout
    text = path.read_text()
    assert text.startswith('"""Add project tags.')
    lm = load(discover(migrations_copy)[-1])
    assert lm.migrate is not None and lm.rollback is not None
    # an empty migration applies and rolls back cleanly
    db = workdir / "a.db"
    assert cli("--db", db, "--migrations", migrations_copy, "migrate", "--no-backup").exit_code == 0
    assert cli("--db", db, "--migrations", migrations_copy, "status", "--check").exit_code == 0
    assert cli("--db", db, "--migrations", migrations_copy, "rollback", "--yes", "--no-backup").exit_code == 0


def test_add_into_an_empty_folder_starts_at_001(cli, tmp_path, workdir):
    folder = tmp_path / "empty"
    folder.mkdir()
    r = cli("--migrations", folder, "migrate", "add", "first", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["name"] == "001_first" and doc["written"] is True
    assert (folder / "001_first.py").exists()


@pytest.mark.parametrize(
    "name, message",
    [
        ("AddTags", "snake_case"),
        ("add-tags", "snake_case"),
        ("add tags", "snake_case"),
        ("1st_change", "snake_case"),
        ("_private", "snake_case"),
        ("../evil", "path separator"),
        ("sub/dir", "path separator"),
        (FIRST.split("_", 1)[1], "exists already"),  # the shipped first migration's name
        ("x" * 101, "under 100"),
    ],
)
def test_bad_names_are_refused_and_nothing_is_written(cli, migrations_copy, workdir, name, message):
    before = sorted(p.name for p in migrations_copy.iterdir())
    r = cli("--migrations", migrations_copy, "migrate", "add", name)
    assert r.exit_code == 2, r
    assert message in r.stderr
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert sorted(p.name for p in migrations_copy.iterdir()) == before


# --------------------------------------------------------------------------
# migrate remove


def test_remove_deletes_the_newest_unapplied_module(cli, migrations_copy, workdir):
    assert cli("--migrations", migrations_copy, "migrate", "add", "extra").exit_code == 0
    db = workdir / "a.db"
    assert cli("--db", db, "--migrations", migrations_copy, "migrate", "--to", "001", "--no-backup").exit_code == 0
    r = cli("--db", db, "--migrations", migrations_copy, "migrate", "remove", "--yes")
    assert r.exit_code == 0, r
    assert not (migrations_copy / f"{NEXT:03d}_extra.py").exists()
    assert (migrations_copy / f"{FIRST}.py").exists()


def test_remove_refuses_an_applied_module_naming_it(cli, migrations_copy, workdir):
    assert cli("--migrations", migrations_copy, "migrate", "add", "extra").exit_code == 0
    db = workdir / "a.db"
    assert cli("--db", db, "--migrations", migrations_copy, "migrate", "--no-backup").exit_code == 0
    r = cli("--db", db, "--migrations", migrations_copy, "migrate", "remove", "--yes")
    assert r.exit_code == 2, r
    assert f"{NEXT:03d}_extra" in r.stderr and "applied" in r.stderr
    assert (migrations_copy / f"{NEXT:03d}_extra.py").exists()


def test_remove_without_a_terminal_and_without_yes_refuses(cli, migrations_copy, workdir):
    assert cli("--migrations", migrations_copy, "migrate", "add", "extra").exit_code == 0
    r = cli("--migrations", migrations_copy, "migrate", "remove")
    assert r.exit_code == 6, r
    assert (migrations_copy / f"{NEXT:03d}_extra.py").exists()


def test_remove_on_an_unreachable_server_does_not_guess(cli, migrations_copy, workdir):
    assert cli("--migrations", migrations_copy, "migrate", "add", "extra").exit_code == 0
    r = cli("--db", "postgresql://nobody@127.0.0.1:1/none", "--migrations", migrations_copy,
            "migrate", "remove", "--yes")
    assert r.exit_code == 4, r
    assert (migrations_copy / f"{NEXT:03d}_extra.py").exists()


# --------------------------------------------------------------------------
# migrate add --auto


def test_auto_with_no_model_change_writes_nothing(cli, migrations_copy, workdir):
    # The shipped models against the shipped migrations: also proves the
    # abstract base models (BaseModel, SoftDeleteModel) are not taken for tables.
    before = sorted(p.name for p in migrations_copy.iterdir())
    r = cli("--migrations", migrations_copy, "migrate", "add", "nothing", "--auto")
    assert r.exit_code == 0, r
    assert "no changes" in r.stdout
    assert sorted(p.name for p in migrations_copy.iterdir()) == before
    assert autogen.generate(migrations_copy, discover(migrations_copy)) is None


def test_auto_module_applies_and_rolls_back_on_a_database_with_data(cli, models, migrations_copy, workdir):
    db = workdir / "a.db"
    assert cli("--db", db, "--migrations", migrations_copy, "migrate", "--no-backup").exit_code == 0
    seed_rows(db)
    models(with_models(ProjectStateWithTags, Label))
    r = cli("--migrations", migrations_copy, "migrate", "add", "tags_and_labels", "--auto")
    assert r.exit_code == 0, r
    path = migrations_copy / f"{NEXT:03d}_tags_and_labels.py"
    text = path.read_text()
    # the fixes: own column types, callable defaults, named indexes, no base models
    assert "aura_fields.GuidField(column_name='OwnerId'" in text
    assert "aura_fields.JsonField(column_name='SettingsJson'" in text
    assert "default=aura_fields.new_guid" in text and "default=aura_fields.utcnow" in text
    assert "'IX_ProjectStates_Keywords'" in text and "'IX_Labels_ProjectId_Text'" in text
    assert "pw.Field(" not in text and "BaseModel" not in text and "ModelIndex" not in text
    assert "ShareKey" in r.stderr and "ONE value" in r.stderr  # warned: one GUID for the old rows

    r = cli("--db", db, "--migrations", migrations_copy, "migrate", "--no-backup")
    assert r.exit_code == 0, r
    assert {"Keywords", "OwnerId", "SettingsJson", "ShareKey", "ReviewedAt", "Priority"} <= set(columns(db, "ProjectStates"))
    assert "IX_ProjectStates_Keywords" in indexes(db, "ProjectStates")
    assert "IX_Labels_ProjectId_Text" in indexes(db, "Labels")
    assert rows(db, 'SELECT "Id", "Title", "Priority" FROM "ProjectStates"') == [("p1", "Demo", 3)]
    assert rows(db, 'SELECT "ShareKey" IS NOT NULL, "ReviewedAt" IS NOT NULL FROM "ProjectStates"') == [(1, 1)]
    assert rows(db, 'SELECT "Id", "ProjectId" FROM "SceneStates"') == [("s1", "p1")]
    assert cli("--db", db, "--migrations", migrations_copy, "status", "--check").exit_code == 0

    # what the migrations build now equals the models: a second --auto finds nothing
    assert autogen.generate(migrations_copy, discover(migrations_copy)) is None

    r = cli("--db", db, "--migrations", migrations_copy, "rollback", "--yes", "--no-backup")
    assert r.exit_code == 0, r
    assert "Keywords" not in columns(db, "ProjectStates") and "Labels" not in {
        t for (t,) in rows(db, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert "IX_ProjectStates_Status" in indexes(db, "ProjectStates")  # 001's indexes survive the rebuild
    assert rows(db, 'SELECT "Id", "Title" FROM "ProjectStates"') == [("p1", "Demo")]
    assert rows(db, 'SELECT "Id", "ProjectId" FROM "SceneStates"') == [("s1", "p1")]


def test_auto_module_scripts_to_the_same_database(cli, models, migrations_copy, workdir):
    from tests.test_script import run_script_sqlite, schema

    models(with_models(ProjectStateWithTags, Label))
    assert cli("--migrations", migrations_copy, "migrate", "add", "tags_and_labels", "--auto").exit_code == 0
    migrated, scripted = workdir / "m.db", workdir / "s.db"
    assert cli("--db", migrated, "--migrations", migrations_copy, "migrate", "--no-backup").exit_code == 0
    assert cli("--migrations", migrations_copy, "script", "out.sql").exit_code == 0
    run_script_sqlite(workdir / "out.sql", scripted)
    a, b = schema(migrated), schema(scripted)
    assert (a["tables"], a["indexes"], a["history"]) == (b["tables"], b["indexes"], b["history"])


def test_auto_refuses_a_not_null_column_without_default(cli, models, migrations_copy, workdir):
    class Strict(ProjectState):
        budget = pw.IntegerField(column_name="Budget")

        class Meta:
            table_name = "ProjectStates"

    models(with_models(Strict))
    before = sorted(p.name for p in migrations_copy.iterdir())
    r = cli("--migrations", migrations_copy, "migrate", "add", "budget", "--auto")
    assert r.exit_code == 2, r
    assert "ProjectStates.Budget" in r.stderr and "NOT NULL" in r.stderr and "default" in r.stderr
    assert sorted(p.name for p in migrations_copy.iterdir()) == before


def test_auto_refuses_a_default_it_cannot_write(cli, models, migrations_copy, workdir):
    class Lambda(ProjectState):
        code = pw.CharField(column_name="Code", max_length=10, default=lambda: "x")

        class Meta:
            table_name = "ProjectStates"

    models(with_models(Lambda))
    r = cli("--migrations", migrations_copy, "migrate", "add", "code", "--auto")
    assert r.exit_code == 2, r
    assert "ProjectStates.Code" in r.stderr and "module-level function" in r.stderr


def test_auto_warns_loudly_when_a_rename_looks_like_drop_and_add(cli, models, migrations_copy, workdir):
    class Renamed(Template):
        class Meta:
            table_name = "templates"

    Renamed._meta.remove_field("author")
    Renamed._meta.add_field("creator", pw.CharField(column_name="creator", max_length=200, null=True))
    models(with_models(Renamed))
    r = cli("--migrations", migrations_copy, "migrate", "add", "rename_author", "--auto")
    assert r.exit_code == 0, r
    assert "DATA LOSS" in r.stderr and "templates.author" in r.stderr and "rename_field" in r.stderr
    text = (migrations_copy / f"{NEXT:03d}_rename_author.py").read_text()
    assert "# WARNING: DATA LOSS" in text


def test_auto_json_reports_operations_and_warnings(cli, models, migrations_copy, workdir):
    models(with_models(ProjectStateWithTags))
    r = cli("--migrations", migrations_copy, "migrate", "add", "tags", "--auto", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["written"] and doc["operations"] >= 2 and doc["name"] == f"{NEXT:03d}_tags"
    assert any("ShareKey" in w for w in doc["warnings"])


def test_auto_drops_indexes_before_their_columns_on_the_way_down(models, migrations_copy):
    models(with_models(ProjectStateWithTags))
    body = autogen.generate(migrations_copy, discover(migrations_copy))
    down = body.rollback
    assert down.index("drop_named_index") < down.index("remove_fields")
    assert "index=False" not in body.migrate  # no foreign key added here
    models(with_models(ProjectStateWithTags, Label))
    body = autogen.generate(migrations_copy, discover(migrations_copy))
    assert "index=False" in body.migrate  # the FK keeps the schema's own index choice


def test_auto_on_postgresql_applies_and_rolls_back_with_data(cli, models, migrations_copy, workdir, server_url):
    url = server_url("postgresql")
    assert cli("--db", url, "--migrations", migrations_copy, "migrate", "--no-backup").exit_code == 0
    db = pw.PostgresqlDatabase(None)
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    db.init(parts.path.lstrip("/"), host=parts.hostname, port=parts.port, user=parts.username)
    db.execute_sql('INSERT INTO "ProjectStates" ("Id", "Title", "Status", "CurrentWizardStep", "ProgressPercent", '
                   '"CreatedAt", "UpdatedAt", "IsDeleted") VALUES '
                   "('6f1c2a7e-0000-4000-8000-000000000001', 'Demo', 'Draft', 0, 0, now(), now(), false)")
    models(with_models(ProjectStateWithTags, Label))
    assert cli("--migrations", migrations_copy, "migrate", "add", "tags_and_labels", "--auto").exit_code == 0
    r = cli("--db", url, "--migrations", migrations_copy, "migrate", "--no-backup")
    assert r.exit_code == 0, r
    assert db.execute_sql('SELECT "Title", "Priority" FROM "ProjectStates"').fetchall() == [("Demo", 3)]
    r = cli("--db", url, "--migrations", migrations_copy, "rollback", "--yes", "--no-backup")
    assert r.exit_code == 0, r
    assert db.execute_sql('SELECT "Title" FROM "ProjectStates"').fetchall() == [("Demo",)]
    assert "Keywords" not in [c.name for c in db.get_columns("ProjectStates")]
    db.close()


def test_auto_changed_columns_and_a_dropped_table_round_trip_with_data(cli, models, migrations_copy, workdir):
    from aura_db.models import ActionLog

    class Tighter(UserSetup):
        user_id = pw.CharField(column_name="user_id", max_length=300)
        version = pw.CharField(column_name="version", max_length=20, default="")  # was NULL-able

        class Meta:
            table_name = "user_setup"

    db = workdir / "a.db"
    assert cli("--db", db, "--migrations", migrations_copy, "migrate", "--no-backup").exit_code == 0
    con = sqlite3.connect(db)
    con.execute('INSERT INTO "user_setup" ("id", "user_id", "completed", "last_step", "updated_at") '
                "VALUES ('t1', 'Intro', 0, 0, '2026-01-01')")
    con.commit()
    con.close()
    models([m for m in with_models(Tighter) if m is not ActionLog])
    r = cli("--migrations", migrations_copy, "migrate", "add", "tighten_setup", "--auto")
    assert r.exit_code == 0, r
    assert "ActionLogs is dropped" in r.stderr
    text = (migrations_copy / f"{NEXT:03d}_tighten_setup.py").read_text()
    assert "fill_nulls(migrator, 'user_setup', 'version', '')" in text

    r = cli("--db", db, "--migrations", migrations_copy, "migrate", "--no-backup")
    assert r.exit_code == 0, r  # the NULL version was filled before NOT NULL
    assert rows(db, 'SELECT "id", "user_id", "version" FROM "user_setup"') == [("t1", "Intro", "")]
    assert "ActionLogs" not in {t for (t,) in rows(db, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert autogen.generate(migrations_copy, discover(migrations_copy)) is None

    r = cli("--db", db, "--migrations", migrations_copy, "rollback", "--yes", "--no-backup")
    assert r.exit_code == 0, r
    assert rows(db, 'SELECT "id", "user_id" FROM "user_setup"') == [("t1", "Intro")]
    # the table comes back with every one of its named indexes
    assert {i for i in indexes(db, "ActionLogs") if i.startswith("IX_")} == {
        "IX_ActionLogs_UserId", "IX_ActionLogs_ActionType", "IX_ActionLogs_Timestamp",
        "IX_ActionLogs_CorrelationId", "IX_ActionLogs_Status", "IX_ActionLogs_ExpiresAt",
        "IX_ActionLogs_UserId_Timestamp", "IX_ActionLogs_Status_Timestamp"}


def test_auto_columns_with_their_own_index_round_trip_on_sqlite(cli, models, migrations_copy, workdir):
    # SQLite will not drop a column an index covers, and peewee-migrate
    # guesses a unique column's index name wrongly: the way down must still work.
    def changed():
        class Template(aura_models.Template):  # same class name: same index names
            code = pw.CharField(column_name="Code", max_length=20, null=True, index=True)
            slug = pw.CharField(column_name="Slug", max_length=20, null=True, unique=True)

            class Meta:
                table_name = "templates"

        return Template

    models(with_models(changed()))
    r = cli("--migrations", migrations_copy, "migrate", "add", "codes", "--auto")
    assert r.exit_code == 0, r
    assert "field-level index" in r.stderr
    db = workdir / "a.db"
    assert cli("--db", db, "--migrations", migrations_copy, "migrate", "--no-backup").exit_code == 0
    con = sqlite3.connect(db)
    con.execute('INSERT INTO "templates" ("id", "name", "description", "category", "sub_category", '
                '"preview_image", "preview_video", "tags", "template_data", "author", "is_system_template", '
                '"is_community_template", "usage_count", "rating", "rating_count", "created_at", "updated_at", '
                '"Code", "Slug") '
                "VALUES ('t1', 'Intro', '', 'c', '', '', '', '', '{}', 'me', 0, 0, 0, 0, 0, '2026-01-01', "
                "'2026-01-01', 'a', 'b')")
    con.commit()
    con.close()
    assert autogen.generate(migrations_copy, discover(migrations_copy)) is None
    r = cli("--db", db, "--migrations", migrations_copy, "rollback", "--yes", "--no-backup")
    assert r.exit_code == 0, r
    assert "Code" not in columns(db, "templates") and "Slug" not in columns(db, "templates")
    assert rows(db, 'SELECT "id", "name" FROM "templates"') == [("t1", "Intro")]


def test_auto_names_a_model_missing_from_models(cli, monkeypatch, migrations_copy, workdir):
    from aura_db.models import schema

    class Draft(aura_models.BaseModel):
        id = pw.AutoField(column_name="Id")

        class Meta:
            table_name = "Drafts"

    Draft.__module__ = schema.__name__
    monkeypatch.setattr(schema, "Draft", Draft, raising=False)
    r = cli("--migrations", migrations_copy, "migrate", "add", "drafts", "--auto")
    assert r.exit_code == 0, r
    assert "Draft" in r.stderr and "not in aura_db.models.MODELS" in r.stderr
    assert "BaseModel" not in r.stderr and "SoftDeleteModel" not in r.stderr


def test_auto_keeps_an_autoincrement_key_autoincrement(cli, models, migrations_copy, workdir):
    """A new table keyed like the app's integer keys is written with aura-db's field, not peewee's."""
    models(with_models(RenderLog))
    r = cli("--migrations", migrations_copy, "migrate", "add", "render_log", "--auto")
    assert r.exit_code == 0, r
    text = (migrations_copy / f"{NEXT:03d}_render_log.py").read_text()
    assert "aura_fields.BigAutoIncrementField(column_name='Id')" in text
    db = workdir / "a.db"
    r = cli("--db", db, "--migrations", migrations_copy, "migrate", "--no-backup")
    assert r.exit_code == 0, r
    (sql,) = rows(db, "SELECT sql FROM sqlite_master WHERE name = 'RenderLogs'")[0]
    assert "PRIMARY KEY AUTOINCREMENT" in sql
    assert autogen.generate(migrations_copy, discover(migrations_copy)) is None
