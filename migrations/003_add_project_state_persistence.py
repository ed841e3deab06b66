"""Match the Aura app's EF migration 20251102050640_AddProjectStatePersistence.

Creates ``ProjectStates`` and its three child tables ``AssetStates``,
``RenderCheckpoints`` and ``SceneStates`` (ON DELETE CASCADE from the project),
with twelve indexes.  ``SceneStates (ProjectId, SceneIndex)`` is not unique in
the app's database, so it is not unique here.
"""

import peewee as pw

from aura_db import ddl
from aura_db.fields import ForeignKey, GuidField, JsonField, StringField, TimestampField

EF_MIGRATION_ID = "20251102050640_AddProjectStatePersistence"


class Model(pw.Model):
    pass


class ProjectState(Model):
    id = GuidField(column_name="Id", primary_key=True)
    title = StringField(500, column_name="Title")
    description = StringField(2000, column_name="Description", null=True)
    status = StringField(column_name="Status", key=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    completed_at = TimestampField(column_name="CompletedAt", null=True)
    current_stage = StringField(100, column_name="CurrentStage", null=True)
    progress_percent = pw.IntegerField(column_name="ProgressPercent")
    job_id = StringField(100, column_name="JobId", null=True)
    brief_json = JsonField(column_name="BriefJson", null=True)
    plan_spec_json = JsonField(column_name="PlanSpecJson", null=True)
    voice_spec_json = JsonField(column_name="VoiceSpecJson", null=True)
    render_spec_json = JsonField(column_name="RenderSpecJson", null=True)
    error_message = StringField(column_name="ErrorMessage", null=True)

    class Meta:
        table_name = "ProjectStates"


ddl.add_indexes(ProjectState, [
    ("IX_ProjectStates_JobId", "JobId"),
    ("IX_ProjectStates_Status", "Status"),
    ("IX_ProjectStates_Status_UpdatedAt", "Status UpdatedAt"),
    ("IX_ProjectStates_UpdatedAt", "UpdatedAt"),
])


class AssetState(Model):
    id = GuidField(column_name="Id", primary_key=True)
    project = ForeignKey(ProjectState, field="id", column_name="ProjectId", on_delete="CASCADE", index=False, backref="+")
    asset_type = StringField(100, column_name="AssetType")
    file_path = StringField(500, column_name="FilePath")
    file_size_bytes = pw.BigIntegerField(column_name="FileSizeBytes")
    mime_type = StringField(200, column_name="MimeType", null=True)
    is_temporary = pw.BooleanField(column_name="IsTemporary")
    created_at = TimestampField(column_name="CreatedAt")

    class Meta:
        table_name = "AssetStates"


ddl.add_indexes(AssetState, [
    ("IX_AssetStates_IsTemporary", "IsTemporary"),
    ("IX_AssetStates_ProjectId", "ProjectId"),
    ("IX_AssetStates_ProjectId_AssetType", "ProjectId AssetType"),
])


class RenderCheckpoint(Model):
    id = GuidField(column_name="Id", primary_key=True)
    project = ForeignKey(ProjectState, field="id", column_name="ProjectId", on_delete="CASCADE", index=False, backref="+")
    stage_name = StringField(100, column_name="StageName")
    checkpoint_time = TimestampField(column_name="CheckpointTime")
    completed_scenes = pw.IntegerField(column_name="CompletedScenes")
    total_scenes = pw.IntegerField(column_name="TotalScenes")
    checkpoint_data = StringField(column_name="CheckpointData", null=True)
    output_file_path = StringField(500, column_name="OutputFilePath", null=True)
    is_valid = pw.BooleanField(column_name="IsValid")

    class Meta:
        table_name = "RenderCheckpoints"


ddl.add_indexes(RenderCheckpoint, [
    ("IX_RenderCheckpoints_CheckpointTime", "CheckpointTime"),
    ("IX_RenderCheckpoints_ProjectId", "ProjectId"),
    ("IX_RenderCheckpoints_ProjectId_StageName", "ProjectId StageName"),
])


class SceneState(Model):
    id = GuidField(column_name="Id", primary_key=True)
    project = ForeignKey(ProjectState, field="id", column_name="ProjectId", on_delete="CASCADE", index=False, backref="+")
    scene_index = pw.IntegerField(column_name="SceneIndex")
    script_text = StringField(column_name="ScriptText")
    audio_file_path = StringField(500, column_name="AudioFilePath", null=True)
    image_file_path = StringField(500, column_name="ImageFilePath", null=True)
    duration_seconds = pw.DoubleField(column_name="DurationSeconds")
    is_completed = pw.BooleanField(column_name="IsCompleted")
    created_at = TimestampField(column_name="CreatedAt")

    class Meta:
        table_name = "SceneStates"


ddl.add_indexes(SceneState, [
    ("IX_SceneStates_ProjectId", "ProjectId"),
    ("IX_SceneStates_ProjectId_SceneIndex", "ProjectId SceneIndex"),
])


MODELS = [ProjectState, AssetState, RenderCheckpoint, SceneState]


def migrate(migrator, database, *, fake=False):
    for model in MODELS:
        ddl.create_table(migrator, database, model)
    ddl.record_ef_migration(migrator, database, EF_MIGRATION_ID)


def rollback(migrator, database, *, fake=False):
    ddl.forget_ef_migration(migrator, database, EF_MIGRATION_ID)
    for model in reversed(MODELS):
        ddl.drop_table(migrator, database, model._meta.table_name)
