"""Write the SQL the migrations run as a script (`aura-db script`).

The script is for review, and for deploys where a DBA runs the SQL with the
engine's own client (``sqlite3 -bail new.db < out.sql``,
``psql -v ON_ERROR_STOP=1 -f out.sql``).  It also creates aura-db's history
and audit tables and writes a history row (with the file's checksum) per
migration, so a database built from the script reports every migration as
applied.

How the SQL is obtained, per dialect:

* SQLite: the migrations really run against a private in-memory database while
  their statements are recorded.  Table rebuilds (how SQLite alters columns)
  read the real intermediate schema, so the script is what ``migrate`` does.
  No file is touched or created.
* PostgreSQL and MySQL: the migrations run against an unconnected database
  object that records statements and executes nothing.  A migration step that
  has to read the schema (a MySQL column rename, a PostgreSQL table rename...)
  cannot be scripted that way; the error says so and asks for ``--db``.  With
  a server given, the steps run inside a transaction that is rolled back
  (PostgreSQL) or are recorded without being sent while reads go to the
  server (MySQL, whose DDL would commit).

Migrations that run Python (``migrator.run(fn)``, or statements executed
directly inside ``migrate()``) cannot be written as SQL faithfully: they are
named in an error, or, with ``allow_python``, left in the script as comments.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from aura_db import __version__
from aura_db.engines.registry import ENGINES
from aura_db.errors import AuraError, UsageError
from aura_db.migrations import (
    HISTORY_TABLE,
    LOG_TABLE,
    LoadedMigration,
    MigrationFile,
    _fake_replay,
    discover,
    ensure_tables,
    load,
    read_history,
    render_sql,
    resolve_target,
)

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.db import Engine

# One dialect per registered engine.  What differs between them (how the
# engine's client runs a script, its UTC now, quoting, literals, whether DDL is
# transactional) is asked of the engine: ENGINES[dialect].dialect / .features.
DIALECTS = tuple(ENGINES)

# Statements that read (introspection) or only steer transactions.
_READS = ("SELECT", "PRAGMA", "SHOW", "EXPLAIN", "DESCRIBE", "WITH")
_TXN = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


# --------------------------------------------------------------------------
# Results


@dataclass
class ScriptedMigration:
    name: str
    number: int
    checksum: str
    statements: list[str] = field(default_factory=list)  # the migration's own SQL
    python: list[str] = field(default_factory=list)  # Python steps, not scripted

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "number": self.number,
            "checksum": self.checksum,
            "statements": list(self.statements),
            "python": list(self.python),
        }


@dataclass
class Script:
    dialect: str
    direction: str  # migrate | rollback
    from_head: str | None  # the schema state the script starts from
    to_head: str | None  # ... and the one it leaves
    migrations: list[ScriptedMigration]
    idempotent: bool = False
    used_server: bool = False
    history_ddl: list[str] = field(default_factory=list)
    text: str = ""

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.migrations]

    @property
    def python_migrations(self) -> list[str]:
        return [m.name for m in self.migrations if m.python]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialect": self.dialect,
            "direction": self.direction,
            "from_head": self.from_head,
            "to_head": self.to_head,
            "idempotent": self.idempotent,
            "used_server": self.used_server,
            "migrations": [m.to_dict() for m in self.migrations],
            "python_migrations": self.python_migrations,
            "history_ddl": list(self.history_ddl),
            "nothing_to_do": not self.migrations,
        }


class _NeedsServer(Exception):
    def __init__(self, sql: str):
        super().__init__(sql)
        self.sql = sql


# --------------------------------------------------------------------------
# The range


def plan_range(
    files: list[MigrationFile], *, from_: str | None, to: str | None, rollback: bool
) -> tuple[list[str], list[str], str | None, str | None]:
    """(migrations in place before the script, migrations it runs, from, to).

    ``--from`` and ``--to`` name schema states: ``--from 001 --to 003``
    starts from a database where 001 is the head and applies 002 and 003;
    with ``--rollback``, ``--from 003 --to 001`` undoes 003 and 002.  ``0``
    (or ``zero``) is the empty database.
    """
    names = [f.name for f in files]

    def index(target: str | None, default: int) -> int:
        # position just after the named state: 0 for the empty database
        if target is None:
            return default
        if target.strip().lower() in ("0", "zero"):
            return 0
        return names.index(resolve_target(target, names)) + 1

    if not rollback:
        start = index(from_, 0)
        end = index(to, len(names))
        if end < start:
            raise UsageError(
                f"--to {to} comes before --from {from_}",
                hint="for the SQL that goes down, add --rollback",
            )
        before, todo = names[:start], names[start:end]
        return before, todo, (names[start - 1] if start else None), (names[end - 1] if end else None)
    start = index(from_, len(names))
    end = index(to, 0)
    if end > start:
        raise UsageError(
            f"--rollback goes down: --to {to} comes after --from {from_}",
            hint="drop --rollback for the SQL that goes up",
        )
    before, todo = names[:start], list(reversed(names[end:start]))
    return before, todo, (names[start - 1] if start else None), (names[end - 1] if end else None)


# --------------------------------------------------------------------------
# Recording statements


class _Recorder:
    """Stands in for ``db.execute_sql`` while a migration runs.

    Changes are recorded (and executed only when ``execute``); reads go to
    the database, or, with no database behind it (``offline``), stop the run
    with ``_NeedsServer``: a read means the SQL depends on what the schema
    is, which only a server can say.
    """

    def __init__(self, db: "pw.Database", *, execute: bool, offline: bool, direct: bool = False):
        self.db = db
        self.execute = execute
        self.offline = offline
        # direct: watching a module's own function, where any statement at
        # all marks Python at work; offline it is answered, not refused.
        self.direct = direct
        self.statements: list[str] = []
        self.reads: list[str] = []
        self.keep = True  # False: run without recording (a Python step)
        self._orig = db.execute_sql

    def take(self) -> list[str]:
        out, self.statements = self.statements, []
        return out

    def _execute_sql(self, sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        head = sql.lstrip().upper()
        if head.startswith(_TXN):
            if self.offline:
                return _empty_cursor()
            return self._orig(sql, params, *args, **kwargs)
        if head.startswith(_READS):
            self.reads.append(sql)
            if self.offline:
                if self.direct:
                    return _empty_cursor()
                raise _NeedsServer(render_sql(self.db, sql, params))
            return self._orig(sql, params, *args, **kwargs)
        if self.keep:
            self.statements.append(render_sql(self.db, sql, params))
        if not self.execute:
            return _empty_cursor()
        return self._orig(sql, params, *args, **kwargs)

    @contextlib.contextmanager
    def active(self) -> Iterator["_Recorder"]:
        from aura_db import compat

        with compat.execute_sql_replaced(self.db, self._execute_sql):
            yield self


def _empty_cursor() -> Any:
    from unittest import mock

    cursor = mock.Mock()
    cursor.rowcount = 0
    cursor.lastrowid = None
    cursor.fetchone.return_value = None
    cursor.fetchall.return_value = []
    cursor.__iter__ = lambda self: iter([])
    return cursor


def _is_sql_step(op: Any) -> bool:
    """A queued step that only sends SQL (not a Python callable)."""
    from playhouse.migrate import Operation

    if isinstance(op, Operation):
        return True
    # migrator.create_model queues the model's bound create_table.
    owner = getattr(op, "__self__", None)
    return getattr(op, "__name__", "") == "create_table" and isinstance(owner, type)


def _describe_python(op: Any) -> str:
    # migrator.run(fn) queues `lambda: fn(*args)`: name fn, not the lambda.
    for cell in getattr(op, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if callable(value) and getattr(value, "__name__", None):
            return f"migrator.run({value.__name__})"
    return f"Python callable {getattr(op, '__name__', repr(op))}"


# --------------------------------------------------------------------------
# Where the migrations run while they are recorded


class _Scratch:
    """A database the migrations run against while their SQL is recorded."""

    def __init__(self, dialect: str, db: "pw.Database", *, execute: bool, offline: bool,
                 replay_for_real: bool, used_server: bool = False):
        self.dialect = dialect
        self.db = db
        self.execute = execute
        self.offline = offline
        self.replay_for_real = replay_for_real
        self.used_server = used_server

    def recorder(self) -> _Recorder:
        return _Recorder(self.db, execute=self.execute, offline=self.offline)


@contextlib.contextmanager
def _running_scratch(dialect: str) -> Iterator[_Scratch]:
    """A scratch database of an in-process engine (SQLite in memory): the migrations really run."""
    # Foreign keys off, as migrate has them during a migration: a table
    # rebuild must not cascade.
    db = ENGINES[dialect].script_database()
    db.connect()
    try:
        yield _Scratch(dialect, db, execute=True, offline=False, replay_for_real=True)
    finally:
        db.close()


@contextlib.contextmanager
def _offline_scratch(dialect: str) -> Iterator[_Scratch]:
    from aura_db import compat

    db = ENGINES[dialect].script_database()  # never connected
    # In a script the table a migration creates never exists yet.
    with compat.tables_never_exist():
        yield _Scratch(dialect, db, execute=False, offline=True, replay_for_real=False)


class _Discard(Exception):
    pass


@contextlib.contextmanager
def _server_scratch(engine: "Engine", before: list[str]) -> Iterator[_Scratch]:
    """The given server's database, changed only inside a rolled-back transaction."""
    db = engine.open(create=False)
    try:
        history = [h.name for h in read_history(db)]
        # The recorded SQL must start from the state the script starts from:
        # either the server is at that state, or it is empty and the earlier
        # migrations run first (inside the same rolled-back transaction).
        # MySQL runs nothing (its DDL would commit): its reads must find the
        # schema the script starts from, so only a database at that state helps.
        if history != before and (history or not engine.transactional_ddl):
            raise UsageError(
                f"the database at --db is at {history[-1] if history else 'an empty database'}, "
                f"but the script starts from "
                f"{before[-1] if before else 'an empty database'}",
                hint="pass --from matching the database, or --db an empty database",
            )
        if engine.transactional_ddl:
            try:
                with db.atomic():
                    yield _Scratch(engine.name, db, execute=True, offline=False,
                                   replay_for_real=not history, used_server=True)
                    raise _Discard
            except _Discard:
                pass
        else:
            # DDL would commit on MySQL: record without sending, reads go through.
            yield _Scratch(engine.name, db, execute=False, offline=False,
                           replay_for_real=False, used_server=True)
    finally:
        if not db.is_closed():
            db.close()


# --------------------------------------------------------------------------
# Running the migrations while recording


def _replay(scratch: _Scratch, lm: LoadedMigration, migrator: Any) -> None:
    """Bring the scratch database (or only the model state) to after ``lm``."""
    if not scratch.replay_for_real:
        _fake_replay(lm, migrator, scratch.db)
        return
    with scratch.db.atomic():
        lm.migrate(migrator, scratch.db, fake=False)
        migrator()


def _answer_foreign_keys(db: "pw.Database", migrator: Any) -> None:
    """Let an unconnected database say which foreign keys each table has.

    Dropping a column asks (MySQL must drop the column's constraint first).
    The answer is the model state as the migration starts, which is what the
    schema is at that point of the script.
    """
    import peewee as pw

    known: dict[str, list] = {}
    for model in migrator.orm:
        meta = model._meta
        known[meta.table_name] = [
            pw.ForeignKeyMetadata(f.column_name, f.rel_model._meta.table_name, f.rel_field.column_name,
                                  meta.table_name)
            for f in meta.sorted_fields if isinstance(f, pw.ForeignKeyField)
        ]
    from aura_db import compat

    compat.foreign_keys_answered(db, known)


def _record(scratch: _Scratch, sm: ScriptedMigration, fn: Callable[..., Any], migrator: Any) -> None:
    """Run one migration's migrate() or rollback() and record its SQL into ``sm``."""
    rec = scratch.recorder()
    if scratch.offline:
        _answer_foreign_keys(scratch.db, migrator)
    rec_direct = _Recorder(scratch.db, execute=scratch.execute, offline=scratch.offline, direct=True)
    # The module's function only queues steps; anything it executes itself
    # (reads included) is Python acting on the data.
    with rec_direct.active():
        fn(migrator, scratch.db)
    if rec_direct.statements or rec_direct.reads:
        first = (rec_direct.statements or rec_direct.reads)[0]
        sm.python.append(f"executes SQL directly in {fn.__name__}(): {first.strip()[:80]}")
        sm.statements.append(f"-- (Python) {sm.name} executes SQL itself; not scripted")
    ops, migrator.__ops__ = list(migrator.__ops__), []
    with rec.active():
        for op in ops:
            if _is_sql_step(op):
                op.run() if hasattr(op, "run") else op()
                sm.statements.extend(rec.take())
                continue
            desc = _describe_python(op)
            sm.python.append(desc)
            sm.statements.append(f"-- (Python) {desc}: not scripted; `aura-db migrate` runs it")
            if scratch.execute and not scratch.offline:
                # Run it so later steps see what it did, but leave its SQL
                # out: it was computed from data, which the script has none of.
                rec.keep = False
                try:
                    op()
                finally:
                    rec.keep = True
                    rec.take()


def _run_range(scratch: _Scratch, loaded: dict[str, LoadedMigration], before: list[str],
               todo: list[str], rollback: bool) -> tuple[list[ScriptedMigration], list[str]]:
    from aura_db.migrations import migrator_class

    migrator = migrator_class()(scratch.db)  # the same Migrator `migrate` uses
    for name in before:
        _replay(scratch, loaded[name], migrator)
    history_rec = scratch.recorder()
    with history_rec.active():
        ensure_tables(scratch.db)
    history_ddl = history_rec.take()
    out: list[ScriptedMigration] = []
    for name in todo:
        lm = loaded[name]
        sm = ScriptedMigration(name, lm.file.number, lm.file.checksum)
        if rollback:
            def fn(m, d, lm=lm):
                return lm.rollback(m, d, fake=False)  # type: ignore[misc]
            fn.__name__ = "rollback"
        else:
            def fn(m, d, lm=lm):
                return lm.migrate(m, d, fake=False)
            fn.__name__ = "migrate"
        try:
            if scratch.execute and not scratch.offline:
                with scratch.db.atomic():
                    _record(scratch, sm, fn, migrator)
            else:
                _record(scratch, sm, fn, migrator)
        except _NeedsServer as exc:
            raise _NeedsServerIn(name, exc.sql) from None
        except AuraError:
            raise
        except Exception as exc:  # noqa: BLE001 - user code may raise anything
            raise AuraError(f"migration {name} failed while scripting: {type(exc).__name__}: {exc}") from None
        out.append(sm)
    return out, history_ddl


class _NeedsServerIn(Exception):
    def __init__(self, name: str, sql: str):
        super().__init__(name)
        self.name = name
        self.sql = sql


# --------------------------------------------------------------------------
# The script


def build(
    migrations_dir: Path,
    *,
    dialect: str = "sqlite",
    from_: str | None = None,
    to: str | None = None,
    rollback: bool = False,
    idempotent: bool = False,
    allow_python: bool = False,
    server: "Engine | None" = None,
) -> Script:
    """The SQL script for a range of migrations.  Touches no database.

    ``server`` (PostgreSQL or MySQL only) is used when, and only when, a
    migration cannot be scripted without reading a schema.
    """
    if dialect not in DIALECTS:
        raise UsageError(f"unknown dialect {dialect!r}", hint="one of: " + ", ".join(DIALECTS))
    if idempotent and not ENGINES[dialect].features.procedural_scripts:
        having = " and ".join(n for n, e in ENGINES.items() if e.features.procedural_scripts)
        raise UsageError(
            f"--idempotent needs procedural SQL, which the script has for {having} only (not {dialect})",
        )
    if server is not None and server.name != dialect:
        server = None  # a server of another engine cannot say anything about this dialect
    files = discover(migrations_dir)
    by_name = {f.name: f for f in files}
    before, todo, from_head, to_head = plan_range(files, from_=from_, to=to, rollback=rollback)

    def load_all() -> dict[str, LoadedMigration]:
        # Fresh modules for every attempt: running a migration changes its
        # model classes (a rename_table renames the class's table).
        return {n: load(by_name[n]) for n in before + todo}

    loaded = load_all()
    if rollback:
        without = [n for n in todo if loaded[n].rollback is None]
        if without:
            raise AuraError(
                f"migration {', '.join(without)} has no rollback() function: no down SQL to write",
            )
    result = Script(dialect, "rollback" if rollback else "migrate", from_head, to_head, [],
                    idempotent=idempotent)
    result.migrations, result.history_ddl, result.used_server = _generate(
        dialect, load_all, before, todo, rollback, server
    )
    python = result.python_migrations
    if python and not allow_python:
        details = "; ".join(f"{m.name}: {', '.join(m.python)}" for m in result.migrations if m.python)
        raise AuraError(
            f"cannot script {', '.join(python)}: they run Python code, not only SQL ({details})",
            hint="apply them with `aura-db migrate`, or pass --allow-python to leave them as comments",
        )
    result.text = render(result)
    return result


def _generate(dialect, load_all, before, todo, rollback, server):
    if ENGINES[dialect].features.scripts_by_running:
        with _running_scratch(dialect) as scratch:
            migs, ddl = _run_range(scratch, load_all(), before, todo, rollback)
        return migs, ddl, False
    try:
        with _offline_scratch(dialect) as scratch:
            migs, ddl = _run_range(scratch, load_all(), before, todo, rollback)
        return migs, ddl, False
    except _NeedsServerIn as exc:
        if server is None:
            raise UsageError(
                f"migration {exc.name} reads the schema to build its SQL ({exc.sql.strip()[:100]}); "
                f"scripting it for {dialect} needs a server",
                hint=f"pass --db {dialect}://USER@HOST/DATABASE ("
                + ("used inside a transaction that is rolled back" if ENGINES[dialect].features.transactional_ddl
                   else "at the state the script starts from; only read, nothing is sent")
                + "; nothing changes)",
            ) from None
    # A server scratch is never offline: its reads are answered, not refused.
    with _server_scratch(server, before) as scratch:
        migs, ddl = _run_range(scratch, load_all(), before, todo, rollback)
    return migs, ddl, True


def _literal(value: Any, dialect: str) -> str:
    return ENGINES[dialect].dialect.literal(value)


def _quote(name: str, dialect: str) -> str:
    return ENGINES[dialect].dialect.quote(name)


def _history_insert(sm: ScriptedMigration, dialect: str, actor: str) -> str:
    q = lambda n: _quote(n, dialect)  # noqa: E731
    lit = lambda v: _literal(v, dialect)  # noqa: E731
    return (
        f"INSERT INTO {q(HISTORY_TABLE)} ({q('name')}, {q('checksum')}, {q('applied_at')}, "
        f"{q('applied_by')}, {q('duration_ms')}) VALUES ({lit(sm.name)}, {lit(sm.checksum)}, "
        f"{ENGINES[dialect].dialect.utc_now}, {lit(actor)}, 0);"
    )


def _history_delete(sm: ScriptedMigration, dialect: str) -> str:
    q = lambda n: _quote(n, dialect)  # noqa: E731
    return f"DELETE FROM {q(HISTORY_TABLE)} WHERE {q('name')} = {_literal(sm.name, dialect)};"


def _log_insert(script: Script, dialect: str, actor: str) -> str:
    q = lambda n: _quote(n, dialect)  # noqa: E731
    lit = lambda v: _literal(v, dialect)  # noqa: E731
    now = ENGINES[dialect].dialect.utc_now
    cols = ["command", "started_at", "finished_at", "actor", "host", "pid", "from_head", "to_head",
            "migrations", "outcome", "error", "duration_ms", "backup_file"]
    values = [lit("script" if script.direction == "migrate" else "script-rollback"), now, now,
              lit(actor), lit(socket.gethostname()), "0", lit(script.from_head), lit(script.to_head),
              lit(",".join(script.names)), lit("success"), "NULL", "0", "NULL"]
    return f"INSERT INTO {q(LOG_TABLE)} ({', '.join(q(c) for c in cols)}) VALUES ({', '.join(values)});"


def _history_exists(sm: ScriptedMigration, dialect: str) -> str:
    q = lambda n: _quote(n, dialect)  # noqa: E731
    return f"SELECT 1 FROM {q(HISTORY_TABLE)} WHERE {q('name')} = {_literal(sm.name, dialect)}"


def _plpgsql(statement: str) -> str:
    """A statement as PL/pgSQL runs it inside the DO block.

    EXECUTE takes the statement whole and discards what it returns (an
    INSERT ... RETURNING as written would be an error in PL/pgSQL).
    """
    if statement.startswith("--"):
        return statement
    body = statement.rstrip().rstrip(";")
    tag = "$aura_sql$"
    if tag not in body:
        return f"EXECUTE {tag}{body}{tag};"
    return "EXECUTE '" + body.replace("'", "''") + "';"


def render(script: Script) -> str:
    """The script's text: header, history tables, one block per migration."""
    from aura_db.fields import utcnow
    from aura_db.models.base import current_actor

    d = script.dialect
    actor = f"{current_actor()} (script)"[:200]
    verb = "rollback" if script.direction == "rollback" else "migrate"
    lines = [
        f"-- aura-db {__version__}: {verb} script for {d}",
        f"-- range: from {script.from_head or '(empty database)'} to {script.to_head or '(empty database)'}"
        + (" (idempotent: each block runs only if its history row says it should)" if script.idempotent else ""),
        f"-- generated {utcnow().isoformat(sep=' ', timespec='seconds')} UTC"
        + (" with a server's help (its schema read; nothing kept)" if script.used_server else ""),
        f"-- run it with: {ENGINES[d].dialect.run_hint}",
    ]
    if script.migrations:
        lines.append("-- migrations (sha256 of each file):")
        width = max(len(m.name) for m in script.migrations)
        for m in script.migrations:
            lines.append(f"--   {m.name.ljust(width)}  {m.checksum}" + ("  (Python steps: not scripted)" if m.python else ""))
    else:
        lines.append("-- nothing to do: the range holds no migrations")
    lines.append("")
    features = ENGINES[d].features
    if features.foreign_keys_off_outside_transaction:
        # Outside any transaction, where SQLite honours it: a table rebuild
        # must not cascade into child tables.
        lines += ["PRAGMA foreign_keys = OFF;", ""]
    lines.append("-- aura-db's history and audit tables (as `aura-db migrate` creates them)")
    if not features.create_index_if_not_exists and (script.from_head or script.direction == "rollback"):
        # They exist at any state past the empty database, and MySQL has no
        # CREATE INDEX IF NOT EXISTS: sending it again would fail.
        lines += [f"-- (exist already) {s}" for s in script.history_ddl]
    else:
        lines += script.history_ddl
    lines.append("")
    for m in script.migrations:
        lines.append(f"-- {verb} {m.name}")
        record = _history_delete(m, d) if script.direction == "rollback" else _history_insert(m, d, actor)
        if script.idempotent:
            cond = "EXISTS" if script.direction == "rollback" else "NOT EXISTS"
            lines.append("DO $aura$")
            lines.append("BEGIN")
            lines.append(f"  IF {cond} ({_history_exists(m, d)}) THEN")
            lines += [f"    {_plpgsql(s)}" for s in m.statements]
            lines.append(f"    {record}")
            lines.append("  END IF;")
            lines.append("END")
            lines.append("$aura$;")
        elif not features.transactional_ddl:
            # MySQL commits DDL as it goes: a transaction would promise what it cannot keep.
            lines += m.statements
            lines.append(record)
        else:
            lines.append("BEGIN;")
            lines += m.statements
            lines.append(record)
            lines.append("COMMIT;")
        lines.append("")
    if script.migrations:
        lines.append("-- audit: who ran which script")
        lines.append(_log_insert(script, d, actor))
        lines.append("")
    return "\n".join(lines)
