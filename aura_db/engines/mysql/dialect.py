"""MySQL/MariaDB's SQL: identifiers in backticks, microsecond DATETIME, the mysql client."""

from aura_db.engines.base import Dialect


class MysqlDialect(Dialect):
    identifier_quote = "`"
    field_types = {"GUID": "CHAR(36)", "JSON": "LONGTEXT", "LONGTEXT": "LONGTEXT", "DATETIME": "DATETIME(6)"}
    default_port = 3306
    run_hint = "mysql --database=DATABASE < SCRIPT"
    utc_now = "UTC_TIMESTAMP(6)"
