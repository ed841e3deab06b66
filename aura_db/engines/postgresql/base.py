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

    @classmethod
    def upkeep_class(cls) -> Any:
        from aura_db.engines.postgresql.upkeep import PostgresUpkeep

        return PostgresUpkeep

    def bulk_writer(self, db: "pw.Database", quote: Any) -> Any:
        from aura_db.engines.writer import ServerBulkWriter

        return ServerBulkWriter(db, quote)

    def copy_source(self, db: "pw.Database") -> Any:
        from aura_db.engines.postgresql.copy import PostgresCopySource

        return PostgresCopySource(self, db)

    def copy_target(self) -> Any:
        from aura_db.engines.postgresql.copy import PostgresCopyTarget

        return PostgresCopyTarget(self)
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

    # The pooler's URL, when this engine is the direct_url of a pooled one.
    pooled_by: "Any" = None
    # (pooled?, identity) of this URL, once a run's connection told it.
    _learned: "tuple[bool, tuple[str, str]] | None" = None

    # -- the migration lock ------------------------------------------------
    #
    # A transaction-level advisory lock (pg_advisory_xact_lock), taken as the
    # first statement of every transaction of a run that changes anything:
    # the pre-steps (history tables), each migration's own transaction (which
    # then reads the history again: a migration another run applied
    # meanwhile is skipped, so each is applied exactly once), a restore's.
    #
    # Why not a session lock held for the whole run: behind PgBouncer in
    # transaction pooling the session is the pooler's, not aura-db's; the
    # lock stays with whichever server connection ran the statement, is
    # "released" on another, and leaks to the next client of that backend.
    # Why not a transaction kept open on a second connection for the whole
    # run: through a pool of one server connection it pins the only one, and
    # the run's own statements then wait for ever; an
    # idle_in_transaction_session_timeout would also end it silently
    # mid-run.  A transaction-level lock lives exactly as long as the
    # transaction, on the one server connection that runs it, in every
    # pooling mode, and PostgreSQL drops it with the transaction when the
    # client dies (SIGKILL included): nothing is ever left behind.
    def read_role(self, reader: "base.Reader") -> base.Role:
        # transaction_read_only is what this session gets: on for a standby,
        # and where default_transaction_read_only is set (server, database or role).
        recovering, ro = reader.rows("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")[0]
        if recovering:
            return base.Role(base.STANDBY, "in recovery", self._primary_of_standby(reader))
        if str(ro).lower() == "on":
            return base.Role(base.READ_ONLY, "sessions are read-only (default_transaction_read_only)")
        return base.Role()

    def _primary_of_standby(self, reader: "base.Reader") -> str | None:
        """Where the standby streams from: "host:port" (never a password), None when it cannot tell.

        ``pg_stat_wal_receiver`` shows sender_host/port to superusers and
        pg_read_all_stats; else ``primary_conninfo`` (superuser-only: NULL
        for others).  Only its host and port are read.
        """
        rows = reader.rows("SELECT sender_host, sender_port FROM pg_stat_wal_receiver")
        if rows and rows[0][0]:
            host, port = rows[0]
            return f"{host}:{port}" if port else str(host)
        rows = reader.rows("SELECT setting FROM pg_settings WHERE name = 'primary_conninfo'")
        if rows and rows[0][0]:
            from psycopg2 import ProgrammingError
            from psycopg2.extensions import parse_dsn

            try:
                info = parse_dsn(rows[0][0])
            except ProgrammingError:
                return None
            host = info.get("host") or info.get("hostaddr")
            if host:
                return f"{host}:{info.get('port') or self.dialect.default_port}"
        return None

    def identity(self, reader: "base.Reader | None" = None) -> str | None:
        # Once a run's connection told it (``_take_lock``), no other is
        # opened: behind a pooler of one server connection a second one would
        # wait for the one the run's transaction holds (a safety backup asks
        # for the identity inside that transaction).
        if reader is None and self._learned is not None:
            return _identity_text(*self._learned[1])
        return super().identity(reader)

    def read_identity(self, reader: "base.Reader") -> str | None:
        # pg_control_system() names the cluster (a standby made by
        # pg_basebackup has its primary's identifier); it may be revoked
        # from ordinary roles: then the address is all there is.
        system, database = reader.rows(_IDENTITY_SQL)[0]
        return _identity_text(str(system) if system else "?", str(database))

    @contextlib.contextmanager
    def migration_lock(self, db: "pw.Database", timeout: float) -> Iterator[None]:
        previous = getattr(db, "_aura_lock_timeout", None)
        db._aura_lock_timeout = max(timeout, 0.0)
        try:
            yield
        finally:
            db._aura_lock_timeout = previous

    @contextlib.contextmanager
    def locked(self, db: "pw.Database") -> Iterator[None]:
        with db.atomic():
            self._take_lock(db)
            yield

    @contextlib.contextmanager
    def migration_transaction(self, db: "pw.Database") -> Iterator[None]:
        with db.atomic():
            self._take_lock(db)
            yield

    def lock_key(self, db: "pw.Database") -> int:
        """The advisory lock's key: the database as the server names it (a pooler's alias may differ)."""
        key = getattr(db, "_aura_lock_key", None)
        if key is None:
            key = lock_key(db.execute_sql("SELECT current_database()").fetchone()[0])
            db._aura_lock_key = key
        return key

    def _take_lock(self, db: "pw.Database") -> None:
        timeout = getattr(db, "_aura_lock_timeout", None)
        if timeout is None:  # not a run under migration_lock (a dry run's rolled-back transaction)
            return
        key = self.lock_key(db)
        if self._learned is None:
            # What the backup needs to know, learned on the run's own
            # connection: a safety backup taken inside this transaction must
            # not need a second pooled connection (with a pool of one, it
            # would wait for the one this transaction holds).
            self._learned = (self.behind_pooler(db), _identity(db))
        deadline = time.monotonic() + timeout
        while not db.execute_sql("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchone()[0]:
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"another aura-db holds the migration lock on {self.url.redacted}{self._holder(db, key)}",
                    hint="wait for it to finish, or raise --lock-timeout",
                )
            time.sleep(0.1)
        # A client killed while its statement runs: the server notices only
        # when it next writes to the socket, and the lock lives on until
        # then.  PostgreSQL 14+ can look every second instead (Linux); SET
        # LOCAL, so nothing outlives the transaction on a pooled connection.
        db.execute_sql("SELECT CASE WHEN current_setting('server_version_num')::int >= 140000 "
                       "THEN set_config('client_connection_check_interval', '1000', true) END")

    @staticmethod
    def _holder(db: "pw.Database", key: int) -> str:
        """Who holds the lock, as pg_stat_activity shows it (empty when that cannot be read)."""
        try:
            row = db.execute_sql(
                "SELECT a.pid, coalesce(a.client_addr::text, 'local'), coalesce(a.application_name, '') "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.classid = (%s >> 32)::bigint::oid AND l.objid = (%s & 4294967295)::bigint::oid "
                "AND l.objsubid = 1 LIMIT 1", (key, key)).fetchone()
        except Exception:  # noqa: BLE001 - only a courtesy in the message
            return ""
        if not row:
            return ""
        pid, client, app = row
        return f" (server pid {pid}, client {client}" + (f", {app}" if app else "") + ")"

    def connection_lost(self, exc: BaseException) -> bool:
        import psycopg2

        for e in base.error_chain(exc):
            if isinstance(e, psycopg2.InterfaceError):  # "connection already closed"
                return True
            if isinstance(e, psycopg2.OperationalError):
                code = getattr(e, "pgcode", None)
                # No SQLSTATE: libpq's own "server closed the connection
                # unexpectedly"; 08xxx: connection exceptions; 57P01-57P03:
                # terminated by an administrator (pg_terminate_backend), a
                # shutdown, or a crash of the server.
                if code is None or code.startswith("08") or code in ("57P01", "57P02", "57P03"):
                    return True
        return False

    # -- connection poolers ---------------------------------------------------
    def behind_pooler(self, db: "pw.Database") -> bool:
        """Whether ``db`` reaches PostgreSQL through a connection pooler (PgBouncer and its kind).

        A pooler answers the client's start-up itself and hands it its own
        cancel key: the backend pid libpq was told differs from the pid of
        the server process running the query.  (A port-forward or a NAT does
        not touch the protocol: the two agree there.)
        """
        told = db.connection().get_backend_pid()
        real = db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        return told != real

    def dump_engine(self) -> "PostgresEngine":
        """The engine pg_dump, pg_restore and psql reach this database through.

        Session state set by pg_dump (search_path, statement_timeout ...) or by
        a restore script would stay on a pooled server connection and reach
        the next client, and a snapshot transaction may hold the only pooled
        connection pg_dump needs: behind a pooler the backup goes straight to
        the server (``direct_url``), or is refused.
        """
        from aura_db.errors import BehindPooler, DatabaseUnavailable

        if self.direct_url is not None:
            direct = PostgresEngine(self.direct_url)
            self._check_direct(direct)
            direct.pooled_by = self.url  # the pooler's idle server connections show on the server
            return direct
        if self._learned is not None:
            pooled = self._learned[0]
        else:
            try:
                db = self.open()
            except DatabaseUnavailable:
                return self  # the backup's own checks say so, in their words
            try:
                pooled = self.behind_pooler(db)
            finally:
                db.close()
        if pooled:
            raise BehindPooler(
                f"{self.url.redacted} goes through a connection pooler (PgBouncer or the like): pg_dump and "
                f"pg_restore must reach PostgreSQL directly; nothing was changed",
                hint="set direct_url (or AURA_DB_DIRECT_URL) to the server's own address, "
                     "e.g. postgresql://user@db-host:5432/dbname (docs/engines.md)")
        return self

    def _check_direct(self, direct: "PostgresEngine") -> None:
        """``direct`` reaches the same database as this URL, and without a pooler."""
        from aura_db.errors import BehindPooler, DatabaseUnavailable, UsageError

        try:
            ddb = direct.open()
        except DatabaseUnavailable as exc:
            raise DatabaseUnavailable(f"direct_url: {exc.message}", hint=exc.hint) from None
        try:
            if direct.behind_pooler(ddb):
                raise BehindPooler(f"direct_url {direct.url.redacted} goes through a connection pooler too",
                                   hint="give direct_url the PostgreSQL server's own host and port")
            theirs = _identity(ddb)
        finally:
            ddb.close()
        if self._learned is not None:
            ours = self._learned[1]
        else:
            try:
                db = self.open()
            except DatabaseUnavailable:
                return
            try:
                ours = _identity(db)
            finally:
                db.close()
        if ours[1] != theirs[1] or "?" not in (ours[0], theirs[0]) and ours[0] != theirs[0]:
            raise UsageError(
                f"direct_url {direct.url.redacted} is not the database {self.url.redacted} reaches "
                f"({theirs[1]} on server {theirs[0]}, not {ours[1]} on server {ours[0]})",
                hint="point direct_url at the server and database behind the pooler")

    def backup(self) -> "EngineBackup":
        from aura_db.errors import BehindPooler

        try:
            return self.backup_class()(self.dump_engine())
        except BehindPooler as exc:
            refused = self.backup_class()(self)
            refused.refusal = exc  # type: ignore[attr-defined] - a backup file can still be checked
            return refused


# The cluster's system identifier (NULL where the role may not run
# pg_control_system(), e.g. on a managed server) and the database's name.
_IDENTITY_SQL = ("SELECT CASE WHEN has_function_privilege('pg_control_system()', 'EXECUTE') "
                 "THEN (SELECT system_identifier::text FROM pg_control_system()) END, current_database()")


def _identity(db: "pw.Database") -> tuple[str, str]:
    """(the cluster's system identifier, the database's name), as the server says; "?" for an unknown identifier."""
    system, name = db.execute_sql(_IDENTITY_SQL).fetchone()
    return (str(system) if system else "?"), str(name)


def _option_escape(value: str) -> str:
    """``value`` as one word of libpq's ``options`` (spaces and backslashes escaped)."""
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def _identity_text(system: str, database: str) -> str | None:
    """``Engine.identity``'s text for (system identifier, database name); None for an unknown identifier."""
    if system == "?":
        return None
    return f"postgresql-system={system} database={database}"


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
