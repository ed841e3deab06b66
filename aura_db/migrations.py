"""Discover, plan, apply and roll back the numbered migration modules.

Migration modules are peewee-migrate modules (``migrate(migrator, database,
fake=False)`` and ``rollback(...)`` working on a ``peewee_migrate.Migrator``),
loaded by path, never imported as a package.  aura-db runs them itself rather
than through ``peewee_migrate.Router`` because the order of operations is what
keeps data safe:

* each migration runs in its own transaction, opened by the engine
  (``Engine.migration_transaction``), which on SQLite switches foreign-key
  enforcement off *before* BEGIN and runs ``PRAGMA foreign_key_check`` before
  COMMIT; peewee-migrate 2.3 turns the pragma off inside its already-open
  transaction, where SQLite ignores it, and a table rebuild then cascades;
* a run holds the engine's migration lock throughout and reads the history
  again once it has the lock, so concurrent runs apply everything once;
* the history table records a sha256 of every applied file (drift shows up in
  ``status``), and an audit table records every run, failed ones included.

Functions return dataclasses and raise ``AuraError`` subclasses; they never
print.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from aura_db.errors import AuraError, Interrupted, MigrationFailed, UsageError, notify
from aura_db.guards import require_writable
from aura_db.tables import HISTORY_TABLE, LOG_TABLE, OWN_TABLES  # also migrations.HISTORY_TABLE, as before

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.db import Engine, Reader
    from aura_db.policy import SafetyBackup

FILE_RE = re.compile(r"^(\d{3,})_([A-Za-z0-9_]+)\.py$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
DEFAULT_LOCK_TIMEOUT = 60.0


# --------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class MigrationFile:
    number: int
    name: str  # "001_initial"
    path: Path
    checksum: str


@dataclass
class MigrationState:
    number: int | None
    name: str
    state: str  # applied | pending | changed | missing
    applied_at: str | None = None
    applied_by: str | None = None
    checksum: str | None = None  # of the file on disk
    recorded_checksum: str | None = None  # when it was applied
    adopted: bool = False  # recorded by `aura-db adopt`: built by the Aura app, not run by aura-db

    @property
    def checksum_state(self) -> str | None:
        if self.state == "pending":
            return None
        return {"applied": "ok", "changed": "changed", "missing": "missing"}[self.state]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checksum_state"] = self.checksum_state
        d["applied"] = self.state != "pending"
        return d


@dataclass
class Status:
    engine: str
    url: str
    location: str
    reachable: bool
    server_version: str | None
    head: str | None
    migrations: list[MigrationState]
    # The Aura app's own history (__EFMigrationsHistory), oldest first; None without the table.
    app_migrations: list[str] | None = None
    # Tables aura-db did not create and has not adopted (no aura-db history, yet tables).
    not_adopted: bool = False
    # "primary" | "standby" | "read-only" (aura_db.engines.base.Role): whether writes are possible,
    # why not, and where they go instead (a standby's primary, "host:port").
    role: str = "primary"
    role_reason: str | None = None
    primary: str | None = None

    @property
    def read_only(self) -> bool:
        return self.role != "primary"

    @property
    def applied(self) -> list[str]:
        return [m.name for m in self.migrations if m.state != "pending"]

    @property
    def pending(self) -> list[str]:
        return [m.name for m in self.migrations if m.state == "pending"]

    @property
    def changed(self) -> list[str]:
        return [m.name for m in self.migrations if m.state == "changed"]

    @property
    def missing(self) -> list[str]:
        return [m.name for m in self.migrations if m.state == "missing"]

    @property
    def adopted(self) -> list[str]:
        return [m.name for m in self.migrations if m.adopted]

    @property
    def drift(self) -> bool:
        return bool(self.changed or self.missing)

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.drift

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "url": self.url,
            "location": self.location,
            "reachable": self.reachable,
            "server_version": self.server_version,
            "head": self.head,
            "applied": self.applied,
            "pending": self.pending,
            "changed": self.changed,
            "missing": self.missing,
            "adopted": self.adopted,
            "drift": self.drift,
            "up_to_date": self.up_to_date,
            "migrations": [m.to_dict() for m in self.migrations],
            "app_migrations": self.app_migrations,
            "not_adopted": self.not_adopted,
            "read_only": self.read_only,
            "role": self.role,
            "role_reason": self.role_reason,
            "primary": self.primary,
        }


@dataclass
class RunResult:
    command: str  # migrate | rollback
    migrations: list[str]  # applied (migrate) or undone (rollback), in order
    from_head: str | None
    to_head: str | None
    dry_run: bool = False
    fake: bool = False
    sql: dict[str, list[str]] = field(default_factory=dict)
    backup: str | None = None
    duration_ms: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not self.migrations

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["nothing_to_do"] = self.nothing_to_do
        return d


# --------------------------------------------------------------------------
# Migration files


def default_migrations_dir() -> Path:
    """The migrations shipped with aura-db.

    An installed wheel carries them as ``aura_db/_migrations``; a source
    checkout (editable install, tests) has them at the top of the repository.
    """
    here = Path(__file__).resolve().parent
    shipped = here / "_migrations"
    if shipped.is_dir():
        return shipped
    return here.parent / "migrations"


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def discover(directory: Path) -> list[MigrationFile]:
    """The numbered modules of ``directory``, in order."""
    directory = Path(directory)
    if not directory.is_dir():
        what = "is not a folder" if directory.exists() else "does not exist"
        raise UsageError(
            f"migrations folder {directory} {what}",
            hint="pass --migrations DIR or set AURA_DB_MIGRATIONS",
        )
    found: list[MigrationFile] = []
    numbers: dict[int, str] = {}
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        raise UsageError(f"cannot read migrations folder {directory}: {exc.strerror or exc}") from None
    for path in entries:
        m = FILE_RE.match(path.name)
        if not m or not path.is_file():
            if not m and path.suffix == ".py" and path.name != "__init__.py":
                # Never silently ignored (cli.md, Files): 1_short.py is not 001_short.py.
                notify(f"{path.name} in {directory} is not a migration (names are NNN_name.py): ignored; "
                       f"rename it (e.g. {_suggested_name(path.name)}) if it is one")
            continue
        number = int(m.group(1))
        if number in numbers:
            raise UsageError(
                f"two migrations share number {number:03d}: {numbers[number]} and {path.stem}",
                hint="renumber one of them",
            )
        numbers[number] = path.stem
        try:
            digest = checksum(path)
        except OSError as exc:
            raise UsageError(f"cannot read migration {path}: {exc.strerror or exc}",
                             hint="check the file's permissions") from None
        found.append(MigrationFile(number, path.stem, path, digest))
    found.sort(key=lambda f: f.number)
    return found


def _suggested_name(name: str) -> str:
    m = re.match(r"^(\d+)[_-]?(.*)\.py$", name)
    if m:
        return f"{int(m.group(1)):03d}_{re.sub(r'[^A-Za-z0-9_]', '_', m.group(2)) or 'name'}.py"
    return f"NNN_{re.sub(r'[^A-Za-z0-9_]', '_', name[:-3]) or 'name'}.py"


@dataclass
class LoadedMigration:
    file: MigrationFile
    migrate: Callable[..., Any]
    rollback: Callable[..., Any] | None
    ef_migration_id: str | None = None  # the Aura app's EF Core migration this one matches


def load(mf: MigrationFile) -> LoadedMigration:
    """Execute a migration module's source and return its functions."""
    source = mf.path.read_text(encoding="utf-8")
    scope: dict[str, Any] = {"__file__": str(mf.path), "__name__": f"aura_migration_{mf.name}"}
    try:
        code = compile(source, str(mf.path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise AuraError(
            f"migration {mf.path.name} has a syntax error at line {exc.lineno}: {exc.msg}"
        ) from None
    try:
        exec(code, scope, None)
    except Exception as exc:  # noqa: BLE001 - any error while loading user code
        raise AuraError(f"migration {mf.path.name} failed to load: {type(exc).__name__}: {exc}") from None
    migrate = scope.get("migrate")
    if not callable(migrate):
        raise AuraError(f"migration {mf.path.name} defines no migrate() function")
    rollback = scope.get("rollback")
    ef_id = scope.get("EF_MIGRATION_ID")
    return LoadedMigration(mf, migrate, rollback if callable(rollback) else None,
                           ef_id if isinstance(ef_id, str) and ef_id else None)


def resolve_target(target: str, names: list[str]) -> str:
    """``2``, ``002`` or ``002_add_tags`` -> the full name among ``names``."""
    t = target.strip()
    if t in names:
        return t
    if t.isdigit():
        for n in names:
            if int(n.split("_", 1)[0]) == int(t):
                return n
    shown = ", ".join(names[-10:]) if names else "none"
    raise UsageError(f"unknown migration target {target!r}", hint=f"known: {shown}")


# --------------------------------------------------------------------------
# History and audit tables


def _history_models(db: "pw.Database"):
    import peewee as pw

    class History(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=255, unique=True)
        checksum = pw.CharField(max_length=64)
        applied_at = pw.DateTimeField()
        applied_by = pw.CharField(max_length=200)
        duration_ms = pw.IntegerField(default=0)
        # True where `aura-db adopt` recorded a migration the Aura app had already
        # built: its tables hold the app's data, and rollback never undoes it.
        # The database's own default: `aura-db script` writes history rows without it.
        adopted = pw.BooleanField(default=False, constraints=[pw.SQL("DEFAULT FALSE")])

        class Meta:
            database = db
            table_name = HISTORY_TABLE

    class RunLog(pw.Model):
        id = pw.AutoField()
        command = pw.CharField(max_length=20)
        started_at = pw.DateTimeField()
        finished_at = pw.DateTimeField()
        actor = pw.CharField(max_length=200)
        host = pw.CharField(max_length=255)
        pid = pw.IntegerField()
        from_head = pw.CharField(max_length=255, null=True)
        to_head = pw.CharField(max_length=255, null=True)
        migrations = pw.TextField()
        outcome = pw.CharField(max_length=20)
        error = pw.TextField(null=True)
        duration_ms = pw.IntegerField()
        backup_file = pw.CharField(max_length=1000, null=True)

        class Meta:
            database = db
            table_name = LOG_TABLE

    return History, RunLog


def _table_exists(db: "pw.Database", name: str) -> bool:
    return name in db.get_tables()


def read_history(db: "pw.Database") -> list[Any]:
    History, _ = _history_models(db)
    if not _table_exists(db, HISTORY_TABLE):
        return []
    if not _has_adopted_column(db):  # a history table from before `adopt` existed
        fields = [f for f in History._meta.sorted_fields if f.name != "adopted"]
        return list(History.select(*fields).order_by(History.id))
    return list(History.select().order_by(History.id))


def _has_adopted_column(db: "pw.Database") -> bool:
    return any(c.name == "adopted" for c in db.get_columns(HISTORY_TABLE))


def ensure_history_columns(db: "pw.Database") -> None:
    """Add the ``adopted`` column to a history table made before it existed."""
    if not _table_exists(db, HISTORY_TABLE) or _has_adopted_column(db):
        return
    import peewee as pw
    from playhouse.migrate import SchemaMigrator, migrate as run_ops

    run_ops(SchemaMigrator.from_database(db).add_column(
        HISTORY_TABLE, "adopted", pw.BooleanField(default=False, constraints=[pw.SQL("DEFAULT FALSE")])))


@dataclass
class _HistoryRow:
    name: str
    checksum: str
    applied_at: Any
    applied_by: str
    adopted: bool = False


def _read_history_rows(reader: "Reader") -> list[_HistoryRow]:
    """The history as ``read_history`` gives it, read without the ORM (for ``status``)."""
    import datetime

    if HISTORY_TABLE not in reader.tables():
        return []
    out = []
    # SELECT *: a history table from before `adopt` has no `adopted` column
    # (it is always the last one: added by ALTER TABLE, or made with the table).
    rows = [(r[1], r[2], r[3], r[4], r[6] if len(r) > 6 else False)
            for r in reader.rows(f"SELECT * FROM {HISTORY_TABLE} ORDER BY id")]
    for name, checksum, applied_at, applied_by, adopted in rows:
        if isinstance(applied_at, str):  # SQLite keeps text; peewee's DateTimeField parses it
            try:
                applied_at = datetime.datetime.fromisoformat(applied_at)
            except ValueError:
                pass
        out.append(_HistoryRow(name, checksum, applied_at, applied_by, bool(adopted)))
    return out


def ensure_tables(db: "pw.Database") -> None:
    History, RunLog = _history_models(db)
    db.create_tables([History, RunLog], safe=True)


def read_log(db: "pw.Database", limit: int = 20) -> list[dict[str, Any]]:
    _, RunLog = _history_models(db)
    if not _table_exists(db, LOG_TABLE):
        return []
    rows = RunLog.select().order_by(RunLog.id.desc()).limit(limit).dicts()
    return [dict(r) for r in rows]


def quote_for(engine_name: str) -> Callable[[str], str]:
    """How the engine quotes an identifier (its dialect's ``quote``)."""
    from aura_db.engines.registry import ENGINES

    return ENGINES[engine_name].dialect.quote


def foreign_tables(engine: "Engine", db: "pw.Database") -> list[str]:
    """Tables in the database that are not aura-db's own bookkeeping (nor the engine's)."""
    from aura_db.catalog import catalog_for

    own = set(OWN_TABLES)
    return [t for t in catalog_for(engine, db).tables() if t.lower() not in own]


def refuse_if_not_adopted(engine: "Engine", db: "pw.Database", history: list[Any] | None = None) -> None:
    """Raise NotAdopted when the database holds tables but aura-db has no history in it.

    Such tables were built by something else (the Aura app itself, usually):
    building on top of them, faking history over them or dropping them would
    mix two owners' schemas.  ``aura-db adopt`` takes such a database over.
    """
    from aura_db.errors import NotAdopted

    if history is None:
        history = read_history(db)
    if history:
        return
    tables = foreign_tables(engine, db)
    if not tables:
        return
    shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
    raise NotAdopted(
        f"{engine.describe()} holds {len(tables)} table(s) that aura-db did not create and has not adopted "
        f"({shown}); nothing was changed: take a database the Aura app built over with `aura-db adopt`",
        tables=tables,
        hint="back it up first (`aura-db backup`), then `aura-db adopt --dry-run`",
    )


# --------------------------------------------------------------------------
# Status


def _states(files: list[MigrationFile], history: list[Any]) -> list[MigrationState]:
    by_name = {f.name: f for f in files}
    applied = {h.name: h for h in history}
    states: list[MigrationState] = []
    for h in history:
        f = by_name.get(h.name)
        if f is None:
            state = "missing"
        elif f.checksum != h.checksum:
            state = "changed"
        else:
            state = "applied"
        states.append(
            MigrationState(
                number=f.number if f else _number_of(h.name),
                name=h.name,
                state=state,
                applied_at=_iso(h.applied_at),
                applied_by=h.applied_by,
                checksum=f.checksum if f else None,
                recorded_checksum=h.checksum,
                adopted=bool(getattr(h, "adopted", False)),
            )
        )
    for f in files:
        if f.name not in applied:
            states.append(MigrationState(number=f.number, name=f.name, state="pending", checksum=f.checksum))
    states.sort(key=lambda s: (s.number if s.number is not None else -1, s.name))
    return states


def _number_of(name: str) -> int | None:
    head = name.split("_", 1)[0]
    return int(head) if head.isdigit() else None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat(sep=" ", timespec="seconds") if hasattr(value, "isoformat") else str(value)


def status(engine: "Engine", migrations_dir: Path) -> Status:
    """Where the database stands.  Read-only: never creates the database."""
    files = discover(migrations_dir)
    reader = engine.reader()
    try:
        version = reader.server_version()
        role = engine.role(reader)
        history = _read_history_rows(reader)
        tables = reader.tables()
        ef_table = next((t for t in tables if t.lower() == "__efmigrationshistory"), None)
        app_migrations = None
        if ef_table is not None:
            q = quote_for(engine.name)
            app_migrations = [str(r[0]) for r in reader.rows(
                f"SELECT {q('MigrationId')} FROM {q(ef_table)} ORDER BY {q('MigrationId')}")]
        own = set(OWN_TABLES)
        not_adopted = not history and any(
            t.lower() not in own and not t.startswith("sqlite_") for t in tables)
    finally:
        reader.close()
    states = _states(files, history)
    head = history[-1].name if history else None
    return Status(
        app_migrations=app_migrations,
        not_adopted=not_adopted,
        engine=engine.name,
        url=engine.url.redacted,
        location=engine.describe(),
        reachable=True,
        server_version=version,
        head=head,
        migrations=states,
        role=role.role,
        role_reason=role.reason,
        primary=role.primary,
    )


# --------------------------------------------------------------------------
# Running


def _fake_replay(loaded: LoadedMigration, migrator: Any, db: "pw.Database") -> None:
    """Bring ``migrator``'s model state up to date without touching the database.

    This is how peewee-migrate's Router builds state for already-applied
    migrations: run ``migrate(fake=True)`` with queries mocked out, then drop
    the queued operations.
    """
    from aura_db import compat

    with compat.queries_faked():
        loaded.migrate(migrator, db, fake=True)
    migrator.__ops__ = []


class _SqlCapture:
    """Records statements a migration sends; optionally keeps them from running."""

    # Introspection, and the transaction control peewee's atomic() issues,
    # are not part of what the migration does.
    READ_ONLY = ("SELECT", "PRAGMA", "SHOW", "EXPLAIN", "DESCRIBE", "WITH", "SAVEPOINT",
                 "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")

    def __init__(self, db: "pw.Database", *, execute: bool):
        self.db = db
        self.execute = execute
        self.statements: list[str] = []
        self.done: list[str] = []  # statements the database accepted
        self._orig = db.execute_sql

    def _execute_sql(self, sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        if not sql.lstrip().upper().startswith(self.READ_ONLY):
            self.statements.append(render_sql(self.db, sql, params))
            if not self.execute:
                from unittest import mock

                cursor = mock.Mock()
                cursor.rowcount = 0
                cursor.fetchone.return_value = None
                cursor.fetchall.return_value = []
                return cursor
        recorded = not sql.lstrip().upper().startswith(self.READ_ONLY)
        cursor = self._orig(sql, params, *args, **kwargs)
        if self.execute and recorded:  # a SELECT after it is not the previous statement again
            self.done.append(self.statements[-1])
        return cursor

    def __enter__(self) -> "_SqlCapture":
        from aura_db import compat

        self._replaced = compat.execute_sql_replaced(self.db, self._execute_sql)
        self._replaced.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._replaced.__exit__(*exc)


def render_sql(db: "pw.Database", sql: str, params: Any) -> str:
    """A statement with its parameters written in as SQL literals, for reading."""
    sql = sql.strip()
    if not params:
        return sql if sql.endswith(";") else sql + ";"
    placeholder = db.param
    parts = sql.split(placeholder)
    if len(parts) != len(params) + 1:
        return f"{sql}; -- params: {list(params)!r}"
    out = [parts[0]]
    for value, rest in zip(params, parts[1:]):
        out.append(sql_literal(value, db))
        out.append(rest)
    text = "".join(out)
    return text if text.endswith(";") else text + ";"


def sql_literal(value: Any, db: "pw.Database | None" = None) -> str:
    """``value`` as an SQL literal of ``db``'s engine (its dialect's ``literal``)."""
    from aura_db.engines.base import Dialect
    from aura_db.engines.registry import engine_of

    if db is None:
        return Dialect().literal(value)
    try:
        return engine_of(db).dialect.literal(value)
    except UsageError:  # not one of the engines' databases
        return Dialect().literal(value)


@dataclass
class _Run:
    """What one migrate/rollback run needs: the open database and model state."""

    engine: "Engine"
    db: "pw.Database"
    files: list[MigrationFile]
    history: list[Any]

    @property
    def applied_names(self) -> list[str]:
        return [h.name for h in self.history]

    @property
    def head(self) -> str | None:
        return self.history[-1].name if self.history else None


@contextlib.contextmanager
def _opened(engine: "Engine", *, create: bool) -> Iterator["pw.Database"]:
    db = engine.open(create=create)
    try:
        yield db
    finally:
        if not db.is_closed():
            with contextlib.suppress(Exception):  # a connection the server dropped: say why, not this
                db.close()


def _actor() -> str:
    from aura_db.models.base import current_actor

    return current_actor()


def _new_migrator(db: "pw.Database") -> Any:
    return migrator_class()(db)


def migrator_class() -> Any:
    """peewee-migrate's Migrator as aura-db runs it (``aura_db.compat.migrator_class``)."""
    from aura_db import compat

    return compat.migrator_class()


def _drift_warnings(files: list[MigrationFile], history: list[Any]) -> list[str]:
    return [
        f"{s.name} was edited after it was applied (its checksum differs from the recorded one)"
        for s in _states(files, history) if s.state == "changed"
    ]


def _check_no_drift(files: list[MigrationFile], history: list[Any]) -> None:
    states = _states(files, history)
    missing = [s.name for s in states if s.state == "missing"]
    if missing:
        raise AuraError(
            f"applied migration(s) missing from the migrations folder: {', '.join(missing)}",
            hint="restore the files, or point --migrations at the right folder",
        )
    # A gap (a pending file numbered below the head) means someone added an
    # old-numbered file; applying it out of order is not what they meant.
    applied = {h.name for h in history}
    if history:
        head_number = max(_number_of(h.name) or 0 for h in history)
        late = [f.name for f in files if f.name not in applied and f.number < head_number]
        if late:
            raise AuraError(
                f"migration(s) {', '.join(late)} are numbered below the applied head "
                f"{history[-1].name} but were never applied",
                hint="renumber them after the head",
            )


def plan_migrate(engine: "Engine", migrations_dir: Path, *, target: str | None = None) -> list[str]:
    """The names `migrate --to target` would apply, read-only."""
    files = discover(migrations_dir)
    with _opened(engine, create=False) as db:
        history = read_history(db)
    return _pending_upto(files, history, target)


def _pending_upto(files: list[MigrationFile], history: list[Any], target: str | None) -> list[str]:
    applied = {h.name for h in history}
    names = [f.name for f in files]
    pending = [n for n in names if n not in applied]
    if target is not None:
        t = resolve_target(target, names)
        if t in applied:
            return []
        pending = pending[: pending.index(t) + 1]
    return pending


def migrate(
    engine: "Engine",
    migrations_dir: Path,
    *,
    target: str | None = None,
    fake: bool = False,
    dry_run: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    safety: "SafetyBackup | None" = None,
    on_progress: Callable[[str, str], None] | None = None,
) -> RunResult:
    """Apply pending migrations in order, each in its own transaction.

    ``safety`` is the safety-backup policy: once the lock is held and work
    is known to be pending, before anything changes, it takes a backup of a
    database that already holds applied migrations (``--fake`` changes no
    schema and takes none); its path is in the result, the audit log, and
    every error raised after it.  Ctrl-C during the run raises
    ``Interrupted`` carrying the result so far.
    """
    files = discover(migrations_dir)
    by_name = {f.name: f for f in files}
    if dry_run:
        return _dry_run_migrate(engine, files, target)
    require_writable(engine, "migrate")  # a standby: refused before the lock, the backup, anything
    started = time.monotonic()
    started_at = _now()
    with _opened(engine, create=True) as db:
        with engine.migration_lock(db, lock_timeout):
            with engine.locked(db):  # PostgreSQL: a transaction holding the lock; elsewhere the run holds it
                refuse_if_not_adopted(engine, db)  # before anything is written, even the history table
                ensure_tables(db)
                ensure_history_columns(db)
                history = read_history(db)  # again, now that the lock is ours
            _check_no_drift(files, history)
            todo = _pending_upto(files, history, target)
            if fake and todo:
                _refuse_fake_over_different_schema(engine, db, migrations_dir, todo[-1])
            from_head = history[-1].name if history else None
            result = RunResult("migrate", [], from_head, from_head, fake=fake,
                               warnings=_drift_warnings(files, history))
            if not todo:
                return result
            loaded = {n: load(by_name[n]) for n in todo}  # fail on a broken file before any change
            # Where the lock lives in transactions, each step reads the
            # history again under it, and the safety backup is taken in the
            # first step that will really change something.
            per_step = engine.features.migration_lock_in_transaction
            by_others = _Others()
            try:
                if not fake and not per_step:
                    _before_changes(engine, safety, "pre-migrate", from_head, result)
                migrator = _new_migrator(db)
                for h in history:
                    if h.name in by_name:
                        _fake_replay(load(by_name[h.name]), migrator, db)
                History, _ = _history_models(db)
                for name in todo:
                    if on_progress:
                        on_progress("apply", name)
                    t0 = time.monotonic()
                    lm = loaded[name]

                    def guard(lm: LoadedMigration = lm) -> bool:
                        return _migrate_guard(engine, db, files, lm, migrator, result, by_others,
                                              safety if (per_step and not fake) else None)

                    if fake:
                        def work(lm: LoadedMigration = lm) -> None:
                            _fake_replay(lm, migrator, db)

                        def record(lm: LoadedMigration = lm) -> None:
                            History.create(name=lm.file.name, checksum=lm.file.checksum, applied_at=_now(),
                                           applied_by=_actor(), duration_ms=0)
                    else:
                        def work(lm: LoadedMigration = lm) -> None:
                            lm.migrate(migrator, db, fake=False)

                        def record(lm: LoadedMigration = lm, t0: float = t0) -> None:
                            History.create(
                                name=lm.file.name, checksum=lm.file.checksum, applied_at=_now(),
                                applied_by=_actor(), duration_ms=int((time.monotonic() - t0) * 1000),
                            )

                    if _run_step(engine, db, name, work, migrator, record, result, guard=guard):
                        result.migrations.append(name)
                    result.to_head = name  # by this run or, skipped, by another
            except MigrationFailed as exc:
                _reconnect_after_loss(exc, db)
                _log_run(db, "fake" if fake else "migrate", started_at, started, result, "failed",
                         exc.message)
                raise
            except (KeyboardInterrupt, Interrupted) as exc:  # Ctrl-C: the open transaction was rolled back
                _log_run(db, "fake" if fake else "migrate", started_at, started, result,
                         "interrupted", "interrupted")
                raise _interrupted(exc, result) from exc
            except AuraError as exc:
                _name_backup(exc, result)
                raise
            if by_others.names:
                result.warnings.append(f"{len(by_others.names)} migration(s) were applied by another aura-db run "
                                       f"meanwhile: {', '.join(by_others.names)}")
            result.duration_ms = int((time.monotonic() - started) * 1000)
            _log_run(db, "fake" if fake else "migrate", started_at, started, result, "success", None)
            return result


@dataclass
class _Others:
    """What a run found done by other runs while it waited (and whether it asked for its safety backup)."""

    names: list[str] = field(default_factory=list)
    backup_asked: bool = False


def _migrate_guard(engine: "Engine", db: "pw.Database", files: list[MigrationFile], lm: LoadedMigration,
                   migrator: Any, result: RunResult, by_others: _Others, safety: "SafetyBackup | None") -> bool:
    """Inside a step's transaction, under the lock: apply ``lm``?  (False: another run already did.)

    The history is read again: where the lock lives in transactions
    (PostgreSQL), runs take turns per migration, and each migration is
    applied by exactly one of them.  ``safety``: take the safety backup here,
    before the first change of this run.
    """
    name = lm.file.name
    applied = [h.name for h in read_history(db)]
    if name in applied:
        _fake_replay(lm, migrator, db)  # the model state of the migrations after it needs it
        by_others.names.append(name)
        return False
    gone = [f.name for f in files if f.number < lm.file.number and f.name not in applied]
    if gone:
        raise AuraError(
            f"the history changed while this run waited for the migration lock: {', '.join(gone)} "
            f"{'is' if len(gone) == 1 else 'are'} no longer applied (another aura-db rolled back?); "
            f"{name} was not applied",
            hint="run `aura-db status`, then `aura-db migrate` again")
    if safety is not None and not by_others.backup_asked:
        by_others.backup_asked = True
        _before_changes(engine, safety, "pre-migrate", applied[-1] if applied else None, result)
    return True


def build_schema(engine: "Engine", migrations_dir: Path, target: str) -> None:
    """Apply the migrations up to ``target`` (a scratch database's schema, for comparisons)."""
    migrate(engine, migrations_dir, target=target)


def _refuse_fake_over_different_schema(engine: "Engine", db: "pw.Database", migrations_dir: Path,
                                       target: str) -> None:
    """``--fake`` records history only for a schema the migrations would really have built."""
    from aura_db.errors import SchemaMismatch
    from aura_db.schema_compare import compare_with_migrations

    diffs = compare_with_migrations(engine, db, migrations_dir, target, build=build_schema)
    if diffs:
        raise SchemaMismatch(
            f"--fake refused: the live schema differs from what the migrations up to {target} build "
            f"({len(diffs)} difference(s)): " + "; ".join(diffs[:20])
            + (f"; and {len(diffs) - 20} more" if len(diffs) > 20 else "") + "; nothing was recorded",
            differences=diffs,
            hint="apply the migrations for real (`aura-db migrate`), or bring the schema in line first",
        )


def _run_step(
    engine: "Engine",
    db: "pw.Database",
    name: str,
    work: Callable[[], Any],
    migrator: Any,
    record: Callable[[], Any],
    result: RunResult,
    guard: Callable[[], bool] | None = None,
) -> bool:
    """One migration (or its rollback) and its history change, in one transaction.

    The engine's transaction holds the migration lock where the lock lives
    in transactions (PostgreSQL); ``guard`` then runs first, reads the
    history again and returns False to skip a step another run already did
    (the transaction commits nothing).  Errors of the guard (the lock, the
    safety backup) are its own, not the migration's.

    Where DDL commits as it goes (MySQL), each statement the server accepts is
    recorded, so a failure says exactly what stayed applied.  A connection
    the server dropped is reported as such (``ConnectionLost``).
    """
    progress = None if engine.transactional_ddl else _SqlCapture(db, execute=True)
    stage = "lock"  # then "work", then "commit"
    try:
        with engine.migration_transaction(db):
            if guard is not None and not guard():
                return False
            stage = "work"
            with progress or contextlib.nullcontext():
                work()
                migrator()
            record()
            stage = "commit"
        return True
    except MigrationFailed:
        raise
    except KeyboardInterrupt:
        # The transaction is rolled back (where the engine can): say so, with what ran.
        raise Interrupted(result.command, result=result, step=name, transactional=engine.transactional_ddl,
                          committed=len(progress.done) if progress else 0) from None
    except Exception as exc:  # noqa: BLE001 - user code may raise anything
        partial = progress.done if progress else []
        if engine.connection_lost(exc):
            raise _connection_lost(engine, name, exc, stage, partial, result) from exc
        if stage == "lock" and isinstance(exc, AuraError):
            raise
        raise MigrationFailed(
            name, exc, applied=list(result.migrations), partial=partial, backup=result.backup,
            hint=_next_step(name, partial, result.backup),
        ) from exc


def _connection_lost(engine: "Engine", name: str, exc: BaseException, stage: str, partial: list[str],
                     result: RunResult) -> "ConnectionLost":
    """``ConnectionLost`` for a step whose connection went away at ``stage``, with what stayed applied."""
    from aura_db.errors import ConnectionLost

    # The first error of the chain that says so (a rollback's error on the
    # dead connection follows the real one).
    first = exc
    while first.__context__ is not None and engine.connection_lost(first.__context__):
        first = first.__context__
    if partial:
        outcome = "partial"
    elif stage == "commit":
        outcome = "unknown"
    else:
        outcome = "rolled_back"
    again = "`aura-db migrate`" if result.command == "migrate" else "the rollback"
    if outcome == "partial":
        way = (f"restore the safety backup with `aura-db restore {result.backup} --yes`" if result.backup
               else "undo the statements above by hand (docs/runbook.md)")
        hint = f"once the server is back, {way}, then run {again} again"
    elif outcome == "unknown":
        hint = (f"once the server is back, run `aura-db status`: {name} is "
                f"{'applied' if result.command == 'migrate' else 'undone'} exactly when its history row says "
                f"so (both commit together); then run {again} again")
    else:
        hint = f"once the server is back, run {again} again"
    from aura_db.engines.base import first_line

    return ConnectionLost(name, first_line(first), where=engine.describe(), outcome=outcome, applied=list(result.migrations),
                          partial=partial, backup=result.backup, hint=hint, command=result.command)


def _reconnect_after_loss(exc: BaseException, db: "pw.Database") -> None:
    """After a lost connection, a new one (when the server answers) so the audit log records the run."""
    from aura_db.errors import ConnectionLost

    if not isinstance(exc, ConnectionLost):
        return
    try:
        db.close()
    except Exception:  # noqa: BLE001 - the old connection is gone either way
        db.dispose()
    with contextlib.suppress(Exception):
        db.connect()


def _next_step(name: str, partial: list[str], backup: str | None) -> str | None:
    """What the operator runs next after a failed migration."""
    if not partial:
        return f"fix {name}, then run `aura-db migrate` again"
    if backup:
        return (f"the database is half-migrated: restore the safety backup with "
                f"`aura-db restore {backup} --yes`, fix {name}, then run `aura-db migrate`")
    return (f"the database is half-migrated: undo the statements above by hand "
            f"(docs/runbook.md), fix {name}, then run `aura-db migrate`")


def _before_changes(engine: "Engine", safety: "SafetyBackup | None", label: str, head: str | None,
                    result: RunResult) -> None:
    """What precedes the first change of a run: MySQL's caveat (migrate), then the safety backup (``safety``)."""
    if not engine.transactional_ddl and result.command == "migrate":
        notify("MySQL commits each DDL statement as it runs: a migration that fails half-way "
               "stays half-applied (aura-db reports exactly which statements ran)")
    if safety is not None:
        result.backup = safety.take(engine, label=label, head=head)


def _interrupted(exc: BaseException, result: RunResult) -> Interrupted:
    """Ctrl-C as ``Interrupted`` carrying the run's result (a step's own, when it came during one)."""
    if isinstance(exc, Interrupted):
        return exc
    return Interrupted(result.command, result=result)


def _name_backup(exc: AuraError, result: RunResult) -> None:
    """An error after the safety backup names it: the way back, in the --json document too."""
    if result.backup is not None:
        exc.details.setdefault("backup", result.backup)


def plan_rollback(
    engine: "Engine",
    migrations_dir: Path,
    *,
    target: str | None = None,
    steps: int | None = None,
    all_: bool = False,
) -> list[str]:
    """The names a rollback would undo, newest first, read-only."""
    files = discover(migrations_dir)
    with _opened(engine, create=False) as db:
        history = read_history(db)
        refuse_if_not_adopted(engine, db, history)
    return _rollback_plan(files, history, target=target, steps=steps, all_=all_)


def _rollback_plan(
    files: list[MigrationFile], history: list[Any], *, target: str | None, steps: int | None, all_: bool
) -> list[str]:
    applied = [h.name for h in history]
    chosen = sum(x is not None and x is not False for x in (target, steps, all_ or None))
    if chosen > 1:
        raise UsageError("give only one of TARGET, --steps and --all")
    if not applied:
        if target not in (None, "0", "zero"):
            resolve_target(target, [f.name for f in files])  # a typo is still a usage error
        return []  # nothing to do (exit 0)
    if all_:
        return _refuse_adopted(history, list(reversed(applied)))
    if target is not None:
        t = resolve_target(target, applied) if target not in ("0", "zero") else None
        if t is None:
            return _refuse_adopted(history, list(reversed(applied)))
        return _refuse_adopted(history, list(reversed(applied[applied.index(t) + 1 :])))
    n = 1 if steps is None else steps
    if n < 1:
        raise UsageError(f"--steps must be at least 1, got {n}")
    return _refuse_adopted(history, list(reversed(applied[-n:])))


def _refuse_adopted(history: list[Any], todo: list[str]) -> list[str]:
    """Adopted migrations are the Aura app's tables with its data: never undone by aura-db."""
    adopted = [h.name for h in history if getattr(h, "adopted", False) and h.name in todo]
    if adopted:
        raise UsageError(
            f"cannot roll back {', '.join(adopted)}: adopted from the Aura app's database, not run by "
            f"aura-db (its tables hold the app's data); nothing was rolled back",
            hint="roll back only migrations aura-db applied after the adoption, or restore a backup",
        )
    return todo


def rollback(
    engine: "Engine",
    migrations_dir: Path,
    *,
    target: str | None = None,
    steps: int | None = None,
    all_: bool = False,
    dry_run: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    safety: "SafetyBackup | None" = None,
    confirm: Callable[[list[str]], None] | None = None,
    on_progress: Callable[[str, str], None] | None = None,
) -> RunResult:
    """Undo applied migrations, newest first, each in its own transaction.

    ``confirm(plan)`` (the names to undo, newest first) is asked before the
    lock is taken, and only when there is something to undo; it may raise
    ``Refused``.  ``safety``, Ctrl-C and errors after the safety backup: as
    for ``migrate``.
    """
    files = discover(migrations_dir)
    by_name = {f.name: f for f in files}
    if dry_run:
        return _dry_run_rollback(engine, files, target=target, steps=steps, all_=all_)
    require_writable(engine, "rollback")  # before the question, the lock and the safety backup
    if confirm is not None:
        plan = plan_rollback(engine, migrations_dir, target=target, steps=steps, all_=all_)
        if not plan:  # nothing to do (exit 0), at the head the database really has
            head = status(engine, migrations_dir).head
            return RunResult("rollback", [], head, head)
        confirm(plan)
    started = time.monotonic()
    started_at = _now()
    with _opened(engine, create=False) as db:
        with engine.migration_lock(db, lock_timeout):
            with engine.locked(db):
                history = read_history(db)
            refuse_if_not_adopted(engine, db, history)
            todo = _rollback_plan(files, history, target=target, steps=steps, all_=all_)
            from_head = history[-1].name if history else None
            result = RunResult("rollback", [], from_head, from_head)
            if not todo:
                return result
            loaded = _load_for_rollback(todo, by_name)
            per_step = engine.features.migration_lock_in_transaction
            others = _Others()
            try:
                if not per_step:
                    _before_changes(engine, safety, "pre-rollback", from_head, result)
                migrator = _new_migrator(db)
                for h in history:
                    _fake_replay(load(by_name[h.name]), migrator, db)
                History, _ = _history_models(db)
                remaining = [h.name for h in history]
                for name in todo:
                    if on_progress:
                        on_progress("rollback", name)
                    lm = loaded[name]

                    def guard(name: str = name) -> bool:
                        return _rollback_guard(engine, db, name, result, others, safety if per_step else None)

                    done = _run_step(
                        engine, db, name, lambda lm=lm: lm.rollback(migrator, db, fake=False),  # type: ignore[misc]
                        migrator, lambda name=name: History.delete().where(History.name == name).execute(),
                        result, guard=guard,
                    )
                    remaining.remove(name)
                    if done:
                        result.migrations.append(name)
                    result.to_head = remaining[-1] if remaining else None
            except MigrationFailed as exc:
                _reconnect_after_loss(exc, db)
                _log_run(db, "rollback", started_at, started, result, "failed", exc.message)
                raise
            except (KeyboardInterrupt, Interrupted) as exc:
                _log_run(db, "rollback", started_at, started, result, "interrupted", "interrupted")
                raise _interrupted(exc, result) from exc
            except AuraError as exc:
                _name_backup(exc, result)
                raise
            if others.names:
                result.warnings.append(f"{len(others.names)} migration(s) were rolled back by another aura-db "
                                       f"run meanwhile: {', '.join(others.names)}")
            result.duration_ms = int((time.monotonic() - started) * 1000)
            _log_run(db, "rollback", started_at, started, result, "success", None)
            return result


def _rollback_guard(engine: "Engine", db: "pw.Database", name: str, result: RunResult, others: _Others,
                    safety: "SafetyBackup | None") -> bool:
    """Inside a rollback step's transaction, under the lock: undo ``name``?  (False: another run did.)"""
    applied = [h.name for h in read_history(db)]
    if name not in applied:
        others.names.append(name)
        return False
    if applied[-1] != name:
        raise AuraError(
            f"the history changed while this run waited for the migration lock: {applied[-1]} was applied "
            f"after {name} (another aura-db migrated?); {name} was not rolled back",
            hint="run `aura-db status`, then roll back again")
    if safety is not None and not others.backup_asked:
        others.backup_asked = True
        _before_changes(engine, safety, "pre-rollback", applied[-1], result)
    return True


def _load_for_rollback(todo: list[str], by_name: dict[str, MigrationFile]) -> dict[str, LoadedMigration]:
    missing = [n for n in todo if n not in by_name]
    if missing:
        raise AuraError(
            f"cannot roll back {', '.join(missing)}: the migration file is missing",
            hint="restore the file from version control",
        )
    loaded = {n: load(by_name[n]) for n in todo}
    without = [n for n, lm in loaded.items() if lm.rollback is None]
    if without:
        raise AuraError(
            f"migration {', '.join(without)} has no rollback() function; nothing was rolled back",
            hint="write a rollback(), or restore a backup taken before it",
        )
    return loaded


def _now():
    from aura_db.fields import utcnow

    return utcnow()


def _log_run(db, command, started_at, started, result: RunResult, outcome, error) -> None:
    import socket  # only here: every TAB completion imports this module

    _, RunLog = _history_models(db)
    try:
        if db.in_transaction():  # never leave a failed migration's transaction half-open
            db.rollback()
        ensure_tables(db)
        RunLog.create(
            command=command,
            started_at=started_at,
            finished_at=_now(),
            actor=_actor(),
            host=socket.gethostname(),
            pid=os.getpid(),
            from_head=result.from_head,
            to_head=result.to_head,
            migrations=",".join(result.migrations),
            outcome=outcome,
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
            backup_file=result.backup,
        )
    except Exception:  # noqa: BLE001 - the audit row must not mask the real outcome
        if outcome == "success":
            raise


# --------------------------------------------------------------------------
# Dry runs: the SQL that would run, and no change


def _dry_run_migrate(engine: "Engine", files: list[MigrationFile], target: str | None) -> RunResult:
    by_name = {f.name: f for f in files}
    with _opened(engine, create=False) as db:
        history = read_history(db)
        refuse_if_not_adopted(engine, db, history)
        _check_no_drift(files, history)
        todo = _pending_upto(files, history, target)
        head = history[-1].name if history else None
        result = RunResult("migrate", list(todo), head, todo[-1] if todo else head, dry_run=True)
        if not todo:
            return result
        loaded = {n: load(by_name[n]) for n in todo}
        migrator = _new_migrator(db)
        for h in history:
            if h.name in by_name:
                _fake_replay(load(by_name[h.name]), migrator, db)
        result.sql = _capture(engine, db, [(n, lambda m, d, lm=loaded[n]: lm.migrate(m, d, fake=False)) for n in todo], migrator)
    return result


def _dry_run_rollback(engine, files, *, target, steps, all_) -> RunResult:
    by_name = {f.name: f for f in files}
    with _opened(engine, create=False) as db:
        history = read_history(db)
        refuse_if_not_adopted(engine, db, history)
        todo = _rollback_plan(files, history, target=target, steps=steps, all_=all_)
        head = history[-1].name if history else None
        remaining = [h.name for h in history if h.name not in todo]
        result = RunResult("rollback", list(todo), head, remaining[-1] if remaining else None, dry_run=True)
        if not todo:
            return result
        loaded = _load_for_rollback(todo, by_name)
        migrator = _new_migrator(db)
        for h in history:
            _fake_replay(load(by_name[h.name]), migrator, db)
        result.sql = _capture(engine, db, [(n, lambda m, d, lm=loaded[n]: lm.rollback(m, d, fake=False)) for n in todo], migrator)
    return result


class _DryRunDone(Exception):
    pass


def _capture(engine: "Engine", db: "pw.Database", steps: list[tuple[str, Callable]], migrator: Any) -> dict[str, list[str]]:
    """Run ``steps`` and record their SQL, leaving the database as it was.

    Where DDL is transactional (SQLite, PostgreSQL) the steps really run
    inside one transaction that is then rolled back, so later steps see
    earlier ones' tables.  Elsewhere (MySQL, where DDL commits) statements
    that would change anything are recorded and not sent.
    """
    out: dict[str, list[str]] = {}
    execute = engine.transactional_ddl
    try:
        with engine.migration_transaction(db) if execute else contextlib.nullcontext():
            for name, fn in steps:
                with _SqlCapture(db, execute=execute) as cap:
                    try:
                        fn(migrator, db)
                        migrator()
                    except Exception as exc:  # noqa: BLE001
                        raise MigrationFailed(name, exc) from exc
                out[name] = cap.statements
            if execute:
                raise _DryRunDone
    except _DryRunDone:
        pass
    return out


# --------------------------------------------------------------------------
# Building an empty database inside a caller's transaction (`aura-db copy`)


def build_on(
    engine: "Engine",
    db: "pw.Database",
    migrations_dir: Path,
    *,
    on_progress: Callable[[str, str], None] | None = None,
) -> list[str]:
    """Apply every migration of ``migrations_dir`` to ``db``, an open connection to a database without tables.

    For ``aura-db copy``, which holds the lock and decides what surrounds the
    build.  Inside a transaction the caller holds, each migration runs in a
    savepoint (a nested ``atomic``), so the whole build commits or rolls back
    with the caller's transaction; outside one, each runs in the engine's
    migration transaction, as ``migrate`` runs them.  History rows are
    recorded as ``migrate`` records them; no safety backup, no audit row.
    Returns the names applied.
    """
    files = discover(migrations_dir)
    loaded = [load(f) for f in files]  # fail on a broken file before any change
    ensure_tables(db)
    History, _ = _history_models(db)
    migrator = _new_migrator(db)
    outer = db.in_transaction()
    applied: list[str] = []
    for lm in loaded:
        name = lm.file.name
        if on_progress:
            on_progress("apply", name)
        t0 = time.monotonic()
        try:
            with db.atomic() if outer else engine.migration_transaction(db):
                lm.migrate(migrator, db, fake=False)
                migrator()
                History.create(name=name, checksum=lm.file.checksum, applied_at=_now(), applied_by=_actor(),
                               duration_ms=int((time.monotonic() - t0) * 1000))
        except AuraError:
            raise
        except Exception as exc:  # noqa: BLE001 - user code may raise anything
            raise MigrationFailed(name, exc, applied=list(applied)) from exc
        applied.append(name)
    return applied
