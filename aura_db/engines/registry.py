"""The one place that maps an engine's name to what serves it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aura_db.engines.mysql.backup import MysqlBackup
from aura_db.engines.postgresql.backup import PostgresBackup
from aura_db.engines.sqlite.backup import SqliteBackup
from aura_db.errors import CheckFailed

if TYPE_CHECKING:
    from aura_db.backup.engine import EngineBackup
    from aura_db.db import Engine

ENGINE_BACKUPS: dict[str, type["EngineBackup"]] = {
    "sqlite": SqliteBackup,
    "postgresql": PostgresBackup,
    "mysql": MysqlBackup,
}


def for_engine(engine: "Engine") -> "EngineBackup":
    return ENGINE_BACKUPS[engine.name](engine)


def checker_for(engine_name: str, server: "Engine | None") -> "EngineBackup":
    """The class that checks a backup of ``engine_name``; ``server`` is where a full check may restore."""
    cls = ENGINE_BACKUPS.get(engine_name)
    if cls is None:
        raise CheckFailed(f"unknown engine {engine_name!r} in the manifest")
    if server is not None and server.name == engine_name:
        return cls(server)
    return cls(None)
