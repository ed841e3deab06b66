"""The Aura schema as peewee models, with audit, soft-delete and blob rules."""

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
    AssetState,
    Configuration,
    ContentBlob,
    CustomTemplate,
    ExportHistory,
    ProjectState,
    ProjectVersion,
    RenderCheckpoint,
    SceneState,
    SystemConfiguration,
    Template,
    UserSetup,
    index_name,
)


def bind(db) -> None:
    """Point every model at ``db`` (a peewee Database)."""
    database_proxy.initialize(db)


__all__ = [
    "INDEXES", "MODELS", "TABLES", "ActionLog", "AssetState", "BaseModel", "Configuration",
    "ContentBlob", "CustomTemplate", "ExportHistory", "ProjectState", "ProjectVersion",
    "RenderCheckpoint", "SceneState", "SoftDeleteModel", "SystemConfiguration", "Template",
    "UserSetup", "bind", "content_hash", "current_actor", "database_proxy",
    "delete_unreferenced", "index_name", "release_blob", "set_actor", "store_blob",
]
