"""The Aura schema: the 34 tables the Aura app's own migrations build, named as the app names them.

Table and column names are the app's database's, whatever their case: most
tables are PascalCase (``ProjectStates.Id``), five are snake_case as the app's
EF mapping names them (``export_history``, ``templates``, ``user_setup``,
``system_configuration``, ``custom_templates``), and the tables of the app's
newest migration mix both (``users``, ``audit_logs``, ``JobQueue``,
``MediaItems``).  Python attribute names are snake_case.  Indexes carry the
app's names (``IX_<Table>_<Columns>``).  The migrations in ``migrations/``
build this schema; ``aura-db verify`` compares a database against these
classes; docs/schema.md is generated from them.
"""

from __future__ import annotations

import peewee as pw

from aura_db.fields import (
    AutoIncrementField,
    BigAutoIncrementField,
    DecimalField,
    DecimalTextField,
    ForeignKey,
    GuidField,
    JsonField,
    StringField,
    TimestampField,
    new_guid,
)
from aura_db.models.base import BaseModel, SoftDeleteModel


class ExportHistory(BaseModel):
    id = StringField(column_name="id", primary_key=True, key=True, default=new_guid)
    input_file = StringField(500, column_name="input_file")
    output_file = StringField(500, column_name="output_file")
    preset_name = StringField(100, column_name="preset_name")
    status = StringField(50, column_name="status")
    progress = pw.DoubleField(column_name="progress", default=0)
    created_at = TimestampField(column_name="created_at")
    started_at = TimestampField(column_name="started_at", null=True)
    completed_at = TimestampField(column_name="completed_at", null=True)
    error_message = StringField(1000, column_name="error_message", null=True)
    file_size = pw.BigIntegerField(column_name="file_size", null=True)
    duration_seconds = pw.DoubleField(column_name="duration_seconds", null=True)
    platform = StringField(50, column_name="platform", null=True)
    resolution = StringField(20, column_name="resolution", null=True)
    codec = StringField(50, column_name="codec", null=True)

    class Meta:
        table_name = "export_history"


class Template(BaseModel):
    id = StringField(column_name="id", primary_key=True, key=True, default=new_guid)
    name = StringField(200, column_name="name")
    description = StringField(1000, column_name="description")
    category = StringField(50, column_name="category")
    sub_category = StringField(100, column_name="sub_category")
    preview_image = StringField(500, column_name="preview_image")
    preview_video = StringField(500, column_name="preview_video")
    tags = StringField(500, column_name="tags")
    template_data = JsonField(column_name="template_data")
    created_at = TimestampField(column_name="created_at")
    updated_at = TimestampField(column_name="updated_at")
    author = StringField(200, column_name="author")
    is_system_template = pw.BooleanField(column_name="is_system_template", default=False)
    is_community_template = pw.BooleanField(column_name="is_community_template", default=False)
    usage_count = pw.IntegerField(column_name="usage_count", default=0)
    rating = pw.DoubleField(column_name="rating", default=0)
    rating_count = pw.IntegerField(column_name="rating_count", default=0)

    class Meta:
        table_name = "templates"


class UserSetup(BaseModel):
    id = StringField(column_name="id", primary_key=True, key=True, default=new_guid)
    user_id = StringField(100, column_name="user_id")
    completed = pw.BooleanField(column_name="completed", default=False)
    completed_at = TimestampField(column_name="completed_at", null=True)
    version = StringField(20, column_name="version", null=True)
    last_step = pw.IntegerField(column_name="last_step", default=0)
    updated_at = TimestampField(column_name="updated_at")
    selected_tier = StringField(50, column_name="selected_tier", null=True)
    wizard_state = JsonField(column_name="wizard_state", null=True)

    class Meta:
        table_name = "user_setup"


class ProjectState(SoftDeleteModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    title = StringField(500, column_name="Title")
    description = StringField(2000, column_name="Description", null=True)
    status = StringField(column_name="Status", key=True, default="Draft")
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    completed_at = TimestampField(column_name="CompletedAt", null=True)
    current_stage = StringField(100, column_name="CurrentStage", null=True)
    progress_percent = pw.IntegerField(column_name="ProgressPercent", default=0)
    job_id = StringField(100, column_name="JobId", null=True)
    brief_json = JsonField(column_name="BriefJson", null=True)
    plan_spec_json = JsonField(column_name="PlanSpecJson", null=True)
    voice_spec_json = JsonField(column_name="VoiceSpecJson", null=True)
    render_spec_json = JsonField(column_name="RenderSpecJson", null=True)
    error_message = StringField(column_name="ErrorMessage", null=True)
    deleted_at = TimestampField(column_name="DeletedAt", null=True)
    modified_by = StringField(200, column_name="ModifiedBy", null=True)
    is_deleted = pw.BooleanField(column_name="IsDeleted", default=False)
    current_wizard_step = pw.IntegerField(column_name="CurrentWizardStep", default=0)
    category = StringField(100, column_name="Category", null=True)
    created_by = StringField(200, column_name="CreatedBy", null=True)
    deleted_by = StringField(200, column_name="DeletedBy", null=True)
    duration_seconds = pw.DoubleField(column_name="DurationSeconds", null=True)
    last_auto_save_at = TimestampField(column_name="LastAutoSaveAt", null=True)
    output_file_path = StringField(1000, column_name="OutputFilePath", null=True)
    tags = StringField(1000, column_name="Tags", null=True)
    template_id = StringField(50, column_name="TemplateId", null=True)
    thumbnail_path = StringField(1000, column_name="ThumbnailPath", null=True)

    class Meta:
        table_name = "ProjectStates"


class AssetState(BaseModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    project = ForeignKey(ProjectState, field="id", column_name="ProjectId", on_delete="CASCADE", index=False, backref="assets")
    asset_type = StringField(100, column_name="AssetType")
    file_path = StringField(500, column_name="FilePath")
    file_size_bytes = pw.BigIntegerField(column_name="FileSizeBytes", default=0)
    mime_type = StringField(200, column_name="MimeType", null=True)
    is_temporary = pw.BooleanField(column_name="IsTemporary", default=False)
    created_at = TimestampField(column_name="CreatedAt")

    class Meta:
        table_name = "AssetStates"


class RenderCheckpoint(BaseModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    project = ForeignKey(ProjectState, field="id", column_name="ProjectId", on_delete="CASCADE", index=False, backref="checkpoints")
    stage_name = StringField(100, column_name="StageName")
    checkpoint_time = TimestampField(column_name="CheckpointTime")
    completed_scenes = pw.IntegerField(column_name="CompletedScenes", default=0)
    total_scenes = pw.IntegerField(column_name="TotalScenes", default=0)
    checkpoint_data = StringField(column_name="CheckpointData", null=True)
    output_file_path = StringField(500, column_name="OutputFilePath", null=True)
    is_valid = pw.BooleanField(column_name="IsValid", default=False)

    class Meta:
        table_name = "RenderCheckpoints"


class SceneState(BaseModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    project = ForeignKey(ProjectState, field="id", column_name="ProjectId", on_delete="CASCADE", index=False, backref="scenes")
    scene_index = pw.IntegerField(column_name="SceneIndex", default=0)
    script_text = StringField(column_name="ScriptText")
    audio_file_path = StringField(500, column_name="AudioFilePath", null=True)
    image_file_path = StringField(500, column_name="ImageFilePath", null=True)
    duration_seconds = pw.DoubleField(column_name="DurationSeconds", default=0)
    is_completed = pw.BooleanField(column_name="IsCompleted", default=False)
    created_at = TimestampField(column_name="CreatedAt")

    class Meta:
        table_name = "SceneStates"


class ActionLog(BaseModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    user_id = StringField(200, column_name="UserId")
    action_type = StringField(100, column_name="ActionType")
    description = StringField(500, column_name="Description")
    timestamp = TimestampField(column_name="Timestamp")
    status = StringField(50, column_name="Status")
    affected_resource_ids = StringField(1000, column_name="AffectedResourceIds", null=True)
    payload_json = JsonField(column_name="PayloadJson", null=True)
    inverse_action_type = StringField(100, column_name="InverseActionType", null=True)
    inverse_payload_json = JsonField(column_name="InversePayloadJson", null=True)
    can_batch = pw.BooleanField(column_name="CanBatch", default=False)
    is_persistent = pw.BooleanField(column_name="IsPersistent", default=False)
    undone_at = TimestampField(column_name="UndoneAt", null=True)
    undone_by_user_id = StringField(200, column_name="UndoneByUserId", null=True)
    expires_at = TimestampField(column_name="ExpiresAt", null=True)
    error_message = StringField(column_name="ErrorMessage", null=True)
    correlation_id = StringField(100, column_name="CorrelationId", null=True)

    class Meta:
        table_name = "ActionLogs"


class ContentBlob(BaseModel):
    content_hash = StringField(64, column_name="ContentHash", primary_key=True)
    content = StringField(column_name="Content")
    content_type = StringField(50, column_name="ContentType")
    size_bytes = pw.BigIntegerField(column_name="SizeBytes", default=0)
    created_at = TimestampField(column_name="CreatedAt")
    last_referenced_at = TimestampField(column_name="LastReferencedAt")
    reference_count = pw.IntegerField(column_name="ReferenceCount", default=0)
    created_by = StringField(200, column_name="CreatedBy", null=True)
    modified_by = StringField(200, column_name="ModifiedBy", null=True)
    updated_at = TimestampField(column_name="UpdatedAt")

    class Meta:
        table_name = "ContentBlobs"


class ProjectVersion(SoftDeleteModel):
    # The columns that address ContentBlobs (each counts one reference).
    HASH_COLUMNS = ("brief_hash", "plan_hash", "voice_hash", "render_hash", "timeline_hash")

    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    project = ForeignKey(ProjectState, field="id", column_name="ProjectId", on_delete="CASCADE", index=False, backref="versions")
    version_number = pw.IntegerField(column_name="VersionNumber", default=0)
    name = StringField(200, column_name="Name", null=True)
    description = StringField(2000, column_name="Description", null=True)
    version_type = StringField(50, column_name="VersionType", default="Manual")
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
    storage_size_bytes = pw.BigIntegerField(column_name="StorageSizeBytes", default=0)
    is_marked_important = pw.BooleanField(column_name="IsMarkedImportant", default=False)
    is_deleted = pw.BooleanField(column_name="IsDeleted", default=False)
    deleted_at = TimestampField(column_name="DeletedAt", null=True)
    created_by = StringField(200, column_name="CreatedBy", null=True)
    deleted_by = StringField(200, column_name="DeletedBy", null=True)
    modified_by = StringField(200, column_name="ModifiedBy", null=True)
    updated_at = TimestampField(column_name="UpdatedAt")

    class Meta:
        table_name = "ProjectVersions"


class Configuration(BaseModel):
    key = StringField(column_name="Key", primary_key=True, key=True)
    value = StringField(column_name="Value")
    category = StringField(column_name="Category", key=True)
    value_type = StringField(column_name="ValueType")
    description = StringField(column_name="Description", null=True)
    is_sensitive = pw.BooleanField(column_name="IsSensitive", default=False)
    version = pw.IntegerField(column_name="Version", default=0)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    modified_by = StringField(column_name="ModifiedBy", null=True)
    is_active = pw.BooleanField(column_name="IsActive", default=False)
    created_by = StringField(column_name="CreatedBy", null=True)

    class Meta:
        table_name = "Configurations"


class SystemConfiguration(BaseModel):
    id = AutoIncrementField(column_name="id")
    is_setup_complete = pw.BooleanField(column_name="is_setup_complete", default=False)
    ffmpeg_path = StringField(500, column_name="ffmpeg_path", null=True)
    output_directory = StringField(500, column_name="output_directory")
    created_at = TimestampField(column_name="created_at")
    updated_at = TimestampField(column_name="updated_at")

    class Meta:
        table_name = "system_configuration"


class CustomTemplate(SoftDeleteModel):
    id = StringField(column_name="id", primary_key=True, key=True, default=new_guid)
    author = StringField(column_name="author")
    category = StringField(column_name="category", key=True)
    created_at = TimestampField(column_name="created_at")
    created_by = StringField(200, column_name="created_by", null=True)
    deleted_at = TimestampField(column_name="deleted_at", null=True)
    deleted_by = StringField(200, column_name="deleted_by", null=True)
    description = StringField(column_name="description")
    is_default = pw.BooleanField(column_name="is_default", default=False)
    is_deleted = pw.BooleanField(column_name="is_deleted", default=False)
    llm_pipeline_json = JsonField(column_name="llm_pipeline_json")
    modified_by = StringField(200, column_name="modified_by", null=True)
    name = StringField(column_name="name")
    script_structure_json = JsonField(column_name="script_structure_json")
    tags = StringField(column_name="tags")
    updated_at = TimestampField(column_name="updated_at")
    video_structure_json = JsonField(column_name="video_structure_json")
    visual_preferences_json = JsonField(column_name="visual_preferences_json")

    class Meta:
        table_name = "custom_templates"


class AnalyticsRetentionSettings(BaseModel):
    id = StringField(column_name="Id", primary_key=True, key=True, default=new_guid)
    is_enabled = pw.BooleanField(column_name="IsEnabled", default=False)
    usage_statistics_retention_days = pw.IntegerField(column_name="UsageStatisticsRetentionDays", default=0)
    cost_tracking_retention_days = pw.IntegerField(column_name="CostTrackingRetentionDays", default=0)
    performance_metrics_retention_days = pw.IntegerField(column_name="PerformanceMetricsRetentionDays", default=0)
    auto_cleanup_enabled = pw.BooleanField(column_name="AutoCleanupEnabled", default=False)
    cleanup_hour_utc = pw.IntegerField(column_name="CleanupHourUtc", default=0)
    track_success_only = pw.BooleanField(column_name="TrackSuccessOnly", default=False)
    collect_hardware_metrics = pw.BooleanField(column_name="CollectHardwareMetrics", default=False)
    aggregate_old_data = pw.BooleanField(column_name="AggregateOldData", default=False)
    aggregation_threshold_days = pw.IntegerField(column_name="AggregationThresholdDays", default=0)
    max_database_size_mb = pw.IntegerField(column_name="MaxDatabaseSizeMB", default=0)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "AnalyticsRetentionSettings"


class AnalyticsSummary(BaseModel):
    id = BigAutoIncrementField(column_name="Id")
    period_type = StringField(20, column_name="PeriodType")
    period_id = StringField(20, column_name="PeriodId")
    period_start = TimestampField(column_name="PeriodStart")
    period_end = TimestampField(column_name="PeriodEnd")
    total_generations = pw.IntegerField(column_name="TotalGenerations", default=0)
    successful_generations = pw.IntegerField(column_name="SuccessfulGenerations", default=0)
    failed_generations = pw.IntegerField(column_name="FailedGenerations", default=0)
    total_tokens = pw.BigIntegerField(column_name="TotalTokens", default=0)
    total_input_tokens = pw.BigIntegerField(column_name="TotalInputTokens", default=0)
    total_output_tokens = pw.BigIntegerField(column_name="TotalOutputTokens", default=0)
    total_cost_usd = DecimalField(column_name="TotalCostUSD", default=0)
    average_duration_ms = pw.BigIntegerField(column_name="AverageDurationMs", default=0)
    total_rendering_time_ms = pw.BigIntegerField(column_name="TotalRenderingTimeMs", default=0)
    most_used_provider = StringField(50, column_name="MostUsedProvider", null=True)
    most_used_model = StringField(100, column_name="MostUsedModel", null=True)
    most_used_feature = StringField(50, column_name="MostUsedFeature", null=True)
    total_video_duration_seconds = pw.DoubleField(column_name="TotalVideoDurationSeconds", default=0)
    total_scenes = pw.IntegerField(column_name="TotalScenes", default=0)
    average_cpu_usage = pw.DoubleField(column_name="AverageCpuUsage", null=True)
    average_memory_usage_mb = pw.DoubleField(column_name="AverageMemoryUsageMB", null=True)
    provider_breakdown = StringField(column_name="ProviderBreakdown", null=True)
    feature_breakdown = StringField(column_name="FeatureBreakdown", null=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "AnalyticsSummaries"


class AuditLog(BaseModel):
    id = StringField(column_name="id", primary_key=True, key=True, default=new_guid)
    timestamp = TimestampField(column_name="timestamp")
    user_id = StringField(200, column_name="user_id", null=True)
    username = StringField(200, column_name="username", null=True)
    action = StringField(200, column_name="action")
    resource_type = StringField(100, column_name="resource_type", null=True)
    resource_id = StringField(200, column_name="resource_id", null=True)
    ip_address = StringField(45, column_name="ip_address", null=True)
    user_agent = StringField(500, column_name="user_agent", null=True)
    success = pw.BooleanField(column_name="success", default=False)
    error_message = StringField(column_name="error_message", null=True)
    changes = StringField(column_name="changes", null=True)
    metadata = StringField(column_name="metadata", null=True)
    severity = StringField(50, column_name="severity", null=True)

    class Meta:
        table_name = "audit_logs"


class HardwareSettings(BaseModel):
    id = StringField(column_name="Id", primary_key=True, key=True, default=new_guid)
    settings_json = JsonField(column_name="SettingsJson")
    version = StringField(column_name="Version", key=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "HardwareSettings"


class JobQueueEntry(BaseModel):
    job_id = StringField(column_name="JobId", primary_key=True, key=True, default=new_guid)
    priority = pw.IntegerField(column_name="Priority", default=0)
    status = StringField(50, column_name="Status")
    job_data_json = JsonField(column_name="JobDataJson")
    correlation_id = StringField(100, column_name="CorrelationId", null=True)
    retry_count = pw.IntegerField(column_name="RetryCount", default=0)
    max_retries = pw.IntegerField(column_name="MaxRetries", default=0)
    last_error = StringField(column_name="LastError", null=True)
    enqueued_at = TimestampField(column_name="EnqueuedAt")
    started_at = TimestampField(column_name="StartedAt", null=True)
    completed_at = TimestampField(column_name="CompletedAt", null=True)
    next_retry_at = TimestampField(column_name="NextRetryAt", null=True)
    progress_percent = pw.IntegerField(column_name="ProgressPercent", default=0)
    current_stage = StringField(100, column_name="CurrentStage", null=True)
    output_path = StringField(500, column_name="OutputPath", null=True)
    worker_id = StringField(100, column_name="WorkerId", null=True)
    is_quick_demo = pw.BooleanField(column_name="IsQuickDemo", default=False)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "JobQueue"


class MediaCollection(SoftDeleteModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    name = StringField(200, column_name="Name")
    description = StringField(1000, column_name="Description", null=True)
    thumbnail_url = StringField(1000, column_name="ThumbnailUrl", null=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)
    is_deleted = pw.BooleanField(column_name="IsDeleted", default=False)
    deleted_at = TimestampField(column_name="DeletedAt", null=True)
    deleted_by = StringField(column_name="DeletedBy", null=True)

    class Meta:
        table_name = "MediaCollections"


class PerformanceMetric(BaseModel):
    id = BigAutoIncrementField(column_name="Id")
    project_id = StringField(100, column_name="ProjectId", null=True)
    job_id = StringField(100, column_name="JobId", null=True)
    operation_type = StringField(50, column_name="OperationType")
    stage = StringField(100, column_name="Stage", null=True)
    duration_ms = pw.BigIntegerField(column_name="DurationMs", default=0)
    cpu_usage_percent = pw.DoubleField(column_name="CpuUsagePercent", null=True)
    memory_used_mb = pw.DoubleField(column_name="MemoryUsedMB", null=True)
    peak_memory_mb = pw.DoubleField(column_name="PeakMemoryMB", null=True)
    gpu_usage_percent = pw.DoubleField(column_name="GpuUsagePercent", null=True)
    disk_io_operations = pw.BigIntegerField(column_name="DiskIOOperations", null=True)
    network_bytes_transferred = pw.BigIntegerField(column_name="NetworkBytesTransferred", null=True)
    output_file_size_bytes = pw.BigIntegerField(column_name="OutputFileSizeBytes", null=True)
    success = pw.BooleanField(column_name="Success", default=False)
    error_message = StringField(500, column_name="ErrorMessage", null=True)
    worker_count = pw.IntegerField(column_name="WorkerCount", null=True)
    queue_wait_ms = pw.BigIntegerField(column_name="QueueWaitMs", null=True)
    throughput = pw.DoubleField(column_name="Throughput", null=True)
    throughput_unit = StringField(20, column_name="ThroughputUnit", null=True)
    timestamp = TimestampField(column_name="Timestamp")
    system_info = StringField(column_name="SystemInfo", null=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "PerformanceMetrics"


class ProviderConfiguration(BaseModel):
    id = StringField(column_name="Id", primary_key=True, key=True, default=new_guid)
    config_json = JsonField(column_name="ConfigJson")
    is_encrypted = pw.BooleanField(column_name="IsEncrypted", default=False)
    version = StringField(column_name="Version", key=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "ProviderConfigurations"


class QueueConfiguration(BaseModel):
    id = StringField(column_name="Id", primary_key=True, key=True, default=new_guid)
    max_concurrent_jobs = pw.IntegerField(column_name="MaxConcurrentJobs", default=0)
    pause_on_battery = pw.BooleanField(column_name="PauseOnBattery", default=False)
    cpu_throttle_threshold = pw.IntegerField(column_name="CpuThrottleThreshold", default=0)
    memory_throttle_threshold = pw.IntegerField(column_name="MemoryThrottleThreshold", default=0)
    is_enabled = pw.BooleanField(column_name="IsEnabled", default=False)
    polling_interval_seconds = pw.IntegerField(column_name="PollingIntervalSeconds", default=0)
    job_history_retention_days = pw.IntegerField(column_name="JobHistoryRetentionDays", default=0)
    failed_job_retention_days = pw.IntegerField(column_name="FailedJobRetentionDays", default=0)
    retry_base_delay_seconds = pw.IntegerField(column_name="RetryBaseDelaySeconds", default=0)
    retry_max_delay_seconds = pw.IntegerField(column_name="RetryMaxDelaySeconds", default=0)
    enable_notifications = pw.BooleanField(column_name="EnableNotifications", default=False)
    updated_at = TimestampField(column_name="UpdatedAt")

    class Meta:
        table_name = "QueueConfiguration"


class Role(BaseModel):
    id = StringField(column_name="id", primary_key=True, key=True, default=new_guid)
    name = StringField(100, column_name="name")
    normalized_name = StringField(100, column_name="normalized_name", null=True)
    description = StringField(500, column_name="description", null=True)
    is_system_role = pw.BooleanField(column_name="is_system_role", default=False)
    permissions = StringField(column_name="permissions", null=True)
    created_at = TimestampField(column_name="created_at")
    updated_at = TimestampField(column_name="updated_at")
    created_by = StringField(100, column_name="created_by", null=True)
    modified_by = StringField(100, column_name="modified_by", null=True)

    class Meta:
        table_name = "roles"


class Settings(BaseModel):
    id = StringField(column_name="Id", primary_key=True, key=True, default=new_guid)
    settings_json = JsonField(column_name="SettingsJson")
    is_encrypted = pw.BooleanField(column_name="IsEncrypted", default=False)
    version = StringField(column_name="Version", key=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "Settings"


class UploadSession(BaseModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    file_name = StringField(500, column_name="FileName")
    total_size = pw.BigIntegerField(column_name="TotalSize", default=0)
    uploaded_size = pw.BigIntegerField(column_name="UploadedSize", default=0)
    total_chunks = pw.IntegerField(column_name="TotalChunks", default=0)
    completed_chunks_json = JsonField(column_name="CompletedChunksJson")
    blob_url = StringField(1000, column_name="BlobUrl")
    created_at = TimestampField(column_name="CreatedAt")
    expires_at = TimestampField(column_name="ExpiresAt")

    class Meta:
        table_name = "UploadSessions"


class UsageStatistic(BaseModel):
    id = BigAutoIncrementField(column_name="Id")
    project_id = StringField(100, column_name="ProjectId", null=True)
    job_id = StringField(100, column_name="JobId", null=True)
    generation_type = StringField(50, column_name="GenerationType")
    provider = StringField(50, column_name="Provider")
    model = StringField(100, column_name="Model", null=True)
    input_tokens = pw.BigIntegerField(column_name="InputTokens", default=0)
    output_tokens = pw.BigIntegerField(column_name="OutputTokens", default=0)
    duration_ms = pw.BigIntegerField(column_name="DurationMs", default=0)
    success = pw.BooleanField(column_name="Success", default=False)
    error_message = StringField(500, column_name="ErrorMessage", null=True)
    feature_used = StringField(50, column_name="FeatureUsed", null=True)
    output_duration_seconds = pw.DoubleField(column_name="OutputDurationSeconds", null=True)
    scene_count = pw.IntegerField(column_name="SceneCount", null=True)
    is_retry = pw.BooleanField(column_name="IsRetry", default=False)
    retry_attempt = pw.IntegerField(column_name="RetryAttempt", null=True)
    timestamp = TimestampField(column_name="Timestamp")
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "UsageStatistics"


class User(BaseModel):
    id = StringField(column_name="id", primary_key=True, key=True, default=new_guid)
    username = StringField(100, column_name="username")
    email = StringField(255, column_name="email")
    display_name = StringField(200, column_name="display_name", null=True)
    password_hash = StringField(500, column_name="password_hash", null=True)
    is_active = pw.BooleanField(column_name="is_active", default=False)
    is_suspended = pw.BooleanField(column_name="is_suspended", default=False)
    suspended_at = TimestampField(column_name="suspended_at", null=True)
    suspended_reason = StringField(column_name="suspended_reason", null=True)
    last_login_at = TimestampField(column_name="last_login_at", null=True)
    last_login_ip = StringField(45, column_name="last_login_ip", null=True)
    failed_login_attempts = pw.IntegerField(column_name="failed_login_attempts", default=0)
    lockout_end = TimestampField(column_name="lockout_end", null=True)
    email_verified = pw.BooleanField(column_name="email_verified", default=False)
    phone_number = StringField(20, column_name="phone_number", null=True)
    phone_verified = pw.BooleanField(column_name="phone_verified", default=False)
    two_factor_enabled = pw.BooleanField(column_name="two_factor_enabled", default=False)
    two_factor_secret = StringField(200, column_name="two_factor_secret", null=True)
    created_at = TimestampField(column_name="created_at")
    updated_at = TimestampField(column_name="updated_at")
    created_by = StringField(100, column_name="created_by", null=True)
    modified_by = StringField(100, column_name="modified_by", null=True)
    metadata = StringField(column_name="metadata", null=True)

    class Meta:
        table_name = "users"


class JobProgressHistory(BaseModel):
    id = BigAutoIncrementField(column_name="Id")
    job = ForeignKey(JobQueueEntry, field="job_id", column_name="JobId", on_delete="CASCADE", index=False, backref="progress_history")
    stage = StringField(100, column_name="Stage")
    progress_percent = pw.IntegerField(column_name="ProgressPercent", default=0)
    message = StringField(500, column_name="Message")
    substage_detail = StringField(200, column_name="SubstageDetail", null=True)
    current_item = pw.IntegerField(column_name="CurrentItem", null=True)
    total_items = pw.IntegerField(column_name="TotalItems", null=True)
    timestamp = TimestampField(column_name="Timestamp")
    elapsed_milliseconds = pw.BigIntegerField(column_name="ElapsedMilliseconds", null=True)
    estimated_remaining_milliseconds = pw.BigIntegerField(column_name="EstimatedRemainingMilliseconds", null=True)

    class Meta:
        table_name = "JobProgressHistory"


class MediaItem(SoftDeleteModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    file_name = StringField(500, column_name="FileName")
    type = StringField(50, column_name="Type")
    source = StringField(50, column_name="Source")
    file_size = pw.BigIntegerField(column_name="FileSize", default=0)
    description = StringField(2000, column_name="Description", null=True)
    blob_url = StringField(1000, column_name="BlobUrl")
    thumbnail_url = StringField(1000, column_name="ThumbnailUrl", null=True)
    preview_url = StringField(1000, column_name="PreviewUrl", null=True)
    content_hash = StringField(100, column_name="ContentHash", null=True)
    metadata_json = JsonField(column_name="MetadataJson", null=True)
    processing_status = StringField(50, column_name="ProcessingStatus")
    processing_error = StringField(column_name="ProcessingError", null=True)
    collection = ForeignKey(MediaCollection, field="id", column_name="CollectionId", null=True, on_delete="SET NULL", index=False, backref="items")
    usage_count = pw.IntegerField(column_name="UsageCount", default=0)
    last_used_at = TimestampField(column_name="LastUsedAt", null=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)
    is_deleted = pw.BooleanField(column_name="IsDeleted", default=False)
    deleted_at = TimestampField(column_name="DeletedAt", null=True)
    deleted_by = StringField(column_name="DeletedBy", null=True)

    class Meta:
        table_name = "MediaItems"


class CostTracking(BaseModel):
    id = BigAutoIncrementField(column_name="Id")
    usage_statistics = ForeignKey(UsageStatistic, field="id", column_name="UsageStatisticsId", null=True, on_delete="SET NULL", index=False, backref="costs")
    project_id = StringField(100, column_name="ProjectId", null=True)
    job_id = StringField(100, column_name="JobId", null=True)
    provider = StringField(50, column_name="Provider")
    model = StringField(100, column_name="Model")
    input_tokens = pw.BigIntegerField(column_name="InputTokens", default=0)
    output_tokens = pw.BigIntegerField(column_name="OutputTokens", default=0)
    input_price_per_1m = DecimalField(column_name="InputPricePer1M", default=0)
    output_price_per_1m = DecimalField(column_name="OutputPricePer1M", default=0)
    input_cost = DecimalField(column_name="InputCost", default=0)
    output_cost = DecimalField(column_name="OutputCost", default=0)
    total_cost = DecimalField(column_name="TotalCost", default=0)
    currency = StringField(3, column_name="Currency")
    year_month = StringField(7, column_name="YearMonth")
    timestamp = TimestampField(column_name="Timestamp")
    is_estimated = pw.BooleanField(column_name="IsEstimated", default=False)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "CostTracking"


class UserQuota(BaseModel):
    id = StringField(column_name="id", primary_key=True, key=True, default=new_guid)
    user = ForeignKey(User, field="id", column_name="user_id", on_delete="CASCADE", index=False, backref="quotas")
    api_requests_per_day = pw.IntegerField(column_name="api_requests_per_day", null=True)
    api_requests_used_today = pw.IntegerField(column_name="api_requests_used_today", default=0)
    api_requests_reset_at = TimestampField(column_name="api_requests_reset_at", null=True)
    videos_per_month = pw.IntegerField(column_name="videos_per_month", null=True)
    videos_generated_this_month = pw.IntegerField(column_name="videos_generated_this_month", default=0)
    videos_reset_at = TimestampField(column_name="videos_reset_at", null=True)
    storage_limit_bytes = pw.BigIntegerField(column_name="storage_limit_bytes", null=True)
    storage_used_bytes = pw.BigIntegerField(column_name="storage_used_bytes", default=0)
    ai_tokens_per_month = pw.BigIntegerField(column_name="ai_tokens_per_month", null=True)
    ai_tokens_used_this_month = pw.BigIntegerField(column_name="ai_tokens_used_this_month", default=0)
    ai_tokens_reset_at = TimestampField(column_name="ai_tokens_reset_at", null=True)
    max_concurrent_renders = pw.IntegerField(column_name="max_concurrent_renders", null=True)
    max_concurrent_jobs = pw.IntegerField(column_name="max_concurrent_jobs", null=True)
    total_cost_usd = DecimalTextField(column_name="total_cost_usd")
    cost_limit_usd = DecimalTextField(column_name="cost_limit_usd", null=True)
    created_at = TimestampField(column_name="created_at")
    updated_at = TimestampField(column_name="updated_at")
    created_by = StringField(100, column_name="created_by", null=True)
    modified_by = StringField(100, column_name="modified_by", null=True)

    class Meta:
        table_name = "user_quotas"


class UserRole(BaseModel):
    user = ForeignKey(User, field="id", column_name="user_id", on_delete="CASCADE", index=False, backref="user_roles")
    role = ForeignKey(Role, field="id", column_name="role_id", on_delete="CASCADE", index=False, backref="role_users")
    assigned_at = TimestampField(column_name="assigned_at")
    assigned_by = StringField(200, column_name="assigned_by", null=True)

    class Meta:
        table_name = "user_roles"
        primary_key = pw.CompositeKey("user", "role")


class MediaTag(BaseModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    media = ForeignKey(MediaItem, field="id", column_name="MediaId", on_delete="CASCADE", index=False, backref="media_tags")
    tag = StringField(100, column_name="Tag")
    created_at = TimestampField(column_name="CreatedAt")

    class Meta:
        table_name = "MediaTags"


class MediaUsage(BaseModel):
    id = GuidField(column_name="Id", primary_key=True, default=new_guid)
    media = ForeignKey(MediaItem, field="id", column_name="MediaId", on_delete="CASCADE", index=False, backref="usages")
    project_id = StringField(100, column_name="ProjectId")
    project_name = StringField(200, column_name="ProjectName", null=True)
    used_at = TimestampField(column_name="UsedAt")

    class Meta:
        table_name = "MediaUsages"


# The app's 146 indexes: (model, attribute names in column order, unique).
INDEXES: list[tuple[type[BaseModel], tuple[str, ...], bool]] = [
    (ExportHistory, ('created_at',), False),
    (ExportHistory, ('status',), False),
    (ExportHistory, ('status', 'created_at',), False),
    (Template, ('category',), False),
    (Template, ('category', 'sub_category',), False),
    (Template, ('is_community_template',), False),
    (Template, ('is_system_template',), False),
    (UserSetup, ('completed',), False),
    (UserSetup, ('updated_at',), False),
    (UserSetup, ('user_id',), True),
    (ProjectState, ('job_id',), False),
    (ProjectState, ('status',), False),
    (ProjectState, ('status', 'updated_at',), False),
    (ProjectState, ('updated_at',), False),
    (ProjectState, ('is_deleted',), False),
    (ProjectState, ('is_deleted', 'deleted_at',), False),
    (ProjectState, ('category',), False),
    (ProjectState, ('category', 'created_at',), False),
    (ProjectState, ('created_at',), False),
    (ProjectState, ('status', 'category',), False),
    (ProjectState, ('template_id',), False),
    (AssetState, ('is_temporary',), False),
    (AssetState, ('project',), False),
    (AssetState, ('project', 'asset_type',), False),
    (RenderCheckpoint, ('checkpoint_time',), False),
    (RenderCheckpoint, ('project',), False),
    (RenderCheckpoint, ('project', 'stage_name',), False),
    (SceneState, ('project',), False),
    (SceneState, ('project', 'scene_index',), False),
    (ActionLog, ('action_type',), False),
    (ActionLog, ('correlation_id',), False),
    (ActionLog, ('expires_at',), False),
    (ActionLog, ('status',), False),
    (ActionLog, ('status', 'timestamp',), False),
    (ActionLog, ('timestamp',), False),
    (ActionLog, ('user_id',), False),
    (ActionLog, ('user_id', 'timestamp',), False),
    (ContentBlob, ('content_type',), False),
    (ContentBlob, ('last_referenced_at',), False),
    (ContentBlob, ('reference_count',), False),
    (ProjectVersion, ('created_at',), False),
    (ProjectVersion, ('is_deleted',), False),
    (ProjectVersion, ('is_deleted', 'deleted_at',), False),
    (ProjectVersion, ('is_marked_important',), False),
    (ProjectVersion, ('project',), False),
    (ProjectVersion, ('project', 'created_at',), False),
    (ProjectVersion, ('project', 'version_number',), True),
    (ProjectVersion, ('version_type',), False),
    (Configuration, ('category',), False),
    (Configuration, ('category', 'is_active',), False),
    (Configuration, ('category', 'updated_at',), False),
    (Configuration, ('is_active',), False),
    (Configuration, ('is_sensitive',), False),
    (Configuration, ('updated_at',), False),
    (CustomTemplate, ('category',), False),
    (CustomTemplate, ('category', 'created_at',), False),
    (CustomTemplate, ('created_at',), False),
    (CustomTemplate, ('is_default',), False),
    (CustomTemplate, ('is_deleted',), False),
    (CustomTemplate, ('is_deleted', 'deleted_at',), False),
    (AnalyticsRetentionSettings, ('is_enabled',), False),
    (AnalyticsRetentionSettings, ('updated_at',), False),
    (AnalyticsSummary, ('period_id',), False),
    (AnalyticsSummary, ('period_start',), False),
    (AnalyticsSummary, ('period_type',), False),
    (AnalyticsSummary, ('period_type', 'period_id',), True),
    (AnalyticsSummary, ('period_type', 'period_start',), False),
    (AuditLog, ('action',), False),
    (AuditLog, ('action', 'timestamp',), False),
    (AuditLog, ('resource_type',), False),
    (AuditLog, ('timestamp',), False),
    (AuditLog, ('user_id',), False),
    (AuditLog, ('user_id', 'timestamp',), False),
    (HardwareSettings, ('updated_at',), False),
    (HardwareSettings, ('version',), False),
    (JobQueueEntry, ('created_at',), False),
    (JobQueueEntry, ('enqueued_at',), False),
    (JobQueueEntry, ('next_retry_at',), False),
    (JobQueueEntry, ('priority',), False),
    (JobQueueEntry, ('status',), False),
    (JobQueueEntry, ('status', 'priority',), False),
    (JobQueueEntry, ('worker_id',), False),
    (MediaCollection, ('created_at',), False),
    (MediaCollection, ('is_deleted',), False),
    (MediaCollection, ('is_deleted', 'deleted_at',), False),
    (MediaCollection, ('name',), False),
    (PerformanceMetric, ('job_id',), False),
    (PerformanceMetric, ('operation_type',), False),
    (PerformanceMetric, ('operation_type', 'timestamp',), False),
    (PerformanceMetric, ('project_id',), False),
    (PerformanceMetric, ('success',), False),
    (PerformanceMetric, ('success', 'timestamp',), False),
    (PerformanceMetric, ('timestamp',), False),
    (ProviderConfiguration, ('updated_at',), False),
    (ProviderConfiguration, ('version',), False),
    (QueueConfiguration, ('updated_at',), False),
    (Role, ('is_system_role',), False),
    (Role, ('name',), True),
    (Role, ('normalized_name',), True),
    (Settings, ('updated_at',), False),
    (Settings, ('version',), False),
    (UploadSession, ('created_at',), False),
    (UploadSession, ('expires_at',), False),
    (UsageStatistic, ('generation_type',), False),
    (UsageStatistic, ('generation_type', 'timestamp',), False),
    (UsageStatistic, ('job_id',), False),
    (UsageStatistic, ('project_id',), False),
    (UsageStatistic, ('provider',), False),
    (UsageStatistic, ('provider', 'timestamp',), False),
    (UsageStatistic, ('success',), False),
    (UsageStatistic, ('success', 'timestamp',), False),
    (UsageStatistic, ('timestamp',), False),
    (User, ('created_at',), False),
    (User, ('email',), True),
    (User, ('is_active',), False),
    (User, ('is_suspended',), False),
    (User, ('username',), True),
    (JobProgressHistory, ('job',), False),
    (JobProgressHistory, ('job', 'timestamp',), False),
    (JobProgressHistory, ('timestamp',), False),
    (MediaItem, ('collection',), False),
    (MediaItem, ('content_hash',), False),
    (MediaItem, ('created_at',), False),
    (MediaItem, ('is_deleted',), False),
    (MediaItem, ('is_deleted', 'deleted_at',), False),
    (MediaItem, ('processing_status',), False),
    (MediaItem, ('source',), False),
    (MediaItem, ('type',), False),
    (MediaItem, ('type', 'created_at',), False),
    (CostTracking, ('job_id',), False),
    (CostTracking, ('project_id',), False),
    (CostTracking, ('provider',), False),
    (CostTracking, ('provider', 'year_month',), False),
    (CostTracking, ('timestamp',), False),
    (CostTracking, ('usage_statistics',), False),
    (CostTracking, ('year_month',), False),
    (CostTracking, ('year_month', 'timestamp',), False),
    (UserQuota, ('user',), True),
    (UserRole, ('role',), False),
    (MediaTag, ('media',), False),
    (MediaTag, ('media', 'tag',), True),
    (MediaTag, ('tag',), False),
    (MediaUsage, ('media',), False),
    (MediaUsage, ('media', 'used_at',), False),
    (MediaUsage, ('project_id',), False),
    (MediaUsage, ('used_at',), False),
]


def index_name(model: type[BaseModel], columns: tuple[str, ...]) -> str:
    """The app's (EF Core's) name for an index: ``IX_<table>_<column>_<column>``."""
    cols = "_".join(model._meta.fields[c].column_name for c in columns)
    return f"IX_{model._meta.table_name}_{cols}"


for _model, _cols, _unique in INDEXES:
    _model.add_index(
        *(getattr(_model, c) for c in _cols), unique=_unique, name=index_name(_model, _cols)
    )

# Creation order: parents before children.
MODELS: list[type[BaseModel]] = [
    ExportHistory, Template, UserSetup, ProjectState, AssetState, RenderCheckpoint, SceneState,
    ActionLog, ContentBlob, ProjectVersion, Configuration, SystemConfiguration, CustomTemplate,
    AnalyticsRetentionSettings, AnalyticsSummary, AuditLog, HardwareSettings, JobQueueEntry,
    MediaCollection, PerformanceMetric, ProviderConfiguration, QueueConfiguration, Role, Settings,
    UploadSession, UsageStatistic, User, JobProgressHistory, MediaItem, CostTracking, UserQuota,
    UserRole, MediaTag, MediaUsage,
]

TABLES: list[str] = [m._meta.table_name for m in MODELS]
