"""Refusals that come before a write command does anything.

``require_writable(engine, command)`` is the one check every command that
writes the database (migrate, rollback, seed, restore, adopt, and any new
one) calls first: on a standby or a read-only database it raises
``ReadOnlyDatabase`` (exit 2) naming the primary, before any lock, safety
backup or file in the backup folder.  The engine says what the database is
(``Engine.role``); nothing here knows an engine by name.

Core: no printing, no prompting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aura_db.errors import ReadOnlyDatabase

if TYPE_CHECKING:
    from aura_db.engines.base import Engine, Reader, Role


def require_writable(engine: "Engine", command: str, *, reader: "Reader | None" = None) -> "Role":
    """The database's role when it takes writes; ``ReadOnlyDatabase`` (exit 2) when it does not.

    ``command`` is what the user ran (``migrate``, ``seed``...), for the
    message.  ``reader`` reuses an open connection; without one the engine
    opens (and closes) its own (a SQLite file needs none).  Raises
    DatabaseUnavailable (exit 4) when the database cannot be reached.
    """
    role = engine.role(reader)
    if not role.read_only:
        return role
    where = engine.describe()
    if role.primary:
        run = f"run `aura-db {command}` against the primary at {role.primary}"
    elif role.role == "standby":
        run = f"run `aura-db {command}` against the primary this standby replicates"
    else:
        run = "make it writable, or point --db at a writable copy"
    raise ReadOnlyDatabase(
        f"refusing to {command}: {where} is {_what(role)}; nothing was done; {run}",
        role=role,
    )


def _what(role: "Role") -> str:
    if role.role == "standby":
        return f"a read-only standby ({role.reason})" if role.reason else "a read-only standby"
    return f"read-only ({role.reason})" if role.reason else "read-only"
