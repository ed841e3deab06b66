"""The names of aura-db's own tables in the database it manages.

A leaf, so that what sits below the migrations (the engines' backups) can
name them without importing the migration runner.
"""

HISTORY_TABLE = "aura_schema_history"
LOG_TABLE = "aura_migration_log"
# The migration lock's lease, where the server's own locks cannot hold it
# (a Galera cluster: aura_db/engines/mysql/lease.py); made only there.
LOCK_TABLE = "aura_migration_lock"
# Every table of aura-db's own bookkeeping: never the app's, never "not adopted".
OWN_TABLES = (HISTORY_TABLE, LOG_TABLE, LOCK_TABLE)


def head_query(quote) -> str:
    """The SQL giving the newest applied migration's name (the head), identifiers quoted by ``quote``.

    One query for every reader that needs only the head (the engines' backups,
    over sqlite3 or peewee); the migration runner reads the whole history.
    """
    return f"SELECT {quote('name')} FROM {quote(HISTORY_TABLE)} ORDER BY {quote('id')} DESC LIMIT 1"
