"""MySQL/MariaDB's SQL: identifiers in backticks, microsecond DATETIME, the mysql client."""

from aura_db.engines.base import Dialect


class MysqlDialect(Dialect):
    identifier_quote = "`"
    drop_index_names_table = True
    field_types = {"GUID": "CHAR(36)", "JSON": "LONGTEXT", "LONGTEXT": "LONGTEXT", "DATETIME": "DATETIME(6)",
                   "STRING": "VARCHAR", "STRING_UNBOUNDED": "LONGTEXT", "STRING_KEY": "VARCHAR(255)",
                   "TIMESTAMP_TEXT": "DATETIME(6)", "DECIMAL": "DECIMAL", "DECIMAL_TEXT": "DECIMAL(38,18)"}
    default_port = 3306
    run_hint = "mysql --database=DATABASE < SCRIPT"
    utc_now = "UTC_TIMESTAMP(6)"
