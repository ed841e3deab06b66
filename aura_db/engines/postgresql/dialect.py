"""PostgreSQL's SQL: native UUID and JSONB columns, psql with ON_ERROR_STOP."""

from aura_db.engines.base import Dialect


class PostgresDialect(Dialect):
    field_types = {"GUID": "UUID", "JSON": "JSONB", "LONGTEXT": "TEXT", "STRING": "VARCHAR",
                   "STRING_UNBOUNDED": "TEXT", "STRING_KEY": "TEXT", "TIMESTAMP_TEXT": "TIMESTAMP",
                   "DECIMAL_TEXT": "NUMERIC"}
    default_port = 5432
    run_hint = "psql -v ON_ERROR_STOP=1 -d DATABASE -f SCRIPT"
    utc_now = "(now() AT TIME ZONE 'UTC')"

    def default_literal(self, value: bool) -> str:
        return "TRUE" if value else "FALSE"


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted: exactly this name, case and all."""
    return '"' + name.replace('"', '""') + '"'
