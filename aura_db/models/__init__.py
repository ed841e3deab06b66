"""The Aura app's schema (34 tables) as peewee models, with audit, soft-delete and blob rules."""

from aura_db.models.base import (
    BaseModel,
    SoftDeleteModel,
    current_actor,
    database_proxy,
    set_actor,
)
from aura_db.models.blobs import content_hash, delete_unreferenced, release_blob, store_blob
from aura_db.models.schema import (
    INDEXES,
    MODELS,
    TABLES,
    ActionLog,
    AnalyticsRetentionSettings,
    AnalyticsSummary,
    AssetState,
    AuditLog,
    Configuration,
    ContentBlob,
    CostTracking,
    CustomTemplate,
    ExportHistory,
    HardwareSettings,
    JobProgressHistory,
    JobQueueEntry,
    MediaCollection,
    MediaItem,
    MediaTag,
    MediaUsage,
    PerformanceMetric,
    ProjectState,
    ProjectVersion,
    ProviderConfiguration,
    QueueConfiguration,
    RenderCheckpoint,
    Role,
    SceneState,
    Settings,
    SystemConfiguration,
    Template,
    UploadSession,
    UsageStatistic,
    User,
    UserQuota,
    UserRole,
    UserSetup,
    index_name,
)


def bind(db) -> None:
    """Point every model at ``db`` (a peewee Database)."""
    database_proxy.initialize(db)


__all__ = [
    "ActionLog", "AnalyticsRetentionSettings", "AnalyticsSummary", "AssetState", "AuditLog",
    "BaseModel", "Configuration", "ContentBlob", "CostTracking", "CustomTemplate", "ExportHistory",
    "HardwareSettings", "INDEXES", "JobProgressHistory", "JobQueueEntry", "MODELS",
    "MediaCollection", "MediaItem", "MediaTag", "MediaUsage", "PerformanceMetric", "ProjectState",
    "ProjectVersion", "ProviderConfiguration", "QueueConfiguration", "RenderCheckpoint", "Role",
    "SceneState", "Settings", "SoftDeleteModel", "SystemConfiguration", "TABLES", "Template",
    "UploadSession", "UsageStatistic", "User", "UserQuota", "UserRole", "UserSetup", "bind",
    "content_hash", "current_actor", "database_proxy", "delete_unreferenced", "index_name",
    "release_blob", "set_actor", "store_blob",
]
