"""``aura-db optimize``: the engine's upkeep, and the space it gave back.

The engine does the work (``engine.upkeep(db)``, from
``aura_db/engines/<engine>/upkeep.py``); this module checks that aura-db
manages the database, runs it and shapes the result.

Core: no printing, no prompting; results are dataclasses, failures AuraErrors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from aura_db.engines.base import Engine


@dataclass
class TableSpace:
    table: str
    before: int
    after: int

    @property
    def reclaimed(self) -> int:
        return self.before - self.after

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "bytes_before": self.before, "bytes_after": self.after,
                "bytes_reclaimed": self.reclaimed}


@dataclass
class OptimizeResult:
    engine: str
    database: str
    steps: list[str]
    bytes_before: int
    bytes_after: int
    measured: str  # what bytes_before/after are
    files_before: dict[str, int] = field(default_factory=dict)
    files_after: dict[str, int] = field(default_factory=dict)
    tables: list[TableSpace] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duration_ms: int = 0

    @property
    def reclaimed(self) -> int:
        return self.bytes_before - self.bytes_after

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "database": self.database,
            "steps": self.steps,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "bytes_reclaimed": self.reclaimed,
            "measured": self.measured,
            "files_before": self.files_before,
            "files_after": self.files_after,
            "tables": [t.to_dict() for t in self.tables],
            "warnings": self.warnings,
            "duration_ms": self.duration_ms,
        }


def optimize(engine: "Engine", migrations_dir: Any,
             on_step: Callable[[str, "str | None"], None] | None = None) -> OptimizeResult:
    """Run the engine's upkeep on a database aura-db manages; the sizes before and after.

    Refuses (NotAdopted, exit 3) a database whose tables aura-db neither
    made nor adopted, and on SQLite (DatabaseInUse) one another process has open.
    """
    from aura_db.guards import require_writable
    from aura_db.migrations import read_history, refuse_if_not_adopted

    started = time.perf_counter()
    require_writable(engine, "optimize")  # a standby or read-only database: nothing to give back there
    db = engine.open(create=False)
    try:
        refuse_if_not_adopted(engine, db, read_history(db))
        upkeep = engine.upkeep(db)
        upkeep.preflight()
        report = upkeep.run(on_step)
    finally:
        db.close()
    names = sorted(set(report.tables_before) | set(report.tables_after), key=str.lower)
    tables = [TableSpace(n, report.tables_before.get(n, 0), report.tables_after.get(n, 0)) for n in names]
    tables.sort(key=lambda t: (-t.reclaimed, t.table.lower()))
    return OptimizeResult(
        engine=engine.name, database=engine.describe(), steps=report.steps,
        bytes_before=report.total_before, bytes_after=report.total_after, measured=report.what_is_measured,
        files_before=report.files_before, files_after=report.files_after, tables=tables,
        warnings=report.warnings, duration_ms=int((time.perf_counter() - started) * 1000),
    )

