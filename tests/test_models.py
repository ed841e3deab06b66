"""The Aura schema as models: names, indexes, audit fields, soft delete, blobs."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

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


APP_TABLES = {
    # after the app's first seven migrations: the seeds' 13 tables
    "export_history", "templates", "user_setup", "ProjectStates", "AssetStates", "RenderCheckpoints",
    "SceneStates", "ActionLogs", "custom_templates", "ContentBlobs", "ProjectVersions", "Configurations",
    "system_configuration",
    # added by the app's AddMissingDatabaseTables
    "AnalyticsRetentionSettings", "AnalyticsSummaries", "audit_logs", "HardwareSettings", "JobQueue",
    "MediaCollections", "PerformanceMetrics", "ProviderConfigurations", "QueueConfiguration", "roles",
    "Settings", "UploadSessions", "UsageStatistics", "users", "JobProgressHistory", "MediaItems",
    "CostTracking", "user_quotas", "user_roles", "MediaTags", "MediaUsages",
}


def test_the_34_tables_named_as_the_app_names_them(db):
    tables = set(db.get_tables()) - {"aura_schema_history", "aura_migration_log"}
    # sqlite_sequence: SQLite's own, there as in the app's database for its AUTOINCREMENT keys
    assert tables == APP_TABLES | {"__EFMigrationsHistory", "sqlite_sequence"}
    assert len(APP_TABLES) == 34 and set(m.TABLES) == APP_TABLES
    cols = {c.name for c in db.get_columns("ProjectStates")}
    assert {"Id", "Title", "Status", "BriefJson", "CreatedAt", "UpdatedAt", "CreatedBy", "ModifiedBy",
            "IsDeleted", "DeletedAt", "DeletedBy", "Category", "Tags", "TemplateId", "CompletedAt"} <= cols
    assert "DeletedByUserId" not in cols  # renamed to ModifiedBy by the app's newest migration


def test_every_migration_writes_its_ef_history_row(db):
    rows = db.execute_sql('SELECT "MigrationId", "ProductVersion" FROM "__EFMigrationsHistory" '
                          'ORDER BY "MigrationId"').fetchall()
    assert rows == [(mid, "8.0.11") for mid in (
        "20251026005425_InitialCreate", "20251101230642_AddUserSetupTable",
        "20251102050640_AddProjectStatePersistence", "20251103202216_AddActionLogAndSoftDelete",
        "20251108184353_AddWizardProjectManagement", "20251109170431_AddSystemConfiguration",
        "20251121045900_AddCreatedByToConfigurations", "20251122175419_AddMissingDatabaseTables")]


def test_the_migrations_build_every_model_column_and_the_146_indexes(db):
    for model in m.MODELS:
        live = {c.name: c for c in db.get_columns(model._meta.table_name)}
        for field in model._meta.sorted_fields:
            assert field.column_name in live, f"{model._meta.table_name}.{field.column_name}"
            assert live[field.column_name].null == field.null, field.column_name
    names = {
        i.name: (tuple(i.columns), i.unique)
        for t in m.TABLES for i in db.get_indexes(t) if i.name.startswith("IX_")
    }
    assert len(names) == 146 == len(m.INDEXES)
    assert names["IX_SceneStates_ProjectId_SceneIndex"] == (("ProjectId", "SceneIndex"), False)
    assert names["IX_user_setup_user_id"] == (("user_id",), True)
    assert names["IX_ProjectStates_Status_UpdatedAt"] == (("Status", "UpdatedAt"), False)
    assert names["IX_AnalyticsSummaries_PeriodType_PeriodId"] == (("PeriodType", "PeriodId"), True)


def _on_delete(db, table):
    return {(r[3], r[2], r[4]): r[6] for r in db.execute_sql(f'PRAGMA foreign_key_list("{table}")').fetchall()}


def test_foreign_keys_and_what_a_delete_does(db):
    for table in ("SceneStates", "AssetStates", "RenderCheckpoints", "ProjectVersions"):
        assert _on_delete(db, table) == {("ProjectId", "ProjectStates", "Id"): "CASCADE"}
    assert _on_delete(db, "JobProgressHistory") == {("JobId", "JobQueue", "JobId"): "CASCADE"}
    assert _on_delete(db, "MediaItems") == {("CollectionId", "MediaCollections", "Id"): "SET NULL"}
    assert _on_delete(db, "CostTracking") == {("UsageStatisticsId", "UsageStatistics", "Id"): "SET NULL"}
    assert _on_delete(db, "user_roles") == {("user_id", "users", "id"): "CASCADE",
                                            ("role_id", "roles", "id"): "CASCADE"}


def test_sqlite_types_are_the_apps_text_integer_real(db):
    p = m.ProjectState.create(title="Intro")
    assert isinstance(p.id, str) and len(p.id) == 36 and p.id == p.id.upper()  # as EF writes GUIDs
    types = {c.name: c.data_type for c in db.get_columns("ProjectStates")}
    assert types["Id"] == "TEXT" and types["CreatedAt"] == "TEXT" and types["IsDeleted"] == "INTEGER"
    assert types["DurationSeconds"] == "REAL"
    raw = db.execute_sql('SELECT "Id", "CreatedAt" FROM "ProjectStates"').fetchone()
    assert raw[0] == p.id and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,7})?", raw[1])
    assert {c.name: c.data_type for c in db.get_columns("CostTracking")}["TotalCost"] == "decimal(18,6)"


def test_the_rows_the_apps_migrations_insert_exist(db):
    rows = list(m.SystemConfiguration.select())
    assert [r.id for r in rows] == [1]
    assert rows[0].is_setup_complete is False
    assert rows[0].output_directory == "/home/runner/AuraVideoStudio/Output"
    assert rows[0].created_at == dt.datetime(2024, 1, 1)  # set by the app's newest migration
    assert [r.id for r in m.Role.select().order_by(m.Role.id)] == ["role-admin", "role-user", "role-viewer"]
    assert m.QueueConfiguration.get_by_id("default").max_concurrent_jobs == 2
    assert m.AnalyticsRetentionSettings.get_by_id("default").cost_tracking_retention_days == 365


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
    m.SceneState.create(project=gone, scene_index=0, script_text="", created_at=dt.datetime(2025, 1, 1))
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
        m.SceneState.create(project=p, scene_index=i, script_text="", created_at=dt.datetime(2025, 1, 1))
    m.AssetState.create(project=p, asset_type="Image", file_path="/a.png", created_at=dt.datetime(2025, 1, 1))
    p.hard_delete()
    assert m.ProjectState.select_with_deleted().count() == 0
    assert m.SceneState.select().count() == 0
    assert m.AssetState.select().count() == 0


def test_unique_user_id_and_version_number(db):
    m.UserSetup.create(user_id="u1")
    with pytest.raises(pw.IntegrityError):
        m.UserSetup.create(user_id="u1")
    p = m.ProjectState.create(title="x")
    m.ProjectVersion.create(project=p, version_number=1, version_type="Manual")
    with pytest.raises(pw.IntegrityError):
        m.ProjectVersion.create(project=p, version_number=1, version_type="Manual")
    # The app's (ProjectId, SceneIndex) index is not unique: two scenes may share a position.
    for _ in range(2):
        m.SceneState.create(project=p, scene_index=0, script_text="", created_at=dt.datetime(2025, 1, 1))


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
