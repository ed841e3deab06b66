"""What SQLite can and cannot do, as aura-db relies on it."""

from aura_db.engines.base import Features


class SqliteFeatures(Features):
    database_is_a_file = True
    checks_foreign_keys_at_once = True
    foreign_keys_off_outside_transaction = True
    scripts_by_running = True
    drops_indexes_with_column = False
    column_types_by_affinity = True
