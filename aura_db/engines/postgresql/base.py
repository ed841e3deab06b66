"""PostgreSQL: connection (Ctrl-C interrupts a connect), advisory migration lock.

The engine names its parts: ``features`` (features.py), ``dialect``
(dialect.py), its catalog, backup (backup.py) and bulk writer.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import TYPE_CHECKING, Any, Iterator

from aura_db.engines import base
from aura_db.engines.postgresql.dialect import PostgresDialect, quote_ident
from aura_db.engines.postgresql.features import PostgresFeatures
from aura_db.engines.server import ServerEngine, lock_key
from aura_db.errors import LockTimeout

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.backup.engine import EngineBackup
    from aura_db.catalog import Catalog

_DATABASE_CLASS: Any = None


class PostgresEngine(ServerEngine):
    name = "postgresql"
    schemes = ("postgresql", "postgres")
    features = PostgresFeatures()
    dialect = PostgresDialect()

    @classmethod
    def unknown_url_parameters(cls, keys: list[str]) -> list[str]:
        # libpq knows its own options: ask it.
        from psycopg2 import ProgrammingError
        from psycopg2.extensions import parse_dsn

        bad = []
        for key in keys:
            try:
                parse_dsn(f"{key}=''")
            except ProgrammingError:
                bad.append(key)
        return bad

    def database_class(self) -> Any:
        global _DATABASE_CLASS
        if _DATABASE_CLASS is None:
            _DATABASE_CLASS = _postgres_class()
        return _DATABASE_CLASS

    @classmethod
    def owns(cls, db: "pw.Database") -> bool:
        import peewee as pw

        return isinstance(db, pw.PostgresqlDatabase)

    @classmethod
    def script_database(cls) -> "pw.Database":
        import peewee as pw

        return pw.PostgresqlDatabase("aura", field_types=cls.dialect.field_types)  # never connected

    def catalog(self, db: "pw.Database") -> "Catalog":
        from aura_db.engines.postgresql.catalog import PostgresCatalog

        return PostgresCatalog(self, db)

    @classmethod
    def backup_class(cls) -> "type[EngineBackup]":
        from aura_db.engines.postgresql.backup import PostgresBackup

        return PostgresBackup

    def bulk_writer(self, db: "pw.Database", quote: Any) -> Any:
        from aura_db.engines.writer import ServerBulkWriter

        return ServerBulkWriter(db, quote)

    url_parameters_hint = "libpq's connection options (e.g. ?sslmode=require), or aura-db's ?schema=NAME"
    # The schema goes to the server as a startup option; a pooler that refuses
    # startup options (PgBouncer) gets none, and the role's own search_path must name it.
    _schema_by_option = True

    @property
    def schema(self) -> str | None:
        """The ``schema`` setting (``?schema=NAME``): where aura-db's tables live, or None (the role's search_path)."""
        value = self.url.params.get("schema")
        return str(value) if value not in (None, "") else None

    def _connect_params(self) -> dict[str, Any]:
        params = dict(self.url.params)
        params.pop("schema", None)  # aura-db's, not libpq's
        # libpq takes whole seconds; aura-db's own wait (_PgConnectWait) keeps
        # to the exact value where it is in charge.
        params["connect_timeout"] = max(1, math.ceil(self.connect_timeout()))
        if self.schema and self._schema_by_option:
            # A startup option, not a session SET: it belongs to this
            # connection from its first statement and never leaks through a
            # pooler into another client's session.  Only the schema is on the
            # path, so nothing lands in "public" by mistake.
            option = "-csearch_path=" + _option_escape(quote_ident(self.schema))
            params["options"] = f"{params['options']} {option}" if params.get("options") else option
        return params

    def open(self, *, create: bool = False) -> "pw.Database":
        from aura_db.errors import DatabaseUnavailable

        try:
            db = super().open(create=create)
        except DatabaseUnavailable as exc:
            if not (self.schema and self._schema_by_option and "unsupported startup parameter" in exc.message):
                raise
            # PgBouncer refuses startup options: connect without, and rely on
            # the role's search_path (set on the server, it holds per server
            # connection), which the check below insists on.
            self._schema_by_option = False
            db = super().open(create=create)
        if self.schema:
            current = db.execute_sql("SELECT current_schema()").fetchone()[0]
            if current != self.schema:
                exists = db.execute_sql("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)",
                                        (self.schema,)).fetchone()[0]
                db.close()
                message, hint = self._schema_refusal(current, bool(exists))
                raise DatabaseUnavailable(message, hint=hint)
        elif self.guard_schema:
            self._refuse_history_elsewhere(db)
        return db

    # Without a schema setting, refuse to work beside aura-db's tables when
    # they are in another schema than this role's search_path gives: a
    # migrate would build a second copy in it (see _refuse_history_elsewhere).
    guard_schema = True

    def _refuse_history_elsewhere(self, db: "pw.Database") -> None:
        from aura_db.errors import UsageError
        from aura_db.tables import HISTORY_TABLE

        current, found = db.execute_sql(
            "SELECT current_schema(), ARRAY(SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relname = %s AND c.relkind IN ('r', 'p') ORDER BY 1)",
            (HISTORY_TABLE,)).fetchone()
        if found and current not in found:
            db.close()
            raise UsageError(
                f"aura-db's tables in {self.url.redacted} are in schema {found[0]!r}, not in "
                f"{current or 'any schema'!r} that this role's search_path gives",
                hint=f"set schema = \"{found[0]}\" (or ?schema={found[0]} in the URL; AURA_DB_SCHEMA), "
                     "or schema = \"public\" to keep a separate copy there")

    def _schema_refusal(self, current: str | None, exists: bool) -> tuple[str, str]:
        where = self.url.redacted
        if not exists:
            return (f"schema {self.schema!r} does not exist in {where}",
                    f"CREATE SCHEMA {quote_ident(self.schema)} (owned by the role aura-db connects as), "
                    "or fix the schema setting")
        if self._schema_by_option and current is None:
            return (f"schema {self.schema!r} in {where} is not usable by this role (no USAGE on it)",
                    f"GRANT USAGE, CREATE ON SCHEMA {quote_ident(self.schema)} TO the role, or fix the schema setting")
        user = self.url.params.get("user") or "ROLE"
        how = ("the server (a pooler such as PgBouncer) refuses the startup option that sets it"
               if not self._schema_by_option else "the startup option that sets it was dropped on the way")
        return (f"schema {self.schema!r} did not take effect on {where}: {how}, and the role's "
                f"search_path gives {current or 'no schema'}",
                f"ALTER ROLE {quote_ident(str(user))} IN DATABASE {quote_ident(str(self.url.params.get('database')))} "
                f"SET search_path = {quote_ident(self.schema)}, then connect again")

    def server_version(self, db: "pw.Database") -> str:
        return db.execute_sql("SHOW server_version").fetchone()[0]

    @contextlib.contextmanager
    def migration_lock(self, db: "pw.Database", timeout: float) -> Iterator[None]:
        # A session-level advisory lock: PostgreSQL releases it when the
        # connection ends, however the process ends.
        key = lock_key(self.url.params.get("database", ""))
        deadline = time.monotonic() + max(timeout, 0)
        while not db.execute_sql("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"another aura-db holds the migration lock on {self.url.redacted}",
                    hint="wait for it to finish, or raise --lock-timeout",
                )
            time.sleep(0.1)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                db.execute_sql("SELECT pg_advisory_unlock(%s)", (key,))


def _option_escape(value: str) -> str:
    """``value`` as one word of libpq's ``options`` (spaces and backslashes escaped)."""
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def _postgres_class() -> Any:
    import peewee as pw

    class PostgresqlDatabase(pw.PostgresqlDatabase):
        """peewee's, connecting so that Ctrl-C interrupts the wait (``_pg_connect``)."""

        def _connect(self) -> Any:
            with _pg_connect(self, float(self.connect_params.get("connect_timeout") or base.DEFAULT_CONNECT_TIMEOUT)):
                return super()._connect()

    return PostgresqlDatabase


_PG_CONNECT_LOCK: Any = None
_PG_WAIT: Any = None  # per thread: the deadline of the connect in progress


@contextlib.contextmanager
def _pg_connect(db: Any, timeout: float) -> Iterator[None]:
    """Let Ctrl-C interrupt a PostgreSQL connect in the main thread.

    libpq's blocking connect retries through signals, so Ctrl-C would take
    effect only when the connect timeout ran out.  With a psycopg2 wait
    callback ("green" mode) Python waits on the socket instead, and SIGINT
    raises KeyboardInterrupt at once.  The callback is process-wide: it is
    installed for the connect only, only in the main thread (the one Python
    delivers signals to) and only when nobody else installed one; other
    threads' connects wait for it (the lock), so none of them connects
    through it.  The connection then runs its queries the ordinary blocking
    way.  libpq ignores connect_timeout in this mode: ``_pg_wait`` keeps to it.
    """
    global _PG_CONNECT_LOCK, _PG_WAIT
    import threading

    import peewee as pw

    if _PG_CONNECT_LOCK is None:
        _PG_CONNECT_LOCK, _PG_WAIT = threading.Lock(), threading.local()
    adapter = getattr(pw, "Psycopg2Adapter", None)
    green = (adapter is not None and isinstance(getattr(db, "_adapter", None), adapter)
             and threading.current_thread() is threading.main_thread())
    with _PG_CONNECT_LOCK:
        if green:
            import psycopg2.extensions as ext

            green = ext.get_wait_callback() is None
        if not green:
            yield
            return
        _PG_WAIT.deadline = time.monotonic() + timeout
        ext.set_wait_callback(_pg_wait)
        try:
            yield
        finally:
            ext.set_wait_callback(None)
            _PG_WAIT.deadline = None


def _pg_wait(conn: Any) -> None:
    """psycopg2's wait callback: wait on the socket, within the connect's deadline."""
    import select

    import psycopg2
    import psycopg2.extensions as ext

    deadline = getattr(_PG_WAIT, "deadline", None)
    while True:
        state = conn.poll()
        if state == ext.POLL_OK:
            return
        wait = None
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise psycopg2.OperationalError("timeout expired")
        fd = conn.fileno()
        if state == ext.POLL_READ:
            select.select([fd], [], [], wait)
        elif state == ext.POLL_WRITE:
            select.select([], [fd], [], wait)
        else:
            raise psycopg2.OperationalError(f"bad state from poll: {state}")
