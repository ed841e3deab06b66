"""SQLite: a file.  Connection, the migration lock beside the file, and the probe that reads before it writes.

The engine names its parts: ``features`` (features.py), ``dialect``
(dialect.py), its catalog, backup (backup.py, restore.py) and bulk writer.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import parse_qsl, unquote, urlsplit

from aura_db.engines.base import READ_ONLY, Engine, Reader, Role
from aura_db.engines.sqlite.dialect import SqliteDialect
from aura_db.engines.sqlite.features import SqliteFeatures
from aura_db.engines.sqlite.probe import damaged_message, probe_sqlite_file, unreadable_sqlite
from aura_db.engines.url import DatabaseURL, query_value, redact
from aura_db.errors import AuraError, DatabaseUnavailable, LockTimeout, UsageError

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.backup.engine import EngineBackup
    from aura_db.catalog import Catalog

# What the SQLite driver (and aura-db's own ``timeout``) takes from a query string.
URL_PARAMETERS = {"timeout", "detect_types", "isolation_level", "check_same_thread", "cached_statements", "uri"}


class SqliteEngine(Engine):
    name = "sqlite"
    schemes = ("sqlite",)
    features = SqliteFeatures()
    dialect = SqliteDialect()
    url_parameters_hint = f"SQLite takes {', '.join(sorted(URL_PARAMETERS))}"

    @classmethod
    def parse_url(cls, url: str, cwd: Path) -> DatabaseURL:
        # Parsed here rather than by playhouse.db_url, whose import (with its
        # connection pools) costs more than `aura-db status` on SQLite otherwise
        # spends on the query.  Same rules: three slashes, then the path.
        parts = urlsplit(url)
        if parts.netloc:
            raise UsageError(
                f"{redact(url)}: a SQLite URL takes three slashes before a relative path",
                hint=f"sqlite:///{parts.netloc}{parts.path}",
            )
        params: dict[str, Any] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            params[key] = query_value(value)
        name = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        if not name or name == ":memory:":
            return DatabaseURL(raw=url, engine="sqlite", path=None, params=params)
        return DatabaseURL(raw=url, engine="sqlite", path=str((cwd / name).resolve()), params=params)

    @classmethod
    def path_url(cls, path: str, cwd: Path) -> DatabaseURL:
        """A plain path (no scheme): a SQLite file."""
        return DatabaseURL(raw=path, engine="sqlite", path=str((cwd / path).resolve()))

    @classmethod
    def unknown_url_parameters(cls, keys: list[str]) -> list[str]:
        return [k for k in keys if k not in URL_PARAMETERS]

    @classmethod
    def owns(cls, db: "pw.Database") -> bool:
        import peewee as pw

        return isinstance(db, pw.SqliteDatabase)

    @classmethod
    def script_database(cls) -> "pw.Database":
        import peewee as pw

        # In memory, foreign keys off as migrate has them during a migration:
        # a table rebuild must not cascade.
        return pw.SqliteDatabase(":memory:", field_types=cls.dialect.field_types, pragmas={"foreign_keys": 0})

    def catalog(self, db: "pw.Database") -> "Catalog":
        from aura_db.engines.sqlite.catalog import SqliteCatalog

        return SqliteCatalog(self, db)

    @classmethod
    def backup_class(cls) -> "type[EngineBackup]":
        from aura_db.engines.sqlite.backup import SqliteBackup

        return SqliteBackup

    @classmethod
    def upkeep_class(cls) -> Any:
        from aura_db.engines.sqlite.upkeep import SqliteUpkeep

        return SqliteUpkeep

    def bulk_writer(self, db: "pw.Database", quote: Any) -> Any:
        from aura_db.engines.sqlite.writer import SqliteBulkWriter

        return SqliteBulkWriter(db, quote)

    def copy_source(self, db: "pw.Database") -> Any:
        from aura_db.engines.sqlite.copy import SqliteCopySource

        return SqliteCopySource(self, db)

    def copy_target(self) -> Any:
        from aura_db.engines.sqlite.copy import SqliteCopyTarget

        return SqliteCopyTarget(self)

    def describe(self) -> str:
        return self.url.path or ":memory:"

    def exists(self) -> bool:
        return self.url.path is None or os.path.isfile(self.url.path)

    def _check_path(self, *, create: bool) -> None:
        path = self.url.path
        if path is not None:
            if not os.path.exists(path):
                if not create:
                    raise DatabaseUnavailable(
                        f"database {path} does not exist",
                        hint="run `aura-db migrate` to create it, or pass --db",
                    )
                parent = os.path.dirname(path)
                if not os.path.isdir(parent):
                    raise DatabaseUnavailable(f"cannot create {path}: folder {parent} does not exist")
            elif os.path.isdir(path):
                raise DatabaseUnavailable(f"{path} is a folder, not a SQLite database")

    def _unreadable(self, exc: Exception) -> DatabaseUnavailable:
        """What failing to read the schema means: not a database, or not openable."""
        path, msg = self.url.path, str(exc)
        if damaged_message(msg):
            return unreadable_sqlite(path, msg)
        return DatabaseUnavailable(f"cannot open {path}: {msg}")

    def probe(self) -> None:
        """Refuse, before any read-write connection, a file SQLite cannot read.

        SQLite deletes the ``-wal`` (and a hot ``-journal``) beside a file it
        cannot read when a read-write connection to it closes: the commits
        that live only there would be lost by merely looking.  So the header
        is read by hand first, then the schema through a read-only
        connection, which never removes a side file; only a file that passes
        both is opened read-write.  Raises DatabaseUnavailable (exit 4)
        naming the side files and what they hold.
        """
        if self.url.path is not None and os.path.isfile(self.url.path):
            probe_sqlite_file(self.url.path)

    def reader(self) -> "Reader":
        # The sqlite3 module, not peewee: importing peewee is most of what a
        # `status` on SQLite would otherwise cost.  Only for the URL options
        # both understand (timeout); anything else goes through peewee.
        params = dict(self.url.params)
        timeout = float(params.pop("timeout", 10))
        if params or self.url.path is None:
            return super().reader()
        import sqlite3

        self._check_path(create=False)
        self.probe()
        conn = sqlite3.connect(self.url.path, timeout=timeout)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._unreadable(exc) from None
        return SqliteReader(conn)

    def open(self, *, create: bool = False) -> "pw.Database":
        import peewee as pw

        path = self.url.path
        self._check_path(create=create)
        self.probe()
        params = dict(self.url.params)
        timeout = float(params.pop("timeout", 10))
        db = pw.SqliteDatabase(
            path or ":memory:",
            pragmas={"foreign_keys": 1, "busy_timeout": int(timeout * 1000)},
            field_types=self.dialect.field_types,
            timeout=timeout,
            **params,
        )
        try:
            db.connect()
            # Reading the schema is what fails on a file that is not a database.
            db.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()
        except pw.DatabaseError as exc:
            db.close()
            raise self._unreadable(exc) from None
        return db

    def server_version(self, db: "pw.Database") -> str:
        return db.execute_sql("SELECT sqlite_version()").fetchone()[0]

    def role(self, reader: "Reader | None" = None) -> Role:
        """A read-only file or folder (no connection needed): SQLite writes the file and, beside
        it, its journal or WAL; a file that does not exist yet is made in its folder."""
        path = self.url.path
        if path is None:
            return Role()
        folder = os.path.dirname(path)
        with contextlib.suppress(OSError, AttributeError):
            if os.statvfs(folder if os.path.isdir(folder) else "/").f_flag & os.ST_RDONLY:
                return Role(READ_ONLY, "its file system is mounted read-only")
        if os.path.exists(path):
            if not os.access(path, os.W_OK):
                return Role(READ_ONLY, "the file is read-only (permissions, or immutable)")
        if os.path.isdir(folder) and not os.access(folder, os.W_OK | os.X_OK):
            return Role(READ_ONLY, f"its folder {folder} is read-only (SQLite writes its journal there)")
        return Role()

    def identity(self, reader: "Reader | None" = None) -> str | None:
        # A file is what it is where it is: its path (the manifest's source) names it.
        return None

    def lock_path(self) -> str | None:
        if self.url.path is None:
            return None
        head, tail = os.path.split(self.url.path)
        return os.path.join(head, f".{tail}.migrate-lock")

    @contextlib.contextmanager
    def migration_lock(self, db: "pw.Database", timeout: float) -> Iterator[None]:
        # An OS-level lock on a hidden file beside the database: the kernel
        # drops it when the process dies, even by SIGKILL, so a crashed run
        # never blocks the next one.  The file itself is left in place:
        # unlinking it would race with a process about to lock it.
        import fcntl

        path = self.lock_path()
        if path is None:
            yield
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + max(timeout, 0)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        holder = read_lock_holder(fd)
                        raise LockTimeout(
                            f"another aura-db holds the migration lock on {self.url.path}{holder}",
                            hint="wait for it to finish, or raise --lock-timeout",
                        ) from None
                    time.sleep(0.05)
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode())
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    @contextlib.contextmanager
    def migration_transaction(self, db: "pw.Database") -> Iterator[None]:
        # SQLite ignores PRAGMA foreign_keys inside a transaction, so switch
        # enforcement off *before* BEGIN.  Otherwise rebuilding a parent table
        # (how SQLite alters tables) drops it and cascades into every child.
        if db.in_transaction():
            raise AuraError("internal error: migration transaction opened inside another")
        enabled = bool(db.execute_sql("PRAGMA foreign_keys").fetchone()[0])
        db.execute_sql("PRAGMA foreign_keys = OFF")
        try:
            with db.atomic():
                yield
                violations = self.foreign_key_violations(db)
                if violations:
                    raise AuraError("foreign key check failed: " + "; ".join(violations[:5]))
        finally:
            if enabled:
                db.execute_sql("PRAGMA foreign_keys = ON")

    def foreign_key_violations(self, db: "pw.Database") -> list[str]:
        rows = db.execute_sql("PRAGMA foreign_key_check").fetchall()
        counts: dict[tuple[str, str], int] = {}
        for table, _rowid, parent, _fkid in rows:
            counts[(table, parent)] = counts.get((table, parent), 0) + 1
        return [f"{n} row(s) of {t} point at missing {p}" for (t, p), n in counts.items()]


def read_lock_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        return ""
    return f" ({text})" if text else ""


class SqliteReader(Reader):
    def __init__(self, conn: Any):
        self.conn = conn

    def server_version(self) -> str:
        return self.conn.execute("SELECT sqlite_version()").fetchone()[0]

    def tables(self) -> list[str]:
        # What peewee's SqliteDatabase.get_tables() lists, less SQLite's own
        # tables (sqlite_sequence, kept for the AUTOINCREMENT keys), as the catalog does.
        return [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql).fetchall()

    def close(self) -> None:
        self.conn.close()
