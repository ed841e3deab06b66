"""SQLite for ``aura-db copy``: the copy is built in a hidden file beside the target and renamed into place.

A killed or failed copy leaves the target exactly as it was, a target file
that did not exist included: nothing is written under the target's name
until the last step, a ``link()`` (the name did not exist: it still must
not) or a ``rename()`` (over an existing file without tables).  The hidden
file (``.<name>.copy-<random>``) is locked while it is being built; the next
copy removes those whose builder died.
"""

from __future__ import annotations

import contextlib
import decimal
import fcntl
import os
import secrets
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from aura_db.engines.copy import CopySource, CopyTarget, as_decimal
from aura_db.errors import AuraError, UsageError

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.engines.base import Engine


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SqliteCopySource(CopySource):
    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        # A read transaction: every table as of one moment (WAL), or writers kept out (rollback journal).
        with self.db.atomic():
            yield


class SqliteCopyTarget(CopyTarget):
    column_types = {"guid": "TEXT", "json": "TEXT", "bool": "INTEGER", "eftime": "TEXT", "time": "TEXT",
                    "decimal": "NUMERIC", "decimal_text": "TEXT", "int": "INTEGER", "float": "REAL",
                    "blob": "BLOB", "text": "TEXT"}

    def __init__(self, engine: "Engine"):
        super().__init__(engine)
        self.path: str | None = engine.url.path
        self.temp: str | None = None
        self._fd: int | None = None
        self._existed = False
        self._temp_engine: Any = None

    def _prefix(self) -> str:
        head, tail = os.path.split(self.path or "")
        return os.path.join(head, f".{tail}.copy-")

    def _sweep(self) -> None:
        """Remove the hidden files of copies that died (their builder's lock is gone)."""
        head, tail = os.path.split(self._prefix())
        try:
            names = os.listdir(head)
        except OSError:
            return
        for name in names:
            if not name.startswith(tail):
                continue
            path = os.path.join(head, name)
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)  # a running copy's
                continue
            with contextlib.suppress(OSError):
                os.unlink(path)
            os.close(fd)

    @contextlib.contextmanager
    def session(self, lock_timeout: float) -> Iterator[list[str]]:
        path = self.path
        if path is None:
            raise UsageError("cannot copy into an in-memory SQLite database", hint="give a file: sqlite:///PATH")
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            raise UsageError(f"cannot copy into {path}: folder {folder} does not exist")
        self._existed = os.path.exists(path)
        tables: list[str] = []
        if self._existed:
            for side in ("-wal", "-journal"):
                if os.path.exists(path + side) and os.path.getsize(path + side) > 0:
                    raise AuraError(
                        f"{path} has a non-empty {path + side} beside it (open or unfinished): not replaced",
                        hint="stop whatever has it open, or give another target")
            db = self.engine.open(create=False)
            try:
                tables = self.engine.catalog(db).tables()
            finally:
                db.close()
        self._sweep()
        try:
            yield tables
        finally:
            self._discard()

    def _discard(self) -> None:
        if self._temp_engine is not None and self.db is not None and not self.db.is_closed():
            self.db.close()
        if self.temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.temp)
            self.temp = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @contextlib.contextmanager
    def building(self, source: str) -> Iterator["pw.Database"]:
        from aura_db.engines.url import DatabaseURL

        while True:
            temp = self._prefix() + secrets.token_hex(6)
            try:
                fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                continue
        self.temp, self._fd = temp, fd
        fcntl.flock(fd, fcntl.LOCK_EX)  # ours while it is built: the next copy leaves it alone
        if self._existed:
            with contextlib.suppress(OSError):
                os.chmod(temp, os.stat(self.path).st_mode & 0o777)
        self._temp_engine = type(self.engine)(DatabaseURL(raw=temp, engine=self.engine.name, path=temp))
        self.db = db = self._temp_engine.open(create=True)
        # The hidden file is thrown away on any failure: no journal on disk is needed.
        db.execute_sql("PRAGMA journal_mode = MEMORY")
        db.execute_sql("PRAGMA synchronous = OFF")
        yield db  # each migration in its own transaction; the rows in one (loading)

    @contextlib.contextmanager
    def loading(self, db: "pw.Database") -> Iterator[None]:
        db.execute_sql("PRAGMA foreign_keys = OFF")  # outside the transaction, where SQLite honours it
        try:
            with db.atomic():
                yield
                violations = self.engine.foreign_key_violations(db)
                if violations:
                    raise AuraError("foreign key check failed on the copy: " + "; ".join(violations[:5]))
        finally:
            db.execute_sql("PRAGMA foreign_keys = ON")

    def publish(self) -> None:
        db, temp, path = self.db, self.temp, self.path
        assert temp is not None and path is not None
        db.execute_sql("PRAGMA journal_mode = DELETE")
        db.close()
        _fsync(temp)
        if self._existed:
            os.replace(temp, path)  # an existing file without tables
        else:
            try:
                os.link(temp, path)  # fails if the name appeared meanwhile: never overwrite
            except FileExistsError:
                raise AuraError(f"{path} appeared while the copy was being made: not replaced",
                                hint="run the copy again") from None
            os.unlink(temp)
        self.temp = None
        _fsync(os.path.dirname(path))

    # What aura-db and the Aura app write on SQLite: upper-case GUIDs, EF's text times, 0/1.
    def to_bool(self, v: Any) -> Any:
        return 1 if super().to_bool(v) else 0

    def to_eftime(self, v: Any) -> Any:
        from aura_db.fields import ef_time

        return v if isinstance(v, str) else ef_time(super().to_eftime(v))

    def to_time(self, v: Any) -> Any:
        return v if isinstance(v, str) else super().to_time(v).isoformat(sep=" ")

    def to_decimal(self, v: Any) -> Any:
        return v if isinstance(v, (int, float, str)) else str(as_decimal(v))

    def to_decimal_text(self, v: Any) -> Any:
        if isinstance(v, str):
            return v
        return str(v if isinstance(v, decimal.Decimal) else as_decimal(v))  # the scale the server kept

    def to_blob(self, v: Any) -> Any:
        return v if isinstance(v, bytes) else super().to_blob(v)

    def write(self, db: "pw.Database", table: str, columns: list[str], kinds: list[str],
              chunks: Iterable[list[tuple]]) -> None:
        import peewee as pw

        q = self.quote
        sql = (f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) "
               f"VALUES ({', '.join('?' * len(columns))})")
        cur = db.cursor()
        with pw.__exception_wrapper__:
            for chunk in chunks:
                cur.executemany(sql, chunk)  # one prepared statement: SQLite's fastest path

    def check_engine(self) -> "Engine":
        return self.engine

