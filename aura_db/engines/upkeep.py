"""The engine's upkeep (``aura-db optimize``): what every engine's ``<engine>/upkeep.py`` offers.

An engine reclaims space and refreshes its planner statistics in its own way
(SQLite: WAL checkpoint, VACUUM, ANALYZE; PostgreSQL: ``VACUUM (ANALYZE)``;
MySQL: ``OPTIMIZE TABLE``/``ANALYZE TABLE``).  Each measures the space its
tables take before and after, per table where it can tell, and the files
where the database is a file.  ``aura_db.optimize`` asks the engine for its
``Upkeep`` and never branches on the engine's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.engines.base import Engine

# Hears of each step as it starts: (what, table or None).
StepCallback = Callable[[str, "str | None"], None]


@dataclass
class UpkeepReport:
    """What an engine's upkeep did and the bytes it measured around it."""

    steps: list[str] = field(default_factory=list)  # the statements run, in order (one per table collapsed)
    # table -> bytes (data + indexes) before and after; empty where the engine cannot tell.
    tables_before: dict[str, int] = field(default_factory=dict)
    tables_after: dict[str, int] = field(default_factory=dict)
    # What the whole database takes (files incl. WAL on SQLite, the tables' sum elsewhere).
    total_before: int = 0
    total_after: int = 0
    # Named sizes of the database's files (SQLite: the file, -wal), before and after.
    files_before: dict[str, int] = field(default_factory=dict)
    files_after: dict[str, int] = field(default_factory=dict)
    what_is_measured: str = ""  # how total_* were measured, said in the report
    warnings: list[str] = field(default_factory=list)


class Upkeep:
    """One engine's upkeep over an open connection; ``run`` measures, works, measures again."""

    def __init__(self, engine: "Engine", db: "pw.Database"):
        self.engine, self.db = engine, db

    def preflight(self) -> None:
        """Refuse (an AuraError) before anything runs when the upkeep cannot run now."""

    def run(self, on_step: StepCallback | None = None) -> UpkeepReport:
        raise NotImplementedError
