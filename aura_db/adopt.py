"""Taking over a database the Aura app built itself (EF Core, ``__EFMigrationsHistory``).

The app's own ``MigrateAsync()`` records each EF Core migration it applied in
``__EFMigrationsHistory``.  Every shipped aura-db migration names the app
migration it matches (``EF_MIGRATION_ID``).  ``adopt``:

1. reads the EF history and finds the aura-db migration matching the newest
   EF migration applied (every one applied must be one aura-db knows, in
   order, with none skipped);
2. builds what aura-db's migrations up to that one create, in a scratch
   SQLite file, and compares it with the live schema table by table (names
   compared the way the engine compares them);
3. when they are equal, records aura-db history up to that migration, each
   row marked ``adopted``, and changes nothing else.  ``aura-db migrate`` then
   applies the rest.

Anything else (a schema that matches no known state, an EF migration aura-db
does not know) is a ``SchemaMismatch`` (exit 3) listing every difference, and
nothing is changed.  Functions return dataclasses and raise ``AuraError``
subclasses; they never print.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from aura_db.errors import CheckFailed, SchemaMismatch, UsageError
from aura_db.guards import require_writable

if TYPE_CHECKING:
    from aura_db.db import Engine

EF_HISTORY = "__EFMigrationsHistory"
APP_ENGINE = "sqlite"  # the Aura app's AuraDbContext is configured with UseSqlite only


@dataclass
class AdoptResult:
    engine: str
    url: str
    ef_migrations: list[str] = field(default_factory=list)  # in the app's __EFMigrationsHistory
    matched: str | None = None  # the aura-db migration matching the newest of them
    to_record: list[str] = field(default_factory=list)  # aura-db history rows, marked adopted
    recorded: list[str] = field(default_factory=list)  # what was written (not on a dry run)
    pending: list[str] = field(default_factory=list)  # what `aura-db migrate` applies afterwards
    differences: list[str] = field(default_factory=list)
    already_adopted: bool = False
    dry_run: bool = False
    tables_compared: int = 0
    duration_ms: int = 0

    @property
    def nothing_to_do(self) -> bool:
        return not self.to_record

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["nothing_to_do"] = self.nothing_to_do
        return d


@dataclass(frozen=True)
class _Known:
    name: str  # aura-db migration, e.g. 003_add_project_state_persistence
    ef_id: str | None  # the app's EF migration id it matches


def _known(migrations_dir: Path) -> list[_Known]:
    from aura_db.migrations import discover, load

    return [_Known(f.name, load(f).ef_migration_id) for f in discover(migrations_dir)]


def plan(engine: "Engine", migrations_dir: Path) -> AdoptResult:
    """What adopt would record, checked against the live schema.  Read-only.

    Raises ``SchemaMismatch`` (exit 3) with every difference when the
    database is not exactly a state aura-db's migrations build.
    """
    from aura_db.migrations import _opened, read_history

    started = time.monotonic()
    result = AdoptResult(engine.name, engine.url.redacted)
    if engine.name != APP_ENGINE:
        raise UsageError(
            f"adopt takes over databases the Aura app built, and the app builds only SQLite; "
            f"{engine.describe()} is {engine.name}",
            hint="a server database is built by `aura-db migrate` (or filled by `aura-db copy`)",
        )
    known = _known(migrations_dir)
    with _opened(engine, create=False) as db:
        tables = db.get_tables()
        history = read_history(db)
        ef_table = next((t for t in tables if t.lower() == EF_HISTORY.lower()), None)
        if ef_table is None:
            raise CheckFailed(
                f"{engine.describe()} has no {EF_HISTORY} table: it was not built by the Aura app, "
                f"so there is nothing to adopt",
                hint="an empty database is built with `aura-db migrate`",
            )
        rows = db.execute_sql(f'SELECT "MigrationId" FROM "{ef_table}" ORDER BY "MigrationId"').fetchall()
        result.ef_migrations = [str(r[0]) for r in rows]
        if history:
            result.already_adopted = True
            applied = [h.name for h in history]
            result.matched = applied[-1]
            result.pending = [k.name for k in known if k.name not in applied]
            result.duration_ms = int((time.monotonic() - started) * 1000)
            return result  # aura-db already keeps this database's history: nothing to adopt
        matched, history_problems = _match(known, result.ef_migrations)
        from aura_db.migrations import build_schema
        from aura_db.schema_compare import compare_with_migrations

        # A history aura-db cannot follow is still compared with the nearest state it
        # knows (the newest known migration named, else the last one), so the refusal
        # lists every difference, not only the first.
        chain = [k for k in known if k.ef_id]
        if not chain:
            raise UsageError(
                f"no migration in {migrations_dir} names the Aura app migration it matches (EF_MIGRATION_ID)",
                hint="point --migrations at aura-db's shipped migrations")
        nearest = matched or _nearest(chain, result.ef_migrations)
        result.matched = matched.name if matched else None
        if matched:
            upto = [k.name for k in known[: known.index(matched) + 1]]
            result.to_record = upto
            result.pending = [k.name for k in known if k.name not in upto]
        result.differences = history_problems + compare_with_migrations(
            engine, db, migrations_dir, nearest.name, build=build_schema)
        result.tables_compared = len([t for t in tables if not t.startswith("sqlite_")])
        why = (f"the schema differs from what aura-db's migrations up to {nearest.name} build"
               if matched else "the app's migration history is not one aura-db can follow")
    result.duration_ms = int((time.monotonic() - started) * 1000)
    if result.differences:
        result.to_record = []
        _refuse(result, why)
    return result


def _match(known: list[_Known], ef_ids: list[str]) -> tuple[_Known | None, list[str]]:
    """The aura-db migration matching the newest EF migration applied, and what is wrong with the history.

    Every EF migration applied must be one aura-db knows, and all the ones
    before the newest must be applied too (EF applies them in id order).
    """
    chain = [k for k in known if k.ef_id]
    by_ef = {k.ef_id: k for k in chain}
    if not ef_ids:
        return None, [f"{EF_HISTORY} is empty: the app applied no migration"]
    unknown = [i for i in ef_ids if i not in by_ef]
    if unknown:
        return None, [f"{EF_HISTORY}: {i} is not an Aura app migration aura-db knows" for i in unknown]
    newest = max(ef_ids)
    matched = by_ef[newest]
    expected = [k.ef_id for k in chain[: chain.index(matched) + 1]]
    missing = [f"{EF_HISTORY}: {i} is missing before {newest}" for i in expected if i not in ef_ids]
    return (None, missing) if missing else (matched, [])


def _nearest(chain: list[_Known], ef_ids: list[str]) -> _Known:
    known = [k for k in chain if k.ef_id in ef_ids]
    return known[-1] if known else chain[-1]


def _refuse(result: AdoptResult, why: str) -> None:
    diffs = result.differences
    shown = "; ".join(diffs[:30]) + (f"; and {len(diffs) - 30} more" if len(diffs) > 30 else "")
    raise SchemaMismatch(
        f"cannot adopt: {why} ({len(diffs)} difference(s)): {shown}; nothing was changed",
        differences=diffs, result=result,
        hint="adopt takes over a database exactly as one of the Aura app's migrations left it",
    )


def adopt(engine: "Engine", migrations_dir: Path, *, dry_run: bool = False,
          lock_timeout: float | None = None,
          confirm: "Callable[[AdoptResult], None] | None" = None) -> AdoptResult:
    """Record aura-db history up to the migration matching the app's, marked adopted.

    Checks everything first (``plan``); ``confirm(plan)`` is asked when there
    is something to record (it may raise ``Refused``); writes only aura-db's
    own history and audit tables.  With ``dry_run``, writes nothing.
    """
    from aura_db.migrations import (
        DEFAULT_LOCK_TIMEOUT, _actor, _history_models, _now, _opened, discover, ensure_history_columns,
        ensure_tables, read_history,
    )

    if not dry_run:
        require_writable(engine, "adopt")
    result = plan(engine, migrations_dir)
    result.dry_run = dry_run
    if dry_run or result.nothing_to_do:
        return result
    if confirm is not None:
        confirm(result)
    started = time.monotonic()
    started_at = _now()
    files = {f.name: f for f in discover(migrations_dir)}
    with _opened(engine, create=False) as db:
        with engine.migration_lock(db, DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout), \
                engine.locked(db):  # PostgreSQL: one transaction holding the lock, history read in it
            if read_history(db):  # another run adopted or migrated it meanwhile
                result.already_adopted, result.to_record = True, []
                return result
            with db.atomic():
                ensure_tables(db)
                ensure_history_columns(db)
                History, RunLog = _history_models(db)
                for name in result.to_record:
                    History.create(name=name, checksum=files[name].checksum, applied_at=_now(),
                                   applied_by=_actor(), duration_ms=0, adopted=True)
                    result.recorded.append(name)
                _log_adopt(RunLog, started_at, started, result)
    result.duration_ms += int((time.monotonic() - started) * 1000)
    return result


def _log_adopt(RunLog: Any, started_at: Any, started: float, result: AdoptResult) -> None:
    import os
    import socket

    from aura_db.migrations import _actor, _now

    RunLog.create(
        command="adopt", started_at=started_at, finished_at=_now(), actor=_actor(),
        host=socket.gethostname(), pid=os.getpid(), from_head=None, to_head=result.matched,
        migrations=",".join(result.recorded), outcome="success", error=None,
        duration_ms=int((time.monotonic() - started) * 1000), backup_file=None,
    )
