"""SQLite's SQL: identifiers in double quotes, booleans as 1/0, types of aura_db.fields as text."""

from aura_db.engines.base import Dialect


class SqliteDialect(Dialect):
    field_types = {"GUID": "TEXT", "JSON": "TEXT", "LONGTEXT": "TEXT", "STRING": "TEXT",
                   "TIMESTAMP_TEXT": "TEXT", "DECIMAL": "decimal", "DECIMAL_TEXT": "TEXT",
                   # keyword after an auto-numbered key (aura_db.fields.AutoIncrementField)
                   "AUTOINCREMENT": "AUTOINCREMENT"}
    run_hint = "sqlite3 -bail DATABASE < SCRIPT"
    utc_now = "CURRENT_TIMESTAMP"
    true_literal, false_literal = "1", "0"
