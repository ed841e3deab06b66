"""The Aura schema as models: names, indexes, audit fields, soft delete, blobs."""

from __future__ import annotations

import datetime as dt
import hashlib

import peewee as pw
import pytest

from aura_db import models as m
from aura_db.db import engine_for, parse_url
from aura_db.migrations import migrate

from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@pytest.fixture
def db(tmp_path):
    """A database built by the shipped migrations, models bound to it."""
    engine = engine_for(parse_url(f"sqlite:///{tmp_path / 'aura.db'}"))
    migrate(engine, MIGRATIONS)
    database = engine.open()
    m.bind(database)
    m.set_actor(None)
    yield database
    database.close()


def test_thirteen_tables_named_as_the_application_names_them(db):
    tables = set(db.get_tables()) - {"aura_schema_history", "aura_migration_log"}
    assert tables == {
        "ProjectStates", "SceneStates", "AssetStates", "RenderCheckpoints", "ProjectVersions",
        "ContentBlobs", "UserSetups", "SystemConfiguration", "Configurations", "Templates",
        "CustomTemplates", "ExportHistory", "ActionLogs",
    }
    cols = {c.name for c in db.get_columns("ProjectStates")}
    assert {"Id", "Title", "Status", "BriefJson", "CreatedAt", "UpdatedAt", "CreatedBy",
            "ModifiedBy", "IsDeleted", "DeletedAt", "DeletedBy"} <= cols


def test_the_migration_builds_every_model_column_and_the_51_indexes(db):
    for model in m.MODELS:
        live = {c.name: c for c in db.get_columns(model._meta.table_name)}
        for field in model._meta.sorted_fields:
            assert field.column_name in live, f"{model._meta.table_name}.{field.column_name}"
            assert live[field.column_name].null == field.null, field.column_name
    names = {
        i.name: (tuple(i.columns), i.unique)
        for t in m.TABLES for i in db.get_indexes(t) if i.name.startswith("IX_")
    }
    assert len(names) == 51 == len(m.INDEXES)
    assert names["IX_SceneStates_ProjectId_SceneIndex"] == (("ProjectId", "SceneIndex"), True)
    assert names["IX_UserSetups_UserId"] == (("UserId",), True)
    assert names["IX_ProjectStates_Status_UpdatedAt"] == (("Status", "UpdatedAt"), False)


def test_foreign_keys_cascade_from_projects(db):
    for table in ("SceneStates", "AssetStates", "RenderCheckpoints", "ProjectVersions"):
        (fk,) = db.get_foreign_keys(table)
        assert (fk.column, fk.dest_table, fk.dest_column) == ("ProjectId", "ProjectStates", "Id")
        on_delete = db.execute_sql(f'PRAGMA foreign_key_list("{table}")').fetchone()[6]
        assert on_delete == "CASCADE"


def test_guid_ids_are_36_character_text_on_sqlite(db):
    p = m.ProjectState.create(title="Intro")
    assert isinstance(p.id, str) and len(p.id) == 36
    col = next(c for c in db.get_columns("ProjectStates") if c.name == "Id")
    assert col.data_type.upper() == "VARCHAR(36)"


def test_the_system_configuration_row_exists(db):
    rows = list(m.SystemConfiguration.select())
    assert [r.id for r in rows] == [1]
    assert rows[0].is_setup_complete is False


def test_audit_fields_filled_on_create_and_update(db, monkeypatch):
    monkeypatch.setenv("AURA_DB_ACTOR", "alice")
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    p = m.ProjectState.create(title="Intro")
    after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    got = m.ProjectState.get_by_id(p.id)
    assert before <= got.created_at <= after  # UTC, not local time
    assert got.created_by == "alice" and got.modified_by == "alice"
    m.set_actor("bob")
    got.title = "Intro v2"
    got.save()
    again = m.ProjectState.get_by_id(p.id)
    assert again.created_by == "alice" and again.modified_by == "bob"
    assert again.updated_at >= got.created_at
    assert again.created_at == got.created_at


def test_actor_defaults_to_the_os_user(monkeypatch):
    import getpass

    monkeypatch.delenv("AURA_DB_ACTOR", raising=False)
    m.set_actor(None)
    assert m.current_actor() == getpass.getuser()


def test_soft_delete_marks_and_hides_rows(db):
    keep = m.ProjectState.create(title="keep")
    gone = m.ProjectState.create(title="gone")
    m.SceneState.create(project=gone, scene_index=0, created_at=dt.datetime(2025, 1, 1))
    gone.delete_instance()
    assert [p.title for p in m.ProjectState.select()] == ["keep"]
    assert m.ProjectState.select().count() == 1
    with pytest.raises(m.ProjectState.DoesNotExist):
        m.ProjectState.get_by_id(gone.id)
    row = m.ProjectState.select_with_deleted().where(m.ProjectState.id == gone.id).get()
    assert row.is_deleted and row.deleted_at is not None and row.deleted_by == "tester"
    assert m.SceneState.select().count() == 1  # soft delete does not cascade
    assert [p.title for p in m.ProjectState.select_deleted()] == ["gone"]
    row.restore()
    assert m.ProjectState.select().count() == 2
    assert keep.id in {p.id for p in m.ProjectState.select()}


def test_hard_delete_removes_the_row_and_cascades(db):
    p = m.ProjectState.create(title="doomed")
    for i in range(3):
        m.SceneState.create(project=p, scene_index=i, created_at=dt.datetime(2025, 1, 1))
    m.AssetState.create(project=p, asset_type="Image", file_path="/a.png", created_at=dt.datetime(2025, 1, 1))
    p.hard_delete()
    assert m.ProjectState.select_with_deleted().count() == 0
    assert m.SceneState.select().count() == 0
    assert m.AssetState.select().count() == 0


def test_unique_user_id_and_scene_index(db):
    m.UserSetup.create(user_id="u1")
    with pytest.raises(pw.IntegrityError):
        m.UserSetup.create(user_id="u1")
    p = m.ProjectState.create(title="x")
    m.SceneState.create(project=p, scene_index=0, created_at=dt.datetime(2025, 1, 1))
    with pytest.raises(pw.IntegrityError):
        m.SceneState.create(project=p, scene_index=0, created_at=dt.datetime(2025, 1, 1))


def test_blobs_are_content_addressed_and_counted(db):
    content = '{"topic": "volcanoes"}'
    a = m.store_blob(content)
    b = m.store_blob(content)
    assert a.content_hash == b.content_hash == hashlib.sha256(content.encode()).hexdigest()
    assert m.ContentBlob.select().count() == 1
    assert m.ContentBlob.get_by_id(a.content_hash).reference_count == 2
    other = m.store_blob('{"topic": "glaciers"}')
    assert other.content_hash != a.content_hash
    assert m.release_blob(a.content_hash) == 1
    assert m.release_blob(a.content_hash) == 0
    assert m.release_blob(a.content_hash) == 0  # never below zero
    assert m.delete_unreferenced() == 1
    assert [b.content_hash for b in m.ContentBlob.select()] == [other.content_hash]
    with pytest.raises(KeyError):
        m.release_blob("0" * 64)
