"""Database URLs and engines, under the names the rest of aura-db has always imported.

The knowledge lives in ``aura_db.engines``: one package per engine
(``engines/<engine>/base.py`` and the parts it names) and one registry
(``engines/registry.py``).  This module only re-exports them.
"""

from __future__ import annotations

from aura_db.engines.base import DEFAULT_CONNECT_TIMEOUT, Engine, Reader
from aura_db.engines.mysql.base import MysqlEngine
from aura_db.engines.postgresql.base import PostgresEngine
from aura_db.engines.registry import ENGINES, engine_class, engine_for, parse_url
from aura_db.engines.sqlite.base import SqliteEngine
from aura_db.engines.sqlite.probe import SQLITE_MAGIC, probe_sqlite_file, side_files, unreadable_sqlite
from aura_db.engines.url import DatabaseURL, redact

# Column types of aura_db.fields, per engine (each engine's ``dialect.field_types``).
FIELD_TYPES = {name: cls.dialect.field_types for name, cls in ENGINES.items()}

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT", "ENGINES", "FIELD_TYPES", "SQLITE_MAGIC", "DatabaseURL", "Engine",
    "MysqlEngine", "PostgresEngine", "Reader", "SqliteEngine", "engine_class", "engine_for", "parse_url",
    "probe_sqlite_file", "redact", "side_files", "unreadable_sqlite",
]
