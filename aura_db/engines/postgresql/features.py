"""What PostgreSQL can and cannot do, as aura-db relies on it."""

from aura_db.engines.base import Features


class PostgresFeatures(Features):
    procedural_scripts = True
    serial_sequences = True
    migration_lock_in_transaction = True
    schemas = True
