"""Match the Aura app's EF migration 20251109170431_AddSystemConfiguration.

Creates ``Configurations`` (key/value settings, six indexes) and
``system_configuration``, and inserts the row the app's migration inserts:
id 1, setup not complete, the output directory and times the app's migration
carries (times as EF writes them on SQLite).
"""

import peewee as pw

from aura_db import ddl
from aura_db.fields import AutoIncrementField, StringField, TimestampField

EF_MIGRATION_ID = "20251109170431_AddSystemConfiguration"

# The row the app's migration inserts, value for value.
SYSTEM_CONFIGURATION_ROW = {
    "id": 1,
    "created_at": "2025-11-09 17:04:31.2365323",
    "ffmpeg_path": None,
    "is_setup_complete": False,
    "output_directory": "/home/runner/AuraVideoStudio/Output",
    "updated_at": "2025-11-09 17:04:31.2365324",
}


class Model(pw.Model):
    pass


class Configuration(Model):
    key = StringField(column_name="Key", primary_key=True, key=True)
    value = StringField(column_name="Value")
    category = StringField(column_name="Category", key=True)
    value_type = StringField(column_name="ValueType")
    description = StringField(column_name="Description", null=True)
    is_sensitive = pw.BooleanField(column_name="IsSensitive")
    version = pw.IntegerField(column_name="Version")
    created_at = TimestampField(column_name="CreatedAt")
    updated_at = TimestampField(column_name="UpdatedAt")
    modified_by = StringField(column_name="ModifiedBy", null=True)
    is_active = pw.BooleanField(column_name="IsActive")

    class Meta:
        table_name = "Configurations"


ddl.add_indexes(Configuration, [
    ("IX_Configurations_Category", "Category"),
    ("IX_Configurations_Category_IsActive", "Category IsActive"),
    ("IX_Configurations_Category_UpdatedAt", "Category UpdatedAt"),
    ("IX_Configurations_IsActive", "IsActive"),
    ("IX_Configurations_IsSensitive", "IsSensitive"),
    ("IX_Configurations_UpdatedAt", "UpdatedAt"),
])


class SystemConfiguration(Model):
    id = AutoIncrementField(column_name="id")
    is_setup_complete = pw.BooleanField(column_name="is_setup_complete")
    ffmpeg_path = StringField(500, column_name="ffmpeg_path", null=True)
    output_directory = StringField(500, column_name="output_directory")
    created_at = TimestampField(column_name="created_at")
    updated_at = TimestampField(column_name="updated_at")

    class Meta:
        table_name = "system_configuration"


MODELS = [Configuration, SystemConfiguration]


def migrate(migrator, database, *, fake=False):
    for model in MODELS:
        ddl.create_table(migrator, database, model)
    ddl.insert(migrator, database, "system_configuration", [SYSTEM_CONFIGURATION_ROW])
    ddl.restart_sequence(migrator, database, "system_configuration", "id", 2)
    ddl.record_ef_migration(migrator, database, EF_MIGRATION_ID)


def rollback(migrator, database, *, fake=False):
    ddl.forget_ef_migration(migrator, database, EF_MIGRATION_ID)
    for model in reversed(MODELS):
        ddl.drop_table(migrator, database, model._meta.table_name)
