"""Match the Aura app's EF migration 20251108184353_AddWizardProjectManagement.

Adds ``ProjectStates.CurrentWizardStep`` (NOT NULL DEFAULT 0) and creates
``ContentBlobs`` (content-addressed storage) and ``ProjectVersions`` (ON DELETE
CASCADE from the project) with eleven indexes, the one on
``(ProjectId, VersionNumber)`` unique.
"""

import peewee as pw

from aura_db import ddl
from aura_db.fields import ForeignKey, GuidField, JsonField, StringField, TimestampField

EF_MIGRATION_ID = "20251108184353_AddWizardProjectManagement"


class Model(pw.Model):
    pass


class ProjectState(Model):
    """The table an earlier migration created; only its key is needed here."""

    id = GuidField(column_name="Id", primary_key=True)

    class Meta:
        table_name = "ProjectStates"


class ContentBlob(Model):
    content_hash = StringField(64, column_name="ContentHash", primary_key=True)
    content = StringField(column_name="Content")
    content_type = StringField(50, column_name="ContentType")
    size_bytes = pw.BigIntegerField(column_name="SizeBytes")
    created_at = TimestampField(column_name="CreatedAt")
    last_referenced_at = TimestampField(column_name="LastReferencedAt")
    reference_count = pw.IntegerField(column_name="ReferenceCount")

    class Meta:
        table_name = "ContentBlobs"


ddl.add_indexes(ContentBlob, [
    ("IX_ContentBlobs_ContentType", "ContentType"),
    ("IX_ContentBlobs_LastReferencedAt", "LastReferencedAt"),
    ("IX_ContentBlobs_ReferenceCount", "ReferenceCount"),
])


class ProjectVersion(Model):
    id = GuidField(column_name="Id", primary_key=True)
    project = ForeignKey(ProjectState, field="id", column_name="ProjectId", on_delete="CASCADE", index=False, backref="+")
    version_number = pw.IntegerField(column_name="VersionNumber")
    name = StringField(200, column_name="Name", null=True)
    description = StringField(2000, column_name="Description", null=True)
    version_type = StringField(50, column_name="VersionType")
    trigger = StringField(200, column_name="Trigger", null=True)
    created_at = TimestampField(column_name="CreatedAt")
    created_by_user_id = StringField(200, column_name="CreatedByUserId", null=True)
    brief_json = JsonField(column_name="BriefJson", null=True)
    plan_spec_json = JsonField(column_name="PlanSpecJson", null=True)
    voice_spec_json = JsonField(column_name="VoiceSpecJson", null=True)
    render_spec_json = JsonField(column_name="RenderSpecJson", null=True)
    timeline_json = JsonField(column_name="TimelineJson", null=True)
    brief_hash = StringField(64, column_name="BriefHash", null=True)
    plan_hash = StringField(64, column_name="PlanHash", null=True)
    voice_hash = StringField(64, column_name="VoiceHash", null=True)
    render_hash = StringField(64, column_name="RenderHash", null=True)
    timeline_hash = StringField(64, column_name="TimelineHash", null=True)
    storage_size_bytes = pw.BigIntegerField(column_name="StorageSizeBytes")
    is_marked_important = pw.BooleanField(column_name="IsMarkedImportant")
    is_deleted = pw.BooleanField(column_name="IsDeleted")
    deleted_at = TimestampField(column_name="DeletedAt", null=True)

    class Meta:
        table_name = "ProjectVersions"


ddl.add_indexes(ProjectVersion, [
    ("IX_ProjectVersions_CreatedAt", "CreatedAt"),
    ("IX_ProjectVersions_IsDeleted", "IsDeleted"),
    ("IX_ProjectVersions_IsDeleted_DeletedAt", "IsDeleted DeletedAt"),
    ("IX_ProjectVersions_IsMarkedImportant", "IsMarkedImportant"),
    ("IX_ProjectVersions_ProjectId", "ProjectId"),
    ("IX_ProjectVersions_ProjectId_CreatedAt", "ProjectId CreatedAt"),
    ("IX_ProjectVersions_ProjectId_VersionNumber", "ProjectId VersionNumber", True),
    ("IX_ProjectVersions_VersionType", "VersionType"),
])


MODELS = [ContentBlob, ProjectVersion]


def migrate(migrator, database, *, fake=False):
    ddl.add_column(migrator, database, "ProjectStates", "current_wizard_step", pw.IntegerField(column_name="CurrentWizardStep"), default=0)
    for model in MODELS:
        ddl.create_table(migrator, database, model)
    ddl.record_ef_migration(migrator, database, EF_MIGRATION_ID)


def rollback(migrator, database, *, fake=False):
    ddl.forget_ef_migration(migrator, database, EF_MIGRATION_ID)
    for model in reversed(MODELS):
        ddl.drop_table(migrator, database, model._meta.table_name)
    ddl.drop_column(migrator, database, "ProjectStates", "CurrentWizardStep")
