"""MySQL/MariaDB: connection (the connect timeout bounds the handshake), GET_LOCK migration lock.

DDL commits as it goes (``features.transactional_ddl`` is False).  The engine
names its parts: ``features`` (features.py), ``dialect`` (dialect.py), its
catalog, backup (backup.py) and bulk writer.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator

from aura_db.engines import base
from aura_db.engines.mysql.dialect import SESSION_SQL_MODE, MysqlDialect, strict_sql_mode
from aura_db.engines.mysql.features import MysqlFeatures
from aura_db.engines.server import ServerEngine
from aura_db.errors import LockTimeout, UsageError

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.backup.engine import EngineBackup
    from aura_db.catalog import Catalog

_DATABASE_CLASS: Any = None

class MysqlEngine(ServerEngine):
    name = "mysql"
    schemes = ("mysql", "mariadb")
    features = MysqlFeatures()
    dialect = MysqlDialect()

    @classmethod
    def driver_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        if "passwd" in params:
            params["password"] = params.pop("passwd")
        return params

    @classmethod
    def unknown_url_parameters(cls, keys: list[str]) -> list[str]:
        import inspect

        import pymysql

        known = set(inspect.signature(pymysql.connections.Connection.__init__).parameters) - {"self"}
        return [k for k in keys if k not in known]

    def database_class(self) -> Any:
        global _DATABASE_CLASS
        if _DATABASE_CLASS is None:
            _DATABASE_CLASS = _mysql_class()
        return _DATABASE_CLASS

    @classmethod
    def owns(cls, db: "pw.Database") -> bool:
        import peewee as pw

        return isinstance(db, pw.MySQLDatabase)

    @classmethod
    def script_database(cls) -> "pw.Database":
        import peewee as pw

        return pw.MySQLDatabase("aura", field_types=cls.dialect.field_types)  # never connected

    def catalog(self, db: "pw.Database") -> "Catalog":
        from aura_db.engines.mysql.catalog import MysqlCatalog

        return MysqlCatalog(self, db)

    @classmethod
    def backup_class(cls) -> "type[EngineBackup]":
        from aura_db.engines.mysql.backup import MysqlBackup

        return MysqlBackup

    @classmethod
    def upkeep_class(cls) -> Any:
        from aura_db.engines.mysql.upkeep import MysqlUpkeep

        return MysqlUpkeep

    def bulk_writer(self, db: "pw.Database", quote: Any) -> Any:
        from aura_db.engines.writer import ServerBulkWriter

        return ServerBulkWriter(db, quote)

    def copy_source(self, db: "pw.Database") -> Any:
        from aura_db.engines.mysql.copy import MysqlCopySource

        return MysqlCopySource(self, db)

    def copy_target(self) -> Any:
        from aura_db.engines.mysql.copy import MysqlCopyTarget

        return MysqlCopyTarget(self)

    def _connect_params(self) -> dict[str, Any]:
        params = dict(self.url.params)
        charset = str(params.setdefault("charset", "utf8mb4"))
        if charset.lower() != "utf8mb4":
            raise UsageError(f"charset={charset} in {self.url.redacted}: aura-db talks to MySQL in utf8mb4 only",
                             hint="leave ?charset= out (utf8mb4: emoji and every script fit)")
        # aura-db's own session is strict whatever the server's global
        # sql_mode says: an over-long value is refused, never truncated.
        mode = str(params.setdefault("sql_mode", SESSION_SQL_MODE))
        if not strict_sql_mode(mode):
            raise UsageError(f"sql_mode={mode} in {self.url.redacted} is not strict",
                             hint=f"leave ?sql_mode= out (aura-db uses {SESSION_SQL_MODE})")
        params["connect_timeout"] = self.connect_timeout()
        return params

    def server_version(self, db: "pw.Database") -> str:
        return db.execute_sql("SELECT VERSION()").fetchone()[0]

    # -- the migration lock ------------------------------------------------
    #
    # A single server: GET_LOCK, which the server releases the moment the
    # connection ends (SIGKILL included), so a killed run never blocks the
    # next one, wherever it ran, and no table is needed.  A Galera cluster
    # (wsrep_on): GET_LOCK is local to one node, so two runs on two nodes
    # would both hold it; there the lock is a lease row whose taking is a
    # certified write (aura_db/engines/mysql/lease.py).  The lease is used
    # only where it is needed: after a SIGKILL on another machine it holds
    # until it expires, which GET_LOCK never makes anyone wait for.
    def galera(self, db: "pw.Database") -> bool:
        """Whether ``db`` is a node of a Galera cluster (wsrep replication switched on)."""
        row = db.execute_sql("SHOW VARIABLES LIKE 'wsrep_on'").fetchone()
        return bool(row) and str(row[1]).upper() == "ON"
    def read_role(self, reader: "base.Reader") -> base.Role:
        # read_only / super_read_only are the server's (a replica is set so);
        # tx_read_only (MariaDB) / transaction_read_only (MySQL) this session's.
        flags = {str(k).lower(): str(v).upper() in ("ON", "1") for k, v in reader.rows(
            "SHOW VARIABLES WHERE Variable_name IN "
            "('read_only', 'super_read_only', 'tx_read_only', 'transaction_read_only')")}
        server = [k for k in ("super_read_only", "read_only") if flags.get(k)]
        if server:
            source = self._replication_source(reader)
            if source:
                return base.Role(base.STANDBY, f"replica ({server[0]} is on)", source)
            return base.Role(base.READ_ONLY, f"the server is read-only ({server[0]} is on)")
        if flags.get("transaction_read_only") or flags.get("tx_read_only"):
            return base.Role(base.READ_ONLY, "sessions are read-only (transaction_read_only)")
        return base.Role()

    def _replication_source(self, reader: "base.Reader") -> str | None:
        """The server a replica copies from ("host:port"), when this user may ask; else None."""
        db = getattr(reader, "db", None)
        if db is None:
            return None
        for sql in ("SHOW REPLICA STATUS", "SHOW SLAVE STATUS"):
            try:
                cur = db.execute_sql(sql)
            except Exception:  # noqa: BLE001 - an older server, or no REPLICATION CLIENT privilege
                continue
            row = cur.fetchone()
            if row is None:
                return None
            got = {d[0]: v for d, v in zip(cur.description, row)}
            host = got.get("Source_Host") or got.get("Master_Host")
            port = got.get("Source_Port") or got.get("Master_Port")
            return f"{host}:{port}" if host else None
        return None

    def read_identity(self, reader: "base.Reader") -> str | None:
        # A Galera cluster shares one state UUID across its nodes; a MySQL
        # server has its own server_uuid (MariaDB has none: its address is
        # then all there is).
        rows = reader.rows("SHOW STATUS LIKE 'wsrep_cluster_state_uuid'")
        database = reader.rows("SELECT DATABASE()")[0][0]
        if rows and rows[0][1] and rows[0][1].strip("0-"):
            return f"galera-cluster={rows[0][1]} database={database}"
        rows = reader.rows("SHOW VARIABLES LIKE 'server_uuid'")
        if rows and rows[0][1]:
            return f"mysql-server={rows[0][1]} database={database}"
        return None

    @contextlib.contextmanager
    def migration_lock(self, db: "pw.Database", timeout: float) -> Iterator[None]:
        if self.galera(db):
            from aura_db.engines.mysql.lease import Lease

            lease = Lease(self, timeout)
            lease.acquire()
            db._aura_lease = lease
            # Reads wait until this node has applied every write the cluster
            # committed before them: the history read next is the cluster's.
            with contextlib.suppress(Exception):
                db.execute_sql("SET SESSION wsrep_sync_wait = 1")
            try:
                yield
            finally:
                db._aura_lease = None
                lease.release()
            return
        database = db.execute_sql("SELECT DATABASE()").fetchone()[0] or self.url.params.get("database", "")
        name = f"aura-db:{database}"[:64]
        got = db.execute_sql("SELECT GET_LOCK(%s, %s)", (name, max(int(timeout), 0))).fetchone()[0]
        if got != 1:
            raise LockTimeout(
                f"another aura-db holds the migration lock on {self.url.redacted}",
                hint="wait for it to finish, or raise --lock-timeout",
            )
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                db.execute_sql("SELECT RELEASE_LOCK(%s)", (name,))

    @contextlib.contextmanager
    def locked(self, db: "pw.Database") -> Iterator[None]:
        self._check_lease(db)
        yield

    @contextlib.contextmanager
    def migration_transaction(self, db: "pw.Database") -> Iterator[None]:
        self._check_lease(db)  # a run whose lease was taken over stops before its next step
        with db.atomic():
            yield

    @staticmethod
    def _check_lease(db: "pw.Database") -> None:
        lease = getattr(db, "_aura_lease", None)
        if lease is not None:
            lease.check()

    # Client-side codes of a connection that is gone: 2006 server has gone
    # away, 2013 lost connection during query, 2055 lost connection (MySQL 8),
    # 0 (PyMySQL on a socket the server closed), and the server's own words
    # for a killed or shut-down connection: 1927 connection killed (MariaDB),
    # 1053 server shutdown in progress, 4031 disconnected for inactivity.
    LOST_CONNECTION_CODES = (0, 2006, 2013, 2055, 1927, 1053, 4031)

    def connection_lost(self, exc: BaseException) -> bool:
        import pymysql

        for e in base.error_chain(exc):
            if isinstance(e, pymysql.err.InterfaceError):
                return True
            if isinstance(e, pymysql.err.OperationalError) and e.args and e.args[0] in self.LOST_CONNECTION_CODES:
                return True
        return False


def _mysql_class() -> Any:
    import peewee as pw

    class MySQLDatabase(pw.MySQLDatabase):
        """peewee's, with the connect timeout bounding the whole handshake.

        PyMySQL's ``connect_timeout`` covers the TCP connect only: a server
        that accepts and never sends its greeting is waited on for ever.
        During the connect, reads and writes get the same limit; afterwards
        they go back to what the URL says (none by default: a migration's
        statement may rightly run for long).
        """

        def _connect(self) -> Any:
            driver = pw.mysql
            limit = self.connect_params.get("connect_timeout")
            if getattr(driver, "__name__", "") != "pymysql" or not limit:
                return super()._connect()
            params = dict(self.connect_params)
            read, write = params.get("read_timeout"), params.get("write_timeout")
            params["read_timeout"], params["write_timeout"] = read or limit, write or limit
            conn = driver.connect(database=self.database, autocommit=True, **params)
            if hasattr(conn, "_read_timeout") and hasattr(conn, "_write_timeout"):
                conn._read_timeout, conn._write_timeout = read, write  # applied at the next read/write
            return conn

    return MySQLDatabase
