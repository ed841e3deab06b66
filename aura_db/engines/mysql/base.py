"""MySQL/MariaDB: connection (the connect timeout bounds the handshake), GET_LOCK migration lock.

DDL commits as it goes (``features.transactional_ddl`` is False).  The engine
names its parts: ``features`` (features.py), ``dialect`` (dialect.py), its
catalog, backup (backup.py) and bulk writer.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator

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

    def bulk_writer(self, db: "pw.Database", quote: Any) -> Any:
        from aura_db.engines.writer import ServerBulkWriter

        return ServerBulkWriter(db, quote)

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

    @contextlib.contextmanager
    def migration_lock(self, db: "pw.Database", timeout: float) -> Iterator[None]:
        name = f"aura-db:{self.url.params.get('database', '')}"[:64]
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
