"""PostgreSQL's SQL: native UUID and JSONB columns, psql with ON_ERROR_STOP."""

from aura_db.engines.base import Dialect


class PostgresDialect(Dialect):
    field_types = {"GUID": "UUID", "JSON": "JSONB", "LONGTEXT": "TEXT"}
    default_port = 5432
    run_hint = "psql -v ON_ERROR_STOP=1 -d DATABASE -f SCRIPT"
    utc_now = "(now() AT TIME ZONE 'UTC')"
