"""Match the Aura app's EF migration 20251103202216_AddActionLogAndSoftDelete.

Adds soft delete to ``ProjectStates`` (``DeletedAt``, ``DeletedByUserId``,
``IsDeleted`` NOT NULL DEFAULT 0) with two indexes, and creates ``ActionLogs``
(the undo/redo journal) and ``CustomTemplates`` with their fourteen indexes.
Rollback drops the tables, the indexes and the three columns.
"""

import peewee as pw

from aura_db import ddl
from aura_db.fields import GuidField, JsonField, StringField, TimestampField

EF_MIGRATION_ID = "20251103202216_AddActionLogAndSoftDelete"


class Model(pw.Model):
    pass


class ActionLog(Model):
    id = GuidField(column_name="Id", primary_key=True)
    user_id = StringField(200, column_name="UserId")
    action_type = StringField(100, column_name="ActionType")
    description = StringField(500, column_name="Description")
    timestamp = TimestampField(column_name="Timestamp")
    status = StringField(50, column_name="Status")
    affected_resource_ids = StringField(1000, column_name="AffectedResourceIds", null=True)
    payload_json = JsonField(column_name="PayloadJson", null=True)
    inverse_action_type = StringField(100, column_name="InverseActionType", null=True)
    inverse_payload_json = JsonField(column_name="InversePayloadJson", null=True)
    can_batch = pw.BooleanField(column_name="CanBatch")
    is_persistent = pw.BooleanField(column_name="IsPersistent")
    undone_at = TimestampField(column_name="UndoneAt", null=True)
    undone_by_user_id = StringField(200, column_name="UndoneByUserId", null=True)
    expires_at = TimestampField(column_name="ExpiresAt", null=True)
    error_message = StringField(column_name="ErrorMessage", null=True)
    correlation_id = StringField(100, column_name="CorrelationId", null=True)

    class Meta:
        table_name = "ActionLogs"


ddl.add_indexes(ActionLog, [
    ("IX_ActionLogs_ActionType", "ActionType"),
    ("IX_ActionLogs_CorrelationId", "CorrelationId"),
    ("IX_ActionLogs_ExpiresAt", "ExpiresAt"),
    ("IX_ActionLogs_Status", "Status"),
    ("IX_ActionLogs_Status_Timestamp", "Status Timestamp"),
    ("IX_ActionLogs_Timestamp", "Timestamp"),
    ("IX_ActionLogs_UserId", "UserId"),
    ("IX_ActionLogs_UserId_Timestamp", "UserId Timestamp"),
])


class CustomTemplate(Model):
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


ddl.add_indexes(CustomTemplate, [
    ("IX_CustomTemplates_Category", "Category"),
    ("IX_CustomTemplates_Category_CreatedAt", "Category CreatedAt"),
    ("IX_CustomTemplates_CreatedAt", "CreatedAt"),
    ("IX_CustomTemplates_IsDefault", "IsDefault"),
    ("IX_CustomTemplates_IsDeleted", "IsDeleted"),
    ("IX_CustomTemplates_IsDeleted_DeletedAt", "IsDeleted DeletedAt"),
])


MODELS = [ActionLog, CustomTemplate]


def migrate(migrator, database, *, fake=False):
    ddl.add_column(migrator, database, "ProjectStates", "deleted_at", TimestampField(column_name="DeletedAt", null=True))
    ddl.add_column(migrator, database, "ProjectStates", "deleted_by_user_id", StringField(200, column_name="DeletedByUserId", null=True))
    ddl.add_column(migrator, database, "ProjectStates", "is_deleted", pw.BooleanField(column_name="IsDeleted"), default=False)
    for model in MODELS:
        ddl.create_table(migrator, database, model)
    ddl.create_index(migrator, database, "ProjectStates", "IX_ProjectStates_IsDeleted", "IsDeleted")
    ddl.create_index(migrator, database, "ProjectStates", "IX_ProjectStates_IsDeleted_DeletedAt",
                     "IsDeleted DeletedAt")
    ddl.record_ef_migration(migrator, database, EF_MIGRATION_ID)


def rollback(migrator, database, *, fake=False):
    ddl.forget_ef_migration(migrator, database, EF_MIGRATION_ID)
    for model in reversed(MODELS):
        ddl.drop_table(migrator, database, model._meta.table_name)
    ddl.drop_index(migrator, database, "ProjectStates", "IX_ProjectStates_IsDeleted_DeletedAt")
    ddl.drop_index(migrator, database, "ProjectStates", "IX_ProjectStates_IsDeleted")
    for column in ("IsDeleted", "DeletedByUserId", "DeletedAt"):
        ddl.drop_column(migrator, database, "ProjectStates", column)
