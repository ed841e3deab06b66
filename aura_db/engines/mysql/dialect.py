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


# The session sql_mode of every aura-db connection (valid on MySQL 5.7+, 8 and MariaDB).
SESSION_SQL_MODE = "STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"


def strict_sql_mode(sql_mode: str) -> bool:
    """Whether a sql_mode refuses bad values (STRICT_ALL_TABLES or STRICT_TRANS_TABLES, alone or in a combination)."""
    modes = {m.strip().upper() for m in sql_mode.split(",")}
    return bool(modes & {"STRICT_ALL_TABLES", "STRICT_TRANS_TABLES", "TRADITIONAL"})
