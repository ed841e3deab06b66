"""Database URLs, connections and every difference between engines.

``parse_url`` turns what the user typed (``--db``) into a ``DatabaseURL``;
``engine_for`` gives the ``Engine`` that knows how to open it, lock it for a
migration run and wrap a migration in the transaction that engine honours.
Nothing outside this module branches on the engine's name for those things.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from aura_db.errors import AuraError, DatabaseUnavailable, LockTimeout, UsageError

if TYPE_CHECKING:  # peewee is imported lazily: `aura-db --help` does not need it
    import peewee as pw

SCHEMES = {
    "sqlite": "sqlite",
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}

# Column types of aura_db.fields, per engine: native types where the engine has them.
FIELD_TYPES = {
    "sqlite": {"GUID": "TEXT", "JSON": "TEXT", "LONGTEXT": "TEXT", "STRING": "TEXT",
               "TIMESTAMP_TEXT": "TEXT", "DECIMAL": "decimal", "DECIMAL_TEXT": "TEXT"},
    "postgresql": {"GUID": "UUID", "JSON": "JSONB", "LONGTEXT": "TEXT", "STRING": "VARCHAR",
                   "STRING_UNBOUNDED": "TEXT", "STRING_KEY": "TEXT", "TIMESTAMP_TEXT": "TIMESTAMP",
                   "DECIMAL_TEXT": "NUMERIC"},
    "mysql": {"GUID": "CHAR(36)", "JSON": "LONGTEXT", "LONGTEXT": "LONGTEXT", "DATETIME": "DATETIME(6)",
              "STRING": "VARCHAR", "STRING_UNBOUNDED": "LONGTEXT", "STRING_KEY": "VARCHAR(255)",
              "TIMESTAMP_TEXT": "DATETIME(6)", "DECIMAL": "DECIMAL", "DECIMAL_TEXT": "DECIMAL(38,18)"},
}


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL.  ``str()`` never shows the password."""

    raw: str
    engine: str  # sqlite | postgresql | mysql
    path: str | None = None  # SQLite file, absolute; None for :memory:
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def redacted(self) -> str:
        return redact(self.raw)

    def __str__(self) -> str:
        return self.redacted

    def __repr__(self) -> str:
        return f"DatabaseURL({self.redacted!r})"


_SECRET_PARAM = re.compile(r"([?&](?:password|passwd|pwd)=)[^&#]*", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``.

    Both places a password can hide are masked: the netloc (``user:pw@``) and
    the query string (``?password=``), which playhouse passes to the driver.
    """
    url = _SECRET_PARAM.sub(r"\1***", url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}"
    with contextlib.suppress(ValueError):
        if parts.port:
            netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_url(url: str, *, cwd: Path | None = None) -> DatabaseURL:
    """Parse ``--db``: a ``playhouse.db_url`` URL or a plain path (SQLite)."""
    url = (url or "").strip()
    if not url:
        raise UsageError("empty database URL", hint="pass --db URL or set AURA_DB_URL")
    cwd = cwd or Path.cwd()
    if "://" not in url:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", url) and not re.match(r"^[A-Za-z]:[\\/]", url):
            raise UsageError(
                f"unknown database URL {redact(url)!r}",
                hint="use sqlite:///path, postgresql://user@host/db, mysql://user@host/db or a file path",
            )
        return DatabaseURL(raw=url, engine="sqlite", path=str((cwd / url).resolve()))
    scheme = url.split("://", 1)[0].lower()
    base = scheme.split("+", 1)[0]
    engine = SCHEMES.get(base)
    if engine is None:
        raise UsageError(
            f"unknown URL scheme {scheme!r} in {redact(url)}",
            hint="supported: sqlite, postgresql (postgres), mysql (mariadb)",
        )
    if engine == "sqlite":
        return _parse_sqlite_url(url, cwd)
    from playhouse.db_url import parse as _parse

    try:
        params = _parse(url, unquote_password=True, unquote_user=True)
    except ValueError as exc:
        raise UsageError(f"bad database URL {redact(url)}: {exc}") from None
    if not params.get("database"):
        raise UsageError(f"{redact(url)} names no database", hint=f"{scheme}://user@host:port/DBNAME")
    if engine == "mysql" and "passwd" in params:
        params["password"] = params.pop("passwd")
    return DatabaseURL(raw=url, engine=engine, params=params)


def _parse_sqlite_url(url: str, cwd: Path) -> DatabaseURL:
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
        params[key] = _query_value(value)
    name = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
    if not name or name == ":memory:":
        return DatabaseURL(raw=url, engine="sqlite", path=None, params=params)
    return DatabaseURL(raw=url, engine="sqlite", path=str((cwd / name).resolve()), params=params)


def _query_value(value: str) -> Any:
    """Query-string values typed as playhouse.db_url types them."""
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if value.isdigit():
        return int(value)
    if re.fullmatch(r"\d+\.\d+", value):
        return float(value)
    if low in ("null", "none"):
        return None
    return value


class Engine:
    """What aura-db needs to know about one kind of database."""

    name = "?"
    transactional_ddl = True

    def __init__(self, url: DatabaseURL):
        self.url = url

    # -- connections -------------------------------------------------------
    def exists(self) -> bool:
        raise NotImplementedError

    def open(self, *, create: bool = False) -> "pw.Database":
        """Connect.  Raises DatabaseUnavailable when it cannot (exit 4)."""
        raise NotImplementedError

    def server_version(self, db: "pw.Database") -> str:
        raise NotImplementedError

    def reader(self) -> "Reader":
        """A read-only connection for questions that need no ORM (``status``).

        Raises DatabaseUnavailable, as ``open`` does, when it cannot connect.
        """
        return _PeeweeReader(self, self.open(create=False))

    def describe(self) -> str:
        """Where the database is, for humans: a path or a redacted URL."""
        return self.url.redacted

    def scrub(self, text: str) -> str:
        """``text`` (a driver's message) with the URL's password, if any, as ``***``."""
        password = self.url.params.get("password")
        if password and isinstance(password, str):
            text = text.replace(password, "***")
        return text

    # -- migrations --------------------------------------------------------
    @contextlib.contextmanager
    def migration_lock(self, db: "pw.Database", timeout: float) -> Iterator[None]:
        raise NotImplementedError
        yield  # pragma: no cover

    @contextlib.contextmanager
    def migration_transaction(self, db: "pw.Database") -> Iterator[None]:
        """One migration's transaction, with whatever the engine needs around it."""
        with db.atomic():
            yield

    def foreign_key_violations(self, db: "pw.Database") -> list[str]:
        return []


class SqliteEngine(Engine):
    name = "sqlite"

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
        if _damaged_message(msg):
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
        return _SqliteReader(conn)

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
            field_types=FIELD_TYPES["sqlite"],
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
                        holder = _read_lock_holder(fd)
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


SQLITE_MAGIC = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-journal", "-shm")


def _damaged_message(msg: str) -> bool:
    return "not a database" in msg or "malformed" in msg or "encrypted" in msg


def side_files(path: str) -> list[tuple[str, int]]:
    """The ``-wal``/``-journal``/``-shm`` beside ``path`` that exist, with their sizes."""
    found = []
    for suffix in SIDE_FILES:
        with contextlib.suppress(OSError):
            found.append((path + suffix, os.stat(path + suffix).st_size))
    return found


def unreadable_sqlite(path: str, reason: str) -> DatabaseUnavailable:
    """The error for a file SQLite cannot read: what it is, which files hold what, that nothing changed."""
    parts = []
    for side, size in side_files(path):
        if side.endswith("-wal") and size:
            parts.append(f"{os.path.basename(side)} ({size} bytes) holds commits not yet in the database file")
        elif side.endswith("-journal") and size:
            parts.append(f"{os.path.basename(side)} ({size} bytes) holds what an unfinished write needs to undo")
        else:
            parts.append(f"{os.path.basename(side)} ({size} bytes)")
    beside = ("; beside it " + ", ".join(parts) + " - left as they are") if parts else ""
    hint = "nothing was changed; copy the database and its side files together before any repair"
    if parts:
        hint += f" (cp {path}* DIR), or restore a backup with `aura-db restore`"
    else:
        hint += ", or restore a backup with `aura-db restore`"
    error = DatabaseUnavailable(f"{path} is not a SQLite database that SQLite can read ({reason}){beside}",
                                hint=hint)
    error.reason = reason  # type: ignore[attr-defined]
    return error


def probe_sqlite_file(path: str) -> None:
    """Check that SQLite can read ``path`` without writing or removing anything beside it.

    The 100-byte header is read by hand (no SQLite connection at all over a
    file whose header is damaged: not even a ``-shm`` is made), then the
    schema through a read-only connection.  A read-only connection cannot
    roll back a hot journal or open a WAL database in a read-only folder:
    those errors are no verdict, and the caller goes on to read-write.
    """
    import sqlite3

    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as exc:
        raise DatabaseUnavailable(f"cannot open {path}: {exc.strerror or exc}") from None
    if not head:
        return  # an empty file is an empty database
    if len(head) < 100 or not head.startswith(SQLITE_MAGIC):
        what = "it is shorter than a SQLite header" if len(head) < 100 and head.startswith(SQLITE_MAGIC[:len(head)]) \
            else "its first 16 bytes are not the SQLite header"
        raise unreadable_sqlite(path, what)
    from urllib.parse import quote

    try:
        con = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=0.1)
    except sqlite3.Error:
        return
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        if _damaged_message(str(exc)):
            raise unreadable_sqlite(path, str(exc)) from None
    finally:
        con.close()


def _read_lock_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        return ""
    return f" ({text})" if text else ""


# Seconds a server gets to accept a connection and answer its handshake;
# ``?connect_timeout=SECONDS`` in the URL overrides it.  Without a limit, a
# host that accepts the TCP connection and never answers (a firewall, a
# proxy, the wrong port) would hang a CI gate forever.
DEFAULT_CONNECT_TIMEOUT = 10.0


class _ServerEngine(Engine):
    """PostgreSQL and MySQL share how connections fail and are described."""

    database_class: Any = None
    default_port = 0

    def connect_timeout(self) -> float:
        """``?connect_timeout=`` from the URL (seconds, > 0), else DEFAULT_CONNECT_TIMEOUT."""
        value = self.url.params.get("connect_timeout")
        if value is None:
            return DEFAULT_CONNECT_TIMEOUT
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if not (0 < seconds <= 86400) or isinstance(value, bool):
            raise UsageError(f"bad connect_timeout {value!r} in {self.url.redacted}",
                             hint="?connect_timeout=SECONDS, a number above 0")
        return seconds

    def _connect_params(self) -> dict[str, Any]:
        return dict(self.url.params)

    def describe(self) -> str:
        return self.url.redacted

    def _make(self) -> "pw.Database":
        params = self._connect_params()
        name = params.pop("database")
        return self.database_class(name, field_types=FIELD_TYPES[self.name], **params)

    def open(self, *, create: bool = False) -> "pw.Database":
        import peewee as pw

        timeout = self.connect_timeout()
        db = self._make()
        started = time.monotonic()
        try:
            db.connect()
        except (pw.OperationalError, pw.InterfaceError) as exc:
            if time.monotonic() - started >= timeout * 0.9:  # the driver's words vary: say it plainly
                raise DatabaseUnavailable(
                    f"cannot connect to {self.url.redacted}: no answer within {timeout:g} s",
                    hint="check the host and port, or allow longer with ?connect_timeout=SECONDS in the URL",
                ) from None
            raise DatabaseUnavailable(
                f"cannot connect to {self.url.redacted}: {self.scrub(_first_line(exc))}"
            ) from None
        return db

    def exists(self) -> bool:
        try:
            self.open().close()
        except DatabaseUnavailable:
            return False
        return True


class PostgresEngine(_ServerEngine):
    name = "postgresql"
    default_port = 5432

    @property
    def database_class(self):  # type: ignore[override]
        return _database_class("postgresql")

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
        key = _lock_key(self.url.params.get("database", ""))
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


class MysqlEngine(_ServerEngine):
    name = "mysql"
    transactional_ddl = False
    default_port = 3306

    @property
    def database_class(self):  # type: ignore[override]
        return _database_class("mysql")

    def _connect_params(self) -> dict[str, Any]:
        params = dict(self.url.params)
        params.setdefault("charset", "utf8mb4")
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


def _lock_key(name: str) -> int:
    import hashlib

    digest = hashlib.sha256(f"aura-db migrate {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_DATABASE_CLASSES: dict[str, Any] = {}


def _database_class(engine: str) -> Any:
    """peewee's database class for a server engine, connecting within the connect timeout."""
    cls = _DATABASE_CLASSES.get(engine)
    if cls is None:
        cls = _DATABASE_CLASSES[engine] = _postgres_class() if engine == "postgresql" else _mysql_class()
    return cls


def _postgres_class() -> Any:
    import peewee as pw

    class PostgresqlDatabase(pw.PostgresqlDatabase):
        """peewee's, connecting so that Ctrl-C interrupts the wait (``_pg_connect``)."""

        def _connect(self) -> Any:
            with _pg_connect(self, float(self.connect_params.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT)):
                return super()._connect()

    return PostgresqlDatabase


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Reader:
    """Read-only questions to a database, answered through its DB-API driver."""

    def server_version(self) -> str:
        raise NotImplementedError

    def tables(self) -> list[str]:
        raise NotImplementedError

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _SqliteReader(Reader):
    def __init__(self, conn: Any):
        self.conn = conn

    def server_version(self) -> str:
        return self.conn.execute("SELECT sqlite_version()").fetchone()[0]

    def tables(self) -> list[str]:
        # What peewee's SqliteDatabase.get_tables() lists.
        return [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql).fetchall()

    def close(self) -> None:
        self.conn.close()


class _PeeweeReader(Reader):
    def __init__(self, engine: Engine, db: "pw.Database"):
        self.engine, self.db = engine, db

    def server_version(self) -> str:
        return self.engine.server_version(self.db)

    def tables(self) -> list[str]:
        return list(self.db.get_tables())

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self.db.execute_sql(sql).fetchall())

    def close(self) -> None:
        self.db.close()


ENGINES: dict[str, type[Engine]] = {
    "sqlite": SqliteEngine,
    "postgresql": PostgresEngine,
    "mysql": MysqlEngine,
}


def engine_for(url: DatabaseURL | str) -> Engine:
    if isinstance(url, str):
        url = parse_url(url)
    return ENGINES[url.engine](url)
