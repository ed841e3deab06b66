"""The Aura schema: 13 tables, named exactly as the Aura application names them.

Table and column names are the application's (``ProjectStates.Id``,
``SceneStates.ProjectId``); Python attribute names are snake_case.  Indexes
carry the application's names (``IX_<Table>_<Columns>``); docs/schema.md says
which query each one serves.  The migrations in ``migrations/`` build this
schema; ``aura-db verify`` compares a database against these classes.
"""

from __future__ import annotations

import peewee as pw

from aura_db.fields import GuidField, JsonField, LongTextField, new_guid
from aura_db.models.base import BaseModel, SoftDeleteModel


class ProjectState(SoftDeleteModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    title = pw.CharField(column_name="Title", max_length=500)
    description = pw.TextField(column_name="Description", null=True)
    status = pw.CharField(column_name="Status", max_length=50, default="Draft")
    current_wizard_step = pw.IntegerField(column_name="CurrentWizardStep", default=0)
    current_stage = pw.CharField(column_name="CurrentStage", max_length=100, null=True)
    progress_percent = pw.IntegerField(column_name="ProgressPercent", default=0)
    job_id = pw.CharField(column_name="JobId", max_length=100, null=True)
    brief_json = JsonField(column_name="BriefJson", null=True)
    plan_spec_json = JsonField(column_name="PlanSpecJson", null=True)
    voice_spec_json = JsonField(column_name="VoiceSpecJson", null=True)
    render_spec_json = JsonField(column_name="RenderSpecJson", null=True)
    created_at = pw.DateTimeField(column_name="CreatedAt")
    updated_at = pw.DateTimeField(column_name="UpdatedAt")
    created_by = pw.CharField(column_name="CreatedBy", max_length=200, null=True)
    modified_by = pw.CharField(column_name="ModifiedBy", max_length=200, null=True)

    class Meta:
        table_name = "ProjectStates"


def _project_fk(backref: str) -> pw.ForeignKeyField:
    return pw.ForeignKeyField(
        ProjectState, column_name="ProjectId", field="id", backref=backref,
        on_delete="CASCADE", index=False,
    )


class SceneState(BaseModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    project = _project_fk("scenes")
    scene_index = pw.IntegerField(column_name="SceneIndex")
    script_text = pw.TextField(column_name="ScriptText", null=True)
    audio_file_path = pw.CharField(column_name="AudioFilePath", max_length=1000, null=True)
    image_file_path = pw.CharField(column_name="ImageFilePath", max_length=1000, null=True)
    duration_seconds = pw.DoubleField(column_name="DurationSeconds", default=0)
    is_completed = pw.BooleanField(column_name="IsCompleted", default=False)
    created_at = pw.DateTimeField(column_name="CreatedAt")

    class Meta:
        table_name = "SceneStates"


class AssetState(BaseModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    project = _project_fk("assets")
    asset_type = pw.CharField(column_name="AssetType", max_length=50)
    file_path = pw.CharField(column_name="FilePath", max_length=1000)
    file_size_bytes = pw.BigIntegerField(column_name="FileSizeBytes", default=0)
    mime_type = pw.CharField(column_name="MimeType", max_length=100, null=True)
    is_temporary = pw.BooleanField(column_name="IsTemporary", default=False)
    created_at = pw.DateTimeField(column_name="CreatedAt")

    class Meta:
        table_name = "AssetStates"


class RenderCheckpoint(BaseModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    project = _project_fk("checkpoints")
    stage_name = pw.CharField(column_name="StageName", max_length=100)
    checkpoint_time = pw.DateTimeField(column_name="CheckpointTime")
    completed_scenes = pw.IntegerField(column_name="CompletedScenes", default=0)
    total_scenes = pw.IntegerField(column_name="TotalScenes", default=0)
    checkpoint_data = JsonField(column_name="CheckpointData", null=True)
    output_file_path = pw.CharField(column_name="OutputFilePath", max_length=1000, null=True)
    is_valid = pw.BooleanField(column_name="IsValid", default=True)

    class Meta:
        table_name = "RenderCheckpoints"


class ProjectVersion(SoftDeleteModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    project = _project_fk("versions")
    version_number = pw.IntegerField(column_name="VersionNumber")
    name = pw.CharField(column_name="Name", max_length=200, null=True)
    description = pw.TextField(column_name="Description", null=True)
    version_type = pw.CharField(column_name="VersionType", max_length=50, default="Manual")
    brief_hash = pw.CharField(column_name="BriefHash", max_length=64, null=True)
    plan_hash = pw.CharField(column_name="PlanHash", max_length=64, null=True)
    voice_hash = pw.CharField(column_name="VoiceHash", max_length=64, null=True)
    render_hash = pw.CharField(column_name="RenderHash", max_length=64, null=True)
    timeline_hash = pw.CharField(column_name="TimelineHash", max_length=64, null=True)
    storage_size_bytes = pw.BigIntegerField(column_name="StorageSizeBytes", default=0)
    is_marked_important = pw.BooleanField(column_name="IsMarkedImportant", default=False)
    created_at = pw.DateTimeField(column_name="CreatedAt")
    updated_at = pw.DateTimeField(column_name="UpdatedAt")
    created_by = pw.CharField(column_name="CreatedBy", max_length=200, null=True)
    modified_by = pw.CharField(column_name="ModifiedBy", max_length=200, null=True)

    HASH_COLUMNS = ("brief_hash", "plan_hash", "voice_hash", "render_hash", "timeline_hash")

    class Meta:
        table_name = "ProjectVersions"


class ContentBlob(BaseModel):
    content_hash = pw.CharField(column_name="ContentHash", max_length=64, primary_key=True)
    content = LongTextField(column_name="Content")
    content_type = pw.CharField(column_name="ContentType", max_length=50)
    size_bytes = pw.BigIntegerField(column_name="SizeBytes", default=0)
    created_at = pw.DateTimeField(column_name="CreatedAt")
    last_referenced_at = pw.DateTimeField(column_name="LastReferencedAt")
    reference_count = pw.IntegerField(column_name="ReferenceCount", default=0)
    updated_at = pw.DateTimeField(column_name="UpdatedAt")
    created_by = pw.CharField(column_name="CreatedBy", max_length=200, null=True)
    modified_by = pw.CharField(column_name="ModifiedBy", max_length=200, null=True)

    class Meta:
        table_name = "ContentBlobs"


class UserSetup(BaseModel):
    id = pw.CharField(column_name="Id", max_length=100, primary_key=True, default=new_guid)
    user_id = pw.CharField(column_name="UserId", max_length=200)
    completed = pw.BooleanField(column_name="Completed", default=False)
    completed_at = pw.DateTimeField(column_name="CompletedAt", null=True)
    version = pw.CharField(column_name="Version", max_length=50, null=True)
    last_step = pw.IntegerField(column_name="LastStep", default=0)
    updated_at = pw.DateTimeField(column_name="UpdatedAt")
    selected_tier = pw.CharField(column_name="SelectedTier", max_length=50, null=True)
    wizard_state = JsonField(column_name="WizardState", null=True)

    class Meta:
        table_name = "UserSetups"


class SystemConfiguration(BaseModel):
    id = pw.IntegerField(column_name="Id", primary_key=True)
    is_setup_complete = pw.BooleanField(column_name="IsSetupComplete", default=False)
    ffmpeg_path = pw.CharField(column_name="FFmpegPath", max_length=1000, null=True)
    output_directory = pw.CharField(column_name="OutputDirectory", max_length=1000, null=True)
    created_at = pw.DateTimeField(column_name="CreatedAt")
    updated_at = pw.DateTimeField(column_name="UpdatedAt")

    class Meta:
        table_name = "SystemConfiguration"


class Configuration(BaseModel):
    key = pw.CharField(column_name="Key", max_length=255, primary_key=True)
    value = LongTextField(column_name="Value", null=True)
    category = pw.CharField(column_name="Category", max_length=100)
    value_type = pw.CharField(column_name="ValueType", max_length=50, default="String")
    description = pw.TextField(column_name="Description", null=True)
    is_sensitive = pw.BooleanField(column_name="IsSensitive", default=False)
    version = pw.IntegerField(column_name="Version", default=1)
    is_active = pw.BooleanField(column_name="IsActive", default=True)
    created_at = pw.DateTimeField(column_name="CreatedAt")
    updated_at = pw.DateTimeField(column_name="UpdatedAt")
    created_by = pw.CharField(column_name="CreatedBy", max_length=200, null=True)
    modified_by = pw.CharField(column_name="ModifiedBy", max_length=200, null=True)

    class Meta:
        table_name = "Configurations"


class Template(BaseModel):
    id = pw.CharField(column_name="Id", max_length=100, primary_key=True, default=new_guid)
    name = pw.CharField(column_name="Name", max_length=200)
    description = pw.TextField(column_name="Description", null=True)
    category = pw.CharField(column_name="Category", max_length=100)
    sub_category = pw.CharField(column_name="SubCategory", max_length=100, null=True)
    preview_image = pw.CharField(column_name="PreviewImage", max_length=1000, null=True)
    preview_video = pw.CharField(column_name="PreviewVideo", max_length=1000, null=True)
    tags = pw.TextField(column_name="Tags", null=True)
    template_data = JsonField(column_name="TemplateData", null=True)
    author = pw.CharField(column_name="Author", max_length=200, null=True)
    is_system_template = pw.BooleanField(column_name="IsSystemTemplate", default=False)
    is_community_template = pw.BooleanField(column_name="IsCommunityTemplate", default=False)
    usage_count = pw.IntegerField(column_name="UsageCount", default=0)
    rating = pw.DoubleField(column_name="Rating", default=0)
    rating_count = pw.IntegerField(column_name="RatingCount", default=0)
    created_at = pw.DateTimeField(column_name="CreatedAt")
    updated_at = pw.DateTimeField(column_name="UpdatedAt")

    class Meta:
        table_name = "Templates"


class CustomTemplate(SoftDeleteModel):
    id = pw.CharField(column_name="Id", max_length=100, primary_key=True, default=new_guid)
    name = pw.CharField(column_name="Name", max_length=200)
    description = pw.TextField(column_name="Description", null=True)
    category = pw.CharField(column_name="Category", max_length=100)
    tags = pw.TextField(column_name="Tags", null=True)
    author = pw.CharField(column_name="Author", max_length=200, null=True)
    is_default = pw.BooleanField(column_name="IsDefault", default=False)
    script_structure_json = JsonField(column_name="ScriptStructureJson", null=True)
    video_structure_json = JsonField(column_name="VideoStructureJson", null=True)
    llm_pipeline_json = JsonField(column_name="LLMPipelineJson", null=True)
    visual_preferences_json = JsonField(column_name="VisualPreferencesJson", null=True)
    created_at = pw.DateTimeField(column_name="CreatedAt")
    updated_at = pw.DateTimeField(column_name="UpdatedAt")
    created_by = pw.CharField(column_name="CreatedBy", max_length=200, null=True)
    modified_by = pw.CharField(column_name="ModifiedBy", max_length=200, null=True)

    class Meta:
        table_name = "CustomTemplates"


class ExportHistory(BaseModel):
    id = pw.CharField(column_name="Id", max_length=100, primary_key=True, default=new_guid)
    input_file = pw.CharField(column_name="InputFile", max_length=1000)
    output_file = pw.CharField(column_name="OutputFile", max_length=1000)
    preset_name = pw.CharField(column_name="PresetName", max_length=200)
    status = pw.CharField(column_name="Status", max_length=50, default="Queued")
    progress = pw.DoubleField(column_name="Progress", default=0)
    created_at = pw.DateTimeField(column_name="CreatedAt")
    started_at = pw.DateTimeField(column_name="StartedAt", null=True)
    completed_at = pw.DateTimeField(column_name="CompletedAt", null=True)
    error_message = pw.TextField(column_name="ErrorMessage", null=True)
    file_size = pw.BigIntegerField(column_name="FileSize", null=True)
    duration_seconds = pw.DoubleField(column_name="DurationSeconds", null=True)
    platform = pw.CharField(column_name="Platform", max_length=100, null=True)
    resolution = pw.CharField(column_name="Resolution", max_length=50, null=True)
    codec = pw.CharField(column_name="Codec", max_length=50, null=True)

    class Meta:
        table_name = "ExportHistory"


class ActionLog(BaseModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    user_id = pw.CharField(column_name="UserId", max_length=200)
    action_type = pw.CharField(column_name="ActionType", max_length=100)
    description = pw.TextField(column_name="Description", null=True)
    timestamp = pw.DateTimeField(column_name="Timestamp")
    status = pw.CharField(column_name="Status", max_length=50, default="Applied")
    payload_json = JsonField(column_name="PayloadJson", null=True)
    inverse_action_type = pw.CharField(column_name="InverseActionType", max_length=100, null=True)
    inverse_payload_json = JsonField(column_name="InversePayloadJson", null=True)
    can_batch = pw.BooleanField(column_name="CanBatch", default=False)
    is_persistent = pw.BooleanField(column_name="IsPersistent", default=True)
    undone_at = pw.DateTimeField(column_name="UndoneAt", null=True)
    undone_by = pw.CharField(column_name="UndoneBy", max_length=200, null=True)
    expires_at = pw.DateTimeField(column_name="ExpiresAt", null=True)
    correlation_id = pw.CharField(column_name="CorrelationId", max_length=100, null=True)

    class Meta:
        table_name = "ActionLogs"


# The index set of the Aura design (51 indexes); docs/schema.md says which
# query each one serves.  (model, columns, unique)
INDEXES: list[tuple[type[BaseModel], tuple[str, ...], bool]] = [
    (ProjectState, ("status",), False),
    (ProjectState, ("updated_at",), False),
    (ProjectState, ("job_id",), False),
    (ProjectState, ("is_deleted",), False),
    (ProjectState, ("created_at",), False),
    (ProjectState, ("status", "updated_at"), False),
    (SceneState, ("project",), False),
    (SceneState, ("project", "scene_index"), True),
    (AssetState, ("project",), False),
    (AssetState, ("is_temporary",), False),
    (AssetState, ("project", "asset_type"), False),
    (RenderCheckpoint, ("project",), False),
    (RenderCheckpoint, ("project", "stage_name"), False),
    (RenderCheckpoint, ("checkpoint_time",), False),
    (ProjectVersion, ("project",), False),
    (ProjectVersion, ("version_number",), False),
    (ProjectVersion, ("version_type",), False),
    (ProjectVersion, ("project", "version_number"), True),
    (ProjectVersion, ("is_deleted",), False),
    (ProjectVersion, ("created_at",), False),
    (ProjectVersion, ("brief_hash",), False),
    (ProjectVersion, ("plan_hash",), False),
    (ProjectVersion, ("voice_hash",), False),
    (ProjectVersion, ("render_hash",), False),
    (ProjectVersion, ("timeline_hash",), False),
    (ContentBlob, ("content_type",), False),
    (ContentBlob, ("last_referenced_at",), False),
    (UserSetup, ("user_id",), True),
    (Configuration, ("category",), False),
    (Configuration, ("is_active",), False),
    (Configuration, ("is_sensitive",), False),
    (Configuration, ("category", "is_active"), False),
    (Template, ("category",), False),
    (Template, ("is_system_template",), False),
    (Template, ("category", "sub_category"), False),
    (Template, ("is_community_template",), False),
    (Template, ("name",), False),
    (CustomTemplate, ("category",), False),
    (CustomTemplate, ("is_deleted",), False),
    (CustomTemplate, ("created_at",), False),
    (ExportHistory, ("status",), False),
    (ExportHistory, ("created_at",), False),
    (ExportHistory, ("status", "created_at"), False),
    (ExportHistory, ("platform",), False),
    (ActionLog, ("user_id",), False),
    (ActionLog, ("action_type",), False),
    (ActionLog, ("timestamp",), False),
    (ActionLog, ("correlation_id",), False),
    (ActionLog, ("status",), False),
    (ActionLog, ("expires_at",), False),
    (ActionLog, ("user_id", "timestamp"), False),
]


def index_name(model: type[BaseModel], columns: tuple[str, ...]) -> str:
    cols = "_".join(model._meta.fields[c].column_name for c in columns)
    return f"IX_{model._meta.table_name}_{cols}"


for _model, _cols, _unique in INDEXES:
    _model.add_index(
        *(getattr(_model, c) for c in _cols), unique=_unique, name=index_name(_model, _cols)
    )

# Creation order: parents before children.
MODELS: list[type[BaseModel]] = [
    ProjectState,
    SceneState,
    AssetState,
    RenderCheckpoint,
    ProjectVersion,
    ContentBlob,
    UserSetup,
    SystemConfiguration,
    Configuration,
    Template,
    CustomTemplate,
    ExportHistory,
    ActionLog,
]

TABLES: list[str] = [m._meta.table_name for m in MODELS]
