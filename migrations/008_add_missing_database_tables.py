"""Match the Aura app's EF migration 20251122175419_AddMissingDatabaseTables.

The app's largest migration (it lives in Aura.Api/Data/Migrations):

* renames ``CustomTemplates`` to ``custom_templates`` with snake_case columns
  and indexes, drops its ``DeletedByUserId`` and adds ``created_by``,
  ``deleted_by``, ``modified_by``.  aura-db moves every row into the new table;
* renames ``ProjectStates.DeletedByUserId`` to ``ModifiedBy`` (values kept) and
  adds nine columns and five indexes to ``ProjectStates``, audit columns to
  ``ProjectVersions`` and ``ContentBlobs`` (their ``UpdatedAt`` NOT NULL DEFAULT
  '0001-01-01 00:00:00', as the app's);
* creates 21 tables (users, roles, user_roles, user_quotas, audit_logs, the job
  queue, the media library, analytics, settings) with 86 indexes;
* inserts the default analytics-retention and queue-configuration rows and the
  three system roles, and sets ``system_configuration`` row 1's times to
  2024-01-01, as the app's migration does.

Rollback undoes all of it, moving ``custom_templates`` rows back.
"""

import peewee as pw

from aura_db import ddl
from aura_db.fields import BigAutoIncrementField, DecimalField, DecimalTextField, ForeignKey, GuidField, JsonField, StringField, TimestampField

EF_MIGRATION_ID = "20251122175419_AddMissingDatabaseTables"

# The table the app's migration renames (CustomTemplates -> custom_templates)
# is moved aside under this name while its successor is built.
MOVING = "aura_moving_custom_templates"

# Columns whose rows move, as (CustomTemplates column, custom_templates column).
# ``DeletedByUserId`` is dropped by the app's migration; its values go with it.
MOVED_COLUMNS = [
    ("Id", "id"),
    ("Name", "name"),
    ("Description", "description"),
    ("Category", "category"),
    ("Tags", "tags"),
    ("CreatedAt", "created_at"),
    ("UpdatedAt", "updated_at"),
    ("Author", "author"),
    ("IsDefault", "is_default"),
    ("IsDeleted", "is_deleted"),
    ("DeletedAt", "deleted_at"),
    ("ScriptStructureJson", "script_structure_json"),
    ("VideoStructureJson", "video_structure_json"),
    ("LLMPipelineJson", "llm_pipeline_json"),
    ("VisualPreferencesJson", "visual_preferences_json"),
]

# ProjectStates columns added here, newest state: (column, field, default).
PS_INDEXES = [
    ("IX_ProjectStates_Category", "Category"),
    ("IX_ProjectStates_Category_CreatedAt", "Category CreatedAt"),
    ("IX_ProjectStates_CreatedAt", "CreatedAt"),
    ("IX_ProjectStates_Status_Category", "Status Category"),
    ("IX_ProjectStates_TemplateId", "TemplateId"),
]

# Rows the app's migration inserts (InsertData), value for value.
ANALYTICS_RETENTION_ROW = {
    "Id": "default", "AggregateOldData": True, "AggregationThresholdDays": 30, "AutoCleanupEnabled": True,
    "CleanupHourUtc": 2, "CollectHardwareMetrics": True, "CostTrackingRetentionDays": 365,
    "CreatedAt": "2024-01-01 00:00:00", "CreatedBy": None, "IsEnabled": True, "MaxDatabaseSizeMB": 500,
    "ModifiedBy": None, "PerformanceMetricsRetentionDays": 30, "TrackSuccessOnly": False,
    "UpdatedAt": "2024-01-01 00:00:00", "UsageStatisticsRetentionDays": 90,
}
QUEUE_CONFIGURATION_ROW = {
    "Id": "default", "CpuThrottleThreshold": 90, "EnableNotifications": True, "FailedJobRetentionDays": 90,
    "IsEnabled": True, "JobHistoryRetentionDays": 30, "MaxConcurrentJobs": 2, "MemoryThrottleThreshold": 90,
    "PauseOnBattery": False, "PollingIntervalSeconds": 5, "RetryBaseDelaySeconds": 60,
    "RetryMaxDelaySeconds": 3600, "UpdatedAt": "2024-01-01 00:00:00",
}
ROLE_ROWS = [
    {"id": "role-admin", "created_at": "2025-11-22 17:54:19.1123839", "created_by": None,
     "description": "Full system access", "is_system_role": True, "modified_by": None, "name": "Administrator",
     "normalized_name": "ADMINISTRATOR",
     "permissions": '["admin.full_access","users.manage","config.write","audit.view"]',
     "updated_at": "2025-11-22 17:54:19.112384"},
    {"id": "role-user", "created_at": "2025-11-22 17:54:19.1123853", "created_by": None,
     "description": "Standard user access", "is_system_role": True, "modified_by": None, "name": "User",
     "normalized_name": "USER", "permissions": '["projects.manage","videos.create","assets.manage"]',
     "updated_at": "2025-11-22 17:54:19.1123853"},
    {"id": "role-viewer", "created_at": "2025-11-22 17:54:19.1123865", "created_by": None,
     "description": "Read-only access", "is_system_role": True, "modified_by": None, "name": "Viewer",
     "normalized_name": "VIEWER", "permissions": '["projects.view","videos.view"]',
     "updated_at": "2025-11-22 17:54:19.1123865"},
]
# UpdateData on system_configuration id 1: the times after, and before (rollback).
SYSTEM_CONFIGURATION_TIMES = {"created_at": "2024-01-01 00:00:00", "updated_at": "2024-01-01 00:00:00"}
SYSTEM_CONFIGURATION_TIMES_BEFORE = {
    "created_at": "2025-11-09 17:04:31.2365323", "updated_at": "2025-11-09 17:04:31.2365324",
}


class Model(pw.Model):
    pass


class CustomTemplate(Model):
    id = StringField(column_name="id", primary_key=True, key=True)
    author = StringField(column_name="author")
    category = StringField(column_name="category", key=True)
    created_at = TimestampField(column_name="created_at")
    created_by = StringField(200, column_name="created_by", null=True)
    deleted_at = TimestampField(column_name="deleted_at", null=True)
    deleted_by = StringField(200, column_name="deleted_by", null=True)
    description = StringField(column_name="description")
    is_default = pw.BooleanField(column_name="is_default")
    is_deleted = pw.BooleanField(column_name="is_deleted")
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


ddl.add_indexes(CustomTemplate, [
    ("IX_custom_templates_category", "category"),
    ("IX_custom_templates_category_created_at", "category created_at"),
    ("IX_custom_templates_created_at", "created_at"),
    ("IX_custom_templates_is_default", "is_default"),
    ("IX_custom_templates_is_deleted", "is_deleted"),
    ("IX_custom_templates_is_deleted_deleted_at", "is_deleted deleted_at"),
])


class AnalyticsRetentionSettings(Model):
    id = StringField(column_name="Id", primary_key=True, key=True)
    is_enabled = pw.BooleanField(column_name="IsEnabled")
    usage_statistics_retention_days = pw.IntegerField(column_name="UsageStatisticsRetentionDays")
    cost_tracking_retention_days = pw.IntegerField(column_name="CostTrackingRetentionDays")
    performance_metrics_retention_days = pw.IntegerField(column_name="PerformanceMetricsRetentionDays")
    auto_cleanup_enabled = pw.BooleanField(column_name="AutoCleanupEnabled")
    cleanup_hour_utc = pw.IntegerField(column_name="CleanupHourUtc")
    track_success_only = pw.BooleanField(column_name="TrackSuccessOnly")
    collect_hardware_metrics = pw.BooleanField(column_name="CollectHardwareMetrics")
    aggregate_old_data = pw.BooleanField(column_name="AggregateOldData")
    aggregation_threshold_days = pw.IntegerField(column_name="AggregationThresholdDays")
    max_database_size_mb = pw.IntegerField(column_name="MaxDatabaseSizeMB")
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "AnalyticsRetentionSettings"


ddl.add_indexes(AnalyticsRetentionSettings, [
    ("IX_AnalyticsRetentionSettings_IsEnabled", "IsEnabled"),
    ("IX_AnalyticsRetentionSettings_UpdatedAt", "UpdatedAt"),
])


class AnalyticsSummary(Model):
    id = BigAutoIncrementField(column_name="Id")
    period_type = StringField(20, column_name="PeriodType")
    period_id = StringField(20, column_name="PeriodId")
    period_start = TimestampField(column_name="PeriodStart")
    period_end = TimestampField(column_name="PeriodEnd")
    total_generations = pw.IntegerField(column_name="TotalGenerations")
    successful_generations = pw.IntegerField(column_name="SuccessfulGenerations")
    failed_generations = pw.IntegerField(column_name="FailedGenerations")
    total_tokens = pw.BigIntegerField(column_name="TotalTokens")
    total_input_tokens = pw.BigIntegerField(column_name="TotalInputTokens")
    total_output_tokens = pw.BigIntegerField(column_name="TotalOutputTokens")
    total_cost_usd = DecimalField(column_name="TotalCostUSD")
    average_duration_ms = pw.BigIntegerField(column_name="AverageDurationMs")
    total_rendering_time_ms = pw.BigIntegerField(column_name="TotalRenderingTimeMs")
    most_used_provider = StringField(50, column_name="MostUsedProvider", null=True)
    most_used_model = StringField(100, column_name="MostUsedModel", null=True)
    most_used_feature = StringField(50, column_name="MostUsedFeature", null=True)
    total_video_duration_seconds = pw.DoubleField(column_name="TotalVideoDurationSeconds")
    total_scenes = pw.IntegerField(column_name="TotalScenes")
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


ddl.add_indexes(AnalyticsSummary, [
    ("IX_AnalyticsSummaries_PeriodId", "PeriodId"),
    ("IX_AnalyticsSummaries_PeriodStart", "PeriodStart"),
    ("IX_AnalyticsSummaries_PeriodType", "PeriodType"),
    ("IX_AnalyticsSummaries_PeriodType_PeriodId", "PeriodType PeriodId", True),
    ("IX_AnalyticsSummaries_PeriodType_PeriodStart", "PeriodType PeriodStart"),
])


class AuditLog(Model):
    id = StringField(column_name="id", primary_key=True, key=True)
    timestamp = TimestampField(column_name="timestamp")
    user_id = StringField(200, column_name="user_id", null=True)
    username = StringField(200, column_name="username", null=True)
    action = StringField(200, column_name="action")
    resource_type = StringField(100, column_name="resource_type", null=True)
    resource_id = StringField(200, column_name="resource_id", null=True)
    ip_address = StringField(45, column_name="ip_address", null=True)
    user_agent = StringField(500, column_name="user_agent", null=True)
    success = pw.BooleanField(column_name="success")
    error_message = StringField(column_name="error_message", null=True)
    changes = StringField(column_name="changes", null=True)
    metadata = StringField(column_name="metadata", null=True)
    severity = StringField(50, column_name="severity", null=True)

    class Meta:
        table_name = "audit_logs"


ddl.add_indexes(AuditLog, [
    ("IX_audit_logs_action", "action"),
    ("IX_audit_logs_action_timestamp", "action timestamp"),
    ("IX_audit_logs_resource_type", "resource_type"),
    ("IX_audit_logs_timestamp", "timestamp"),
    ("IX_audit_logs_user_id", "user_id"),
    ("IX_audit_logs_user_id_timestamp", "user_id timestamp"),
])


class HardwareSettings(Model):
    id = StringField(column_name="Id", primary_key=True, key=True)
    settings_json = JsonField(column_name="SettingsJson")
    version = StringField(column_name="Version", key=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "HardwareSettings"


ddl.add_indexes(HardwareSettings, [
    ("IX_HardwareSettings_UpdatedAt", "UpdatedAt"),
    ("IX_HardwareSettings_Version", "Version"),
])


class JobQueueEntry(Model):
    job_id = StringField(column_name="JobId", primary_key=True, key=True)
    priority = pw.IntegerField(column_name="Priority")
    status = StringField(50, column_name="Status")
    job_data_json = JsonField(column_name="JobDataJson")
    correlation_id = StringField(100, column_name="CorrelationId", null=True)
    retry_count = pw.IntegerField(column_name="RetryCount")
    max_retries = pw.IntegerField(column_name="MaxRetries")
    last_error = StringField(column_name="LastError", null=True)
    enqueued_at = TimestampField(column_name="EnqueuedAt")
    started_at = TimestampField(column_name="StartedAt", null=True)
    completed_at = TimestampField(column_name="CompletedAt", null=True)
    next_retry_at = TimestampField(column_name="NextRetryAt", null=True)
    progress_percent = pw.IntegerField(column_name="ProgressPercent")
    current_stage = StringField(100, column_name="CurrentStage", null=True)
    output_path = StringField(500, column_name="OutputPath", null=True)
    worker_id = StringField(100, column_name="WorkerId", null=True)
    is_quick_demo = pw.BooleanField(column_name="IsQuickDemo")
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "JobQueue"


ddl.add_indexes(JobQueueEntry, [
    ("IX_JobQueue_CreatedAt", "CreatedAt"),
    ("IX_JobQueue_EnqueuedAt", "EnqueuedAt"),
    ("IX_JobQueue_NextRetryAt", "NextRetryAt"),
    ("IX_JobQueue_Priority", "Priority"),
    ("IX_JobQueue_Status", "Status"),
    ("IX_JobQueue_Status_Priority", "Status Priority"),
    ("IX_JobQueue_WorkerId", "WorkerId"),
])


class MediaCollection(Model):
    id = GuidField(column_name="Id", primary_key=True)
    name = StringField(200, column_name="Name")
    description = StringField(1000, column_name="Description", null=True)
    thumbnail_url = StringField(1000, column_name="ThumbnailUrl", null=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)
    is_deleted = pw.BooleanField(column_name="IsDeleted")
    deleted_at = TimestampField(column_name="DeletedAt", null=True)
    deleted_by = StringField(column_name="DeletedBy", null=True)

    class Meta:
        table_name = "MediaCollections"


ddl.add_indexes(MediaCollection, [
    ("IX_MediaCollections_CreatedAt", "CreatedAt"),
    ("IX_MediaCollections_IsDeleted", "IsDeleted"),
    ("IX_MediaCollections_IsDeleted_DeletedAt", "IsDeleted DeletedAt"),
    ("IX_MediaCollections_Name", "Name"),
])


class PerformanceMetric(Model):
    id = BigAutoIncrementField(column_name="Id")
    project_id = StringField(100, column_name="ProjectId", null=True)
    job_id = StringField(100, column_name="JobId", null=True)
    operation_type = StringField(50, column_name="OperationType")
    stage = StringField(100, column_name="Stage", null=True)
    duration_ms = pw.BigIntegerField(column_name="DurationMs")
    cpu_usage_percent = pw.DoubleField(column_name="CpuUsagePercent", null=True)
    memory_used_mb = pw.DoubleField(column_name="MemoryUsedMB", null=True)
    peak_memory_mb = pw.DoubleField(column_name="PeakMemoryMB", null=True)
    gpu_usage_percent = pw.DoubleField(column_name="GpuUsagePercent", null=True)
    disk_io_operations = pw.BigIntegerField(column_name="DiskIOOperations", null=True)
    network_bytes_transferred = pw.BigIntegerField(column_name="NetworkBytesTransferred", null=True)
    output_file_size_bytes = pw.BigIntegerField(column_name="OutputFileSizeBytes", null=True)
    success = pw.BooleanField(column_name="Success")
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


ddl.add_indexes(PerformanceMetric, [
    ("IX_PerformanceMetrics_JobId", "JobId"),
    ("IX_PerformanceMetrics_OperationType", "OperationType"),
    ("IX_PerformanceMetrics_OperationType_Timestamp", "OperationType Timestamp"),
    ("IX_PerformanceMetrics_ProjectId", "ProjectId"),
    ("IX_PerformanceMetrics_Success", "Success"),
    ("IX_PerformanceMetrics_Success_Timestamp", "Success Timestamp"),
    ("IX_PerformanceMetrics_Timestamp", "Timestamp"),
])


class ProviderConfiguration(Model):
    id = StringField(column_name="Id", primary_key=True, key=True)
    config_json = JsonField(column_name="ConfigJson")
    is_encrypted = pw.BooleanField(column_name="IsEncrypted")
    version = StringField(column_name="Version", key=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "ProviderConfigurations"


ddl.add_indexes(ProviderConfiguration, [
    ("IX_ProviderConfigurations_UpdatedAt", "UpdatedAt"),
    ("IX_ProviderConfigurations_Version", "Version"),
])


class QueueConfiguration(Model):
    id = StringField(column_name="Id", primary_key=True, key=True)
    max_concurrent_jobs = pw.IntegerField(column_name="MaxConcurrentJobs")
    pause_on_battery = pw.BooleanField(column_name="PauseOnBattery")
    cpu_throttle_threshold = pw.IntegerField(column_name="CpuThrottleThreshold")
    memory_throttle_threshold = pw.IntegerField(column_name="MemoryThrottleThreshold")
    is_enabled = pw.BooleanField(column_name="IsEnabled")
    polling_interval_seconds = pw.IntegerField(column_name="PollingIntervalSeconds")
    job_history_retention_days = pw.IntegerField(column_name="JobHistoryRetentionDays")
    failed_job_retention_days = pw.IntegerField(column_name="FailedJobRetentionDays")
    retry_base_delay_seconds = pw.IntegerField(column_name="RetryBaseDelaySeconds")
    retry_max_delay_seconds = pw.IntegerField(column_name="RetryMaxDelaySeconds")
    enable_notifications = pw.BooleanField(column_name="EnableNotifications")
    updated_at = TimestampField(column_name="UpdatedAt")

    class Meta:
        table_name = "QueueConfiguration"


ddl.add_indexes(QueueConfiguration, [
    ("IX_QueueConfiguration_UpdatedAt", "UpdatedAt"),
])


class Role(Model):
    id = StringField(column_name="id", primary_key=True, key=True)
    name = StringField(100, column_name="name")
    normalized_name = StringField(100, column_name="normalized_name", null=True)
    description = StringField(500, column_name="description", null=True)
    is_system_role = pw.BooleanField(column_name="is_system_role")
    permissions = StringField(column_name="permissions", null=True)
    created_at = TimestampField(column_name="created_at")
    updated_at = TimestampField(column_name="updated_at")
    created_by = StringField(100, column_name="created_by", null=True)
    modified_by = StringField(100, column_name="modified_by", null=True)

    class Meta:
        table_name = "roles"


ddl.add_indexes(Role, [
    ("IX_roles_is_system_role", "is_system_role"),
    ("IX_roles_name", "name", True),
    ("IX_roles_normalized_name", "normalized_name", True),
])


class Settings(Model):
    id = StringField(column_name="Id", primary_key=True, key=True)
    settings_json = JsonField(column_name="SettingsJson")
    is_encrypted = pw.BooleanField(column_name="IsEncrypted")
    version = StringField(column_name="Version", key=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "Settings"


ddl.add_indexes(Settings, [
    ("IX_Settings_UpdatedAt", "UpdatedAt"),
    ("IX_Settings_Version", "Version"),
])


class UploadSession(Model):
    id = GuidField(column_name="Id", primary_key=True)
    file_name = StringField(500, column_name="FileName")
    total_size = pw.BigIntegerField(column_name="TotalSize")
    uploaded_size = pw.BigIntegerField(column_name="UploadedSize")
    total_chunks = pw.IntegerField(column_name="TotalChunks")
    completed_chunks_json = JsonField(column_name="CompletedChunksJson")
    blob_url = StringField(1000, column_name="BlobUrl")
    created_at = TimestampField(column_name="CreatedAt")
    expires_at = TimestampField(column_name="ExpiresAt")

    class Meta:
        table_name = "UploadSessions"


ddl.add_indexes(UploadSession, [
    ("IX_UploadSessions_CreatedAt", "CreatedAt"),
    ("IX_UploadSessions_ExpiresAt", "ExpiresAt"),
])


class UsageStatistic(Model):
    id = BigAutoIncrementField(column_name="Id")
    project_id = StringField(100, column_name="ProjectId", null=True)
    job_id = StringField(100, column_name="JobId", null=True)
    generation_type = StringField(50, column_name="GenerationType")
    provider = StringField(50, column_name="Provider")
    model = StringField(100, column_name="Model", null=True)
    input_tokens = pw.BigIntegerField(column_name="InputTokens")
    output_tokens = pw.BigIntegerField(column_name="OutputTokens")
    duration_ms = pw.BigIntegerField(column_name="DurationMs")
    success = pw.BooleanField(column_name="Success")
    error_message = StringField(500, column_name="ErrorMessage", null=True)
    feature_used = StringField(50, column_name="FeatureUsed", null=True)
    output_duration_seconds = pw.DoubleField(column_name="OutputDurationSeconds", null=True)
    scene_count = pw.IntegerField(column_name="SceneCount", null=True)
    is_retry = pw.BooleanField(column_name="IsRetry")
    retry_attempt = pw.IntegerField(column_name="RetryAttempt", null=True)
    timestamp = TimestampField(column_name="Timestamp")
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "UsageStatistics"


ddl.add_indexes(UsageStatistic, [
    ("IX_UsageStatistics_GenerationType", "GenerationType"),
    ("IX_UsageStatistics_GenerationType_Timestamp", "GenerationType Timestamp"),
    ("IX_UsageStatistics_JobId", "JobId"),
    ("IX_UsageStatistics_ProjectId", "ProjectId"),
    ("IX_UsageStatistics_Provider", "Provider"),
    ("IX_UsageStatistics_Provider_Timestamp", "Provider Timestamp"),
    ("IX_UsageStatistics_Success", "Success"),
    ("IX_UsageStatistics_Success_Timestamp", "Success Timestamp"),
    ("IX_UsageStatistics_Timestamp", "Timestamp"),
])


class User(Model):
    id = StringField(column_name="id", primary_key=True, key=True)
    username = StringField(100, column_name="username")
    email = StringField(255, column_name="email")
    display_name = StringField(200, column_name="display_name", null=True)
    password_hash = StringField(500, column_name="password_hash", null=True)
    is_active = pw.BooleanField(column_name="is_active")
    is_suspended = pw.BooleanField(column_name="is_suspended")
    suspended_at = TimestampField(column_name="suspended_at", null=True)
    suspended_reason = StringField(column_name="suspended_reason", null=True)
    last_login_at = TimestampField(column_name="last_login_at", null=True)
    last_login_ip = StringField(45, column_name="last_login_ip", null=True)
    failed_login_attempts = pw.IntegerField(column_name="failed_login_attempts")
    lockout_end = TimestampField(column_name="lockout_end", null=True)
    email_verified = pw.BooleanField(column_name="email_verified")
    phone_number = StringField(20, column_name="phone_number", null=True)
    phone_verified = pw.BooleanField(column_name="phone_verified")
    two_factor_enabled = pw.BooleanField(column_name="two_factor_enabled")
    two_factor_secret = StringField(200, column_name="two_factor_secret", null=True)
    created_at = TimestampField(column_name="created_at")
    updated_at = TimestampField(column_name="updated_at")
    created_by = StringField(100, column_name="created_by", null=True)
    modified_by = StringField(100, column_name="modified_by", null=True)
    metadata = StringField(column_name="metadata", null=True)

    class Meta:
        table_name = "users"


ddl.add_indexes(User, [
    ("IX_users_created_at", "created_at"),
    ("IX_users_email", "email", True),
    ("IX_users_is_active", "is_active"),
    ("IX_users_is_suspended", "is_suspended"),
    ("IX_users_username", "username", True),
])


class JobProgressHistory(Model):
    id = BigAutoIncrementField(column_name="Id")
    job = ForeignKey(JobQueueEntry, field="job_id", column_name="JobId", on_delete="CASCADE", index=False, backref="+")
    stage = StringField(100, column_name="Stage")
    progress_percent = pw.IntegerField(column_name="ProgressPercent")
    message = StringField(500, column_name="Message")
    substage_detail = StringField(200, column_name="SubstageDetail", null=True)
    current_item = pw.IntegerField(column_name="CurrentItem", null=True)
    total_items = pw.IntegerField(column_name="TotalItems", null=True)
    timestamp = TimestampField(column_name="Timestamp")
    elapsed_milliseconds = pw.BigIntegerField(column_name="ElapsedMilliseconds", null=True)
    estimated_remaining_milliseconds = pw.BigIntegerField(column_name="EstimatedRemainingMilliseconds", null=True)

    class Meta:
        table_name = "JobProgressHistory"


ddl.add_indexes(JobProgressHistory, [
    ("IX_JobProgressHistory_JobId", "JobId"),
    ("IX_JobProgressHistory_JobId_Timestamp", "JobId Timestamp"),
    ("IX_JobProgressHistory_Timestamp", "Timestamp"),
])


class MediaItem(Model):
    id = GuidField(column_name="Id", primary_key=True)
    file_name = StringField(500, column_name="FileName")
    type = StringField(50, column_name="Type")
    source = StringField(50, column_name="Source")
    file_size = pw.BigIntegerField(column_name="FileSize")
    description = StringField(2000, column_name="Description", null=True)
    blob_url = StringField(1000, column_name="BlobUrl")
    thumbnail_url = StringField(1000, column_name="ThumbnailUrl", null=True)
    preview_url = StringField(1000, column_name="PreviewUrl", null=True)
    content_hash = StringField(100, column_name="ContentHash", null=True)
    metadata_json = JsonField(column_name="MetadataJson", null=True)
    processing_status = StringField(50, column_name="ProcessingStatus")
    processing_error = StringField(column_name="ProcessingError", null=True)
    collection = ForeignKey(MediaCollection, field="id", column_name="CollectionId", null=True, on_delete="SET NULL", index=False, backref="+")
    usage_count = pw.IntegerField(column_name="UsageCount")
    last_used_at = TimestampField(column_name="LastUsedAt", null=True)
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)
    is_deleted = pw.BooleanField(column_name="IsDeleted")
    deleted_at = TimestampField(column_name="DeletedAt", null=True)
    deleted_by = StringField(column_name="DeletedBy", null=True)

    class Meta:
        table_name = "MediaItems"


ddl.add_indexes(MediaItem, [
    ("IX_MediaItems_CollectionId", "CollectionId"),
    ("IX_MediaItems_ContentHash", "ContentHash"),
    ("IX_MediaItems_CreatedAt", "CreatedAt"),
    ("IX_MediaItems_IsDeleted", "IsDeleted"),
    ("IX_MediaItems_IsDeleted_DeletedAt", "IsDeleted DeletedAt"),
    ("IX_MediaItems_ProcessingStatus", "ProcessingStatus"),
    ("IX_MediaItems_Source", "Source"),
    ("IX_MediaItems_Type", "Type"),
    ("IX_MediaItems_Type_CreatedAt", "Type CreatedAt"),
])


class CostTracking(Model):
    id = BigAutoIncrementField(column_name="Id")
    usage_statistics = ForeignKey(UsageStatistic, field="id", column_name="UsageStatisticsId", null=True, on_delete="SET NULL", index=False, backref="+")
    project_id = StringField(100, column_name="ProjectId", null=True)
    job_id = StringField(100, column_name="JobId", null=True)
    provider = StringField(50, column_name="Provider")
    model = StringField(100, column_name="Model")
    input_tokens = pw.BigIntegerField(column_name="InputTokens")
    output_tokens = pw.BigIntegerField(column_name="OutputTokens")
    input_price_per_1m = DecimalField(column_name="InputPricePer1M")
    output_price_per_1m = DecimalField(column_name="OutputPricePer1M")
    input_cost = DecimalField(column_name="InputCost")
    output_cost = DecimalField(column_name="OutputCost")
    total_cost = DecimalField(column_name="TotalCost")
    currency = StringField(3, column_name="Currency")
    year_month = StringField(7, column_name="YearMonth")
    timestamp = TimestampField(column_name="Timestamp")
    is_estimated = pw.BooleanField(column_name="IsEstimated")
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    created_by = StringField(column_name="CreatedBy", null=True)
    modified_by = StringField(column_name="ModifiedBy", null=True)

    class Meta:
        table_name = "CostTracking"


ddl.add_indexes(CostTracking, [
    ("IX_CostTracking_JobId", "JobId"),
    ("IX_CostTracking_ProjectId", "ProjectId"),
    ("IX_CostTracking_Provider", "Provider"),
    ("IX_CostTracking_Provider_YearMonth", "Provider YearMonth"),
    ("IX_CostTracking_Timestamp", "Timestamp"),
    ("IX_CostTracking_UsageStatisticsId", "UsageStatisticsId"),
    ("IX_CostTracking_YearMonth", "YearMonth"),
    ("IX_CostTracking_YearMonth_Timestamp", "YearMonth Timestamp"),
])


class UserQuota(Model):
    id = StringField(column_name="id", primary_key=True, key=True)
    user = ForeignKey(User, field="id", column_name="user_id", on_delete="CASCADE", index=False, backref="+")
    api_requests_per_day = pw.IntegerField(column_name="api_requests_per_day", null=True)
    api_requests_used_today = pw.IntegerField(column_name="api_requests_used_today")
    api_requests_reset_at = TimestampField(column_name="api_requests_reset_at", null=True)
    videos_per_month = pw.IntegerField(column_name="videos_per_month", null=True)
    videos_generated_this_month = pw.IntegerField(column_name="videos_generated_this_month")
    videos_reset_at = TimestampField(column_name="videos_reset_at", null=True)
    storage_limit_bytes = pw.BigIntegerField(column_name="storage_limit_bytes", null=True)
    storage_used_bytes = pw.BigIntegerField(column_name="storage_used_bytes")
    ai_tokens_per_month = pw.BigIntegerField(column_name="ai_tokens_per_month", null=True)
    ai_tokens_used_this_month = pw.BigIntegerField(column_name="ai_tokens_used_this_month")
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


ddl.add_indexes(UserQuota, [
    ("IX_user_quotas_user_id", "user_id", True),
])


class UserRole(Model):
    user = ForeignKey(User, field="id", column_name="user_id", on_delete="CASCADE", index=False, backref="+")
    role = ForeignKey(Role, field="id", column_name="role_id", on_delete="CASCADE", index=False, backref="+")
    assigned_at = TimestampField(column_name="assigned_at")
    assigned_by = StringField(200, column_name="assigned_by", null=True)

    class Meta:
        table_name = "user_roles"
        primary_key = pw.CompositeKey("user", "role")


ddl.add_indexes(UserRole, [
    ("IX_user_roles_role_id", "role_id"),
])


class MediaTag(Model):
    id = GuidField(column_name="Id", primary_key=True)
    media = ForeignKey(MediaItem, field="id", column_name="MediaId", on_delete="CASCADE", index=False, backref="+")
    tag = StringField(100, column_name="Tag")
    created_at = TimestampField(column_name="CreatedAt")

    class Meta:
        table_name = "MediaTags"


ddl.add_indexes(MediaTag, [
    ("IX_MediaTags_MediaId", "MediaId"),
    ("IX_MediaTags_MediaId_Tag", "MediaId Tag", True),
    ("IX_MediaTags_Tag", "Tag"),
])


class MediaUsage(Model):
    id = GuidField(column_name="Id", primary_key=True)
    media = ForeignKey(MediaItem, field="id", column_name="MediaId", on_delete="CASCADE", index=False, backref="+")
    project_id = StringField(100, column_name="ProjectId")
    project_name = StringField(200, column_name="ProjectName", null=True)
    used_at = TimestampField(column_name="UsedAt")

    class Meta:
        table_name = "MediaUsages"


ddl.add_indexes(MediaUsage, [
    ("IX_MediaUsages_MediaId", "MediaId"),
    ("IX_MediaUsages_MediaId_UsedAt", "MediaId UsedAt"),
    ("IX_MediaUsages_ProjectId", "ProjectId"),
    ("IX_MediaUsages_UsedAt", "UsedAt"),
])


# ``CustomTemplates`` as migration 004 left it, rebuilt by rollback.
class CustomTemplateBefore(Model):
    id = StringField(column_name="Id", primary_key=True, key=True)
    name = StringField(column_name="Name")
    description = StringField(column_name="Description")
    category = StringField(column_name="Category", key=True)
    tags = StringField(column_name="Tags")
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    author = StringField(column_name="Author")
    is_default = pw.BooleanField(column_name="IsDefault")
    is_deleted = pw.BooleanField(column_name="IsDeleted")
    deleted_at = TimestampField(column_name="DeletedAt", null=True)
    deleted_by_user_id = StringField(column_name="DeletedByUserId", null=True)
    script_structure_json = JsonField(column_name="ScriptStructureJson")
    video_structure_json = JsonField(column_name="VideoStructureJson")
    llm_pipeline_json = JsonField(column_name="LLMPipelineJson")
    visual_preferences_json = JsonField(column_name="VisualPreferencesJson")

    class Meta:
        table_name = "CustomTemplates"


ddl.add_indexes(CustomTemplateBefore, [
    ("IX_CustomTemplates_Category", "Category"),
    ("IX_CustomTemplates_Category_CreatedAt", "Category CreatedAt"),
    ("IX_CustomTemplates_CreatedAt", "CreatedAt"),
    ("IX_CustomTemplates_IsDefault", "IsDefault"),
    ("IX_CustomTemplates_IsDeleted", "IsDeleted"),
    ("IX_CustomTemplates_IsDeleted_DeletedAt", "IsDeleted DeletedAt"),
])


# The tables this migration creates, parents before children.
NEW_TABLES = [AnalyticsRetentionSettings, AnalyticsSummary, AuditLog, HardwareSettings, JobQueueEntry, MediaCollection, PerformanceMetric, ProviderConfiguration, QueueConfiguration, Role, Settings, UploadSession, UsageStatistic, User, JobProgressHistory, MediaItem, CostTracking, UserQuota, UserRole, MediaTag, MediaUsage]


def migrate(migrator, database, *, fake=False):
    ddl.rename_column(migrator, database, "ProjectStates", "DeletedByUserId", "ModifiedBy", "modified_by")
    ddl.add_column(migrator, database, "ProjectVersions", "created_by", StringField(200, column_name="CreatedBy", null=True))
    ddl.add_column(migrator, database, "ProjectVersions", "deleted_by", StringField(200, column_name="DeletedBy", null=True))
    ddl.add_column(migrator, database, "ProjectVersions", "modified_by", StringField(200, column_name="ModifiedBy", null=True))
    ddl.add_column(migrator, database, "ProjectVersions", "updated_at", TimestampField(column_name="UpdatedAt"), default='0001-01-01 00:00:00')
    ddl.add_column(migrator, database, "ProjectStates", "category", StringField(100, column_name="Category", null=True))
    ddl.add_column(migrator, database, "ProjectStates", "created_by", StringField(200, column_name="CreatedBy", null=True))
    ddl.add_column(migrator, database, "ProjectStates", "deleted_by", StringField(200, column_name="DeletedBy", null=True))
    ddl.add_column(migrator, database, "ProjectStates", "duration_seconds", pw.DoubleField(column_name="DurationSeconds", null=True))
    ddl.add_column(migrator, database, "ProjectStates", "last_auto_save_at", TimestampField(column_name="LastAutoSaveAt", null=True))
    ddl.add_column(migrator, database, "ProjectStates", "output_file_path", StringField(1000, column_name="OutputFilePath", null=True))
    ddl.add_column(migrator, database, "ProjectStates", "tags", StringField(1000, column_name="Tags", null=True))
    ddl.add_column(migrator, database, "ProjectStates", "template_id", StringField(50, column_name="TemplateId", null=True))
    ddl.add_column(migrator, database, "ProjectStates", "thumbnail_path", StringField(1000, column_name="ThumbnailPath", null=True))
    ddl.add_column(migrator, database, "ContentBlobs", "created_by", StringField(200, column_name="CreatedBy", null=True))
    ddl.add_column(migrator, database, "ContentBlobs", "modified_by", StringField(200, column_name="ModifiedBy", null=True))
    ddl.add_column(migrator, database, "ContentBlobs", "updated_at", TimestampField(column_name="UpdatedAt"), default='0001-01-01 00:00:00')
    _move_custom_templates(migrator, database, CustomTemplateBefore, CustomTemplate, forward=True)
    for model in NEW_TABLES:
        ddl.create_table(migrator, database, model)
    ddl.insert(migrator, database, "AnalyticsRetentionSettings", [ANALYTICS_RETENTION_ROW])
    ddl.insert(migrator, database, "QueueConfiguration", [QUEUE_CONFIGURATION_ROW])
    ddl.insert(migrator, database, "roles", ROLE_ROWS)
    ddl.update(migrator, database, "system_configuration", ("id", 1), SYSTEM_CONFIGURATION_TIMES)
    for name, columns in PS_INDEXES:
        ddl.create_index(migrator, database, "ProjectStates", name, columns)
    ddl.record_ef_migration(migrator, database, EF_MIGRATION_ID)


def rollback(migrator, database, *, fake=False):
    ddl.forget_ef_migration(migrator, database, EF_MIGRATION_ID)
    for model in reversed(NEW_TABLES):
        ddl.drop_table(migrator, database, model._meta.table_name)
    for name, _ in reversed(PS_INDEXES):
        ddl.drop_index(migrator, database, "ProjectStates", name)
    _move_custom_templates(migrator, database, CustomTemplate, CustomTemplateBefore, forward=False)
    for table, column in (
        ("ContentBlobs", "UpdatedAt"),
        ("ContentBlobs", "ModifiedBy"),
        ("ContentBlobs", "CreatedBy"),
        ("ProjectStates", "ThumbnailPath"),
        ("ProjectStates", "TemplateId"),
        ("ProjectStates", "Tags"),
        ("ProjectStates", "OutputFilePath"),
        ("ProjectStates", "LastAutoSaveAt"),
        ("ProjectStates", "DurationSeconds"),
        ("ProjectStates", "DeletedBy"),
        ("ProjectStates", "CreatedBy"),
        ("ProjectStates", "Category"),
        ("ProjectVersions", "UpdatedAt"),
        ("ProjectVersions", "ModifiedBy"),
        ("ProjectVersions", "DeletedBy"),
        ("ProjectVersions", "CreatedBy"),
    ):
        ddl.drop_column(migrator, database, table, column)
    ddl.rename_column(migrator, database, "ProjectStates", "ModifiedBy", "DeletedByUserId", "deleted_by_user_id")
    ddl.update(migrator, database, "system_configuration", ("id", 1), SYSTEM_CONFIGURATION_TIMES_BEFORE)


def _move_custom_templates(migrator, database, source, target, *, forward):
    """Rebuild ``source`` as ``target`` keeping every row (the app renames the table and its columns).

    The old table and its indexes go aside first: SQLite compares table and
    index names case-insensitively, so ``custom_templates`` cannot be created
    while ``CustomTemplates`` exists.
    """
    table = source._meta.table_name
    for index in source._meta.indexes:
        ddl.drop_index(migrator, database, table, index._name)
    ddl.rename_table(migrator, database, table, MOVING)
    ddl.create_table(migrator, database, target)
    columns = MOVED_COLUMNS if forward else [(new, old) for old, new in MOVED_COLUMNS]
    ddl.copy_rows(migrator, database, MOVING, target._meta.table_name, columns)
    ddl.drop_table(migrator, database, MOVING)
