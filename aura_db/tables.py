"""The names of aura-db's own tables in the database it manages.

A leaf, so that what sits below the migrations (the engines' backups) can
name them without importing the migration runner.
"""

HISTORY_TABLE = "aura_schema_history"
LOG_TABLE = "aura_migration_log"
