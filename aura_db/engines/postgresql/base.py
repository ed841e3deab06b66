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
from aura_db.engines.postgresql.dialect import PostgresDialect
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

    def copy_source(self, db: "pw.Database") -> Any:
        from aura_db.engines.postgresql.copy import PostgresCopySource

        return PostgresCopySource(self, db)

    def copy_target(self) -> Any:
        from aura_db.engines.postgresql.copy import PostgresCopyTarget

        return PostgresCopyTarget(self)

    def _connect_params(self) -> dict[str, Any]:
        params = dict(self.url.params)
        # libpq takes whole seconds; aura-db's own wait (_PgConnectWait) keeps
        # to the exact value where it is in charge.
        params["connect_timeout"] = max(1, math.ceil(self.connect_timeout()))
        return params

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
