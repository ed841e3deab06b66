"""Match the Aura app's EF migration 20251121045900_AddCreatedByToConfigurations.

Adds the nullable ``Configurations.CreatedBy``.
"""

from aura_db import ddl
from aura_db.fields import StringField

EF_MIGRATION_ID = "20251121045900_AddCreatedByToConfigurations"


def migrate(migrator, database, *, fake=False):
    ddl.add_column(migrator, database, "Configurations", "created_by", StringField(column_name="CreatedBy", null=True))
    ddl.record_ef_migration(migrator, database, EF_MIGRATION_ID)


def rollback(migrator, database, *, fake=False):
    ddl.forget_ef_migration(migrator, database, EF_MIGRATION_ID)
    ddl.drop_column(migrator, database, "Configurations", "CreatedBy")
