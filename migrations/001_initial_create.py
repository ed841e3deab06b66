"""Match the Aura app's EF migration 20251026005425_InitialCreate.

Creates EF Core's own history table, ``__EFMigrationsHistory``, exactly as EF
creates it, and ``export_history`` with its three indexes; records the EF
migration so the app's ``MigrateAsync()`` sees it applied.  Rollback drops
both tables.

The models below are a frozen copy of the tables as this migration creates
them: never import aura_db.models here (later migrations change those
classes, and this file has to build the same tables forever).
"""

import peewee as pw

from aura_db import ddl
from aura_db.fields import StringField, TimestampField

EF_MIGRATION_ID = "20251026005425_InitialCreate"


class Model(pw.Model):
    pass


class ExportHistory(Model):
    id = StringField(column_name="id", primary_key=True, key=True)
    input_file = StringField(500, column_name="input_file")
    output_file = StringField(500, column_name="output_file")
    preset_name = StringField(100, column_name="preset_name")
    status = StringField(50, column_name="status")
    progress = pw.DoubleField(column_name="progress")
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


ddl.add_indexes(ExportHistory, [
    ("IX_export_history_created_at", "created_at"),
    ("IX_export_history_status", "status"),
    ("IX_export_history_status_created_at", "status created_at"),
])


MODELS = [ExportHistory]


def migrate(migrator, database, *, fake=False):
    ddl.create_ef_history(migrator, database)
    for model in MODELS:
        ddl.create_table(migrator, database, model)
    ddl.record_ef_migration(migrator, database, EF_MIGRATION_ID)


def rollback(migrator, database, *, fake=False):
    for model in reversed(MODELS):
        ddl.drop_table(migrator, database, model._meta.table_name)
    ddl.drop_table(migrator, database, ddl.EF_HISTORY_TABLE)
