"""MySQL/MariaDB for ``aura-db copy``: multi-row INSERTs sized by max_allowed_packet, and a marker table.

MySQL commits every DDL statement, so a copy cannot be one transaction.  The
first thing a copy creates is a marker table (``MARKER``); the last thing it
does is drop it.  A copy that fails removes everything it created; one that
was killed leaves the marker, by which the next copy knows the half-made
database as its own and clears it first (it holds the migration lock, so no
other copy is running).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from aura_db.engines.copy import CopySource, CopyTarget, fetch_chunks

if TYPE_CHECKING:
    import peewee as pw

MARKER = "aura_copy_incomplete"
MAX_STATEMENT = 16 << 20  # bytes: larger statements gain nothing


def _unbuffered(db: "pw.Database") -> Any:
    import pymysql.cursors

    return db.connection().cursor(pymysql.cursors.SSCursor)


class MysqlCopySource(CopySource):
    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        self.db.execute_sql("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        self.db.execute_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self.db.execute_sql("COMMIT")

    def cursor(self) -> Any:
        return _unbuffered(self.db)  # rows stream from the server: memory stays flat


class MysqlCopyTarget(CopyTarget):
    one_transaction = False
    column_types = {"guid": "CHAR(36)", "json": "LONGTEXT", "bool": "BOOL", "eftime": "DATETIME(6)",
                    "time": "DATETIME(6)", "decimal": "DECIMAL(65,30)", "decimal_text": "DECIMAL(65,30)",
                    "int": "BIGINT", "float": "DOUBLE", "blob": "LONGBLOB", "text": "LONGTEXT"}
    key_text_type = "VARCHAR(255)"

    def leftover(self, tables: list[str]) -> bool:
        return any(t.lower() == MARKER for t in tables)

    def _drop_all(self, tables: list[str]) -> None:
        q, db = self.quote, self.db
        db.execute_sql("SET FOREIGN_KEY_CHECKS = 0")
        try:
            # The marker last: a copy killed while clearing is still recognised as one.
            for t in sorted(tables, key=lambda t: t.lower() == MARKER):
                db.execute_sql(f"DROP TABLE IF EXISTS {q(t)}")
        finally:
            db.execute_sql("SET FOREIGN_KEY_CHECKS = 1")

    def clear(self, tables: list[str]) -> None:
        self._drop_all(tables)

    @contextlib.contextmanager
    def building(self, source: str) -> Iterator["pw.Database"]:
        q, db = self.quote, self.db
        db.execute_sql(f"CREATE TABLE {q(MARKER)} (started_at DATETIME(6) NOT NULL, source VARCHAR(1000) NOT NULL, "
                       f"pid INTEGER NOT NULL, host VARCHAR(255) NOT NULL)")
        db.execute_sql(f"INSERT INTO {q(MARKER)} VALUES (UTC_TIMESTAMP(6), %s, %s, %s)",
                       (source[:1000], os.getpid(), socket.gethostname()[:255]))
        try:
            yield db
        except BaseException as exc:
            # DDL committed as it ran: remove what this copy created (the target was empty).
            try:
                self._drop_all(self.engine.catalog(db).tables())
            except Exception as drop_exc:  # noqa: BLE001 - said, with the way out
                from aura_db.engines.base import first_line

                self.notes.append(
                    f"the half-made copy could not be removed ({first_line(drop_exc)}); the next "
                    f"`aura-db copy` into this database clears it (it carries the table {MARKER})")
            else:
                self.notes.append("the tables this copy had created were removed: the target is empty again")
            raise exc

    @contextlib.contextmanager
    def loading(self, db: "pw.Database") -> Iterator[None]:
        # Rows arrive table by table, not in foreign-key order; ids of 0 are ids.
        mode = db.execute_sql("SELECT @@SESSION.sql_mode").fetchone()[0]
        db.execute_sql("SET FOREIGN_KEY_CHECKS = 0")
        db.execute_sql("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        try:
            yield
        finally:
            db.execute_sql("SET FOREIGN_KEY_CHECKS = 1")
            db.execute_sql("SET SESSION sql_mode = %s", (mode,))

    def publish(self) -> None:
        self.db.execute_sql(f"DROP TABLE {self.quote(MARKER)}")

    def to_guid(self, v: Any) -> Any:
        return super().to_guid(v)  # upper case, as aura-db writes it everywhere

    def to_bool(self, v: Any) -> Any:
        return 1 if super().to_bool(v) else 0

    def to_decimal(self, v: Any) -> Any:
        return str(super().to_decimal(v))

    to_decimal_text = to_decimal

    def _limit(self, db: "pw.Database") -> int:
        packet = int(db.execute_sql("SELECT @@max_allowed_packet").fetchone()[0])
        return max(64 << 10, min(MAX_STATEMENT, packet - (64 << 10)))

    def write(self, db: "pw.Database", table: str, columns: list[str], kinds: list[str],
              chunks: Iterable[list[tuple]]) -> None:
        q = self.quote
        conn = db.connection()
        escape = conn.escape
        limit = self._limit(db)
        head = f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) VALUES "
        cur = conn.cursor()
        parts: list[str] = []
        size = len(head)
        try:
            for chunk in chunks:
                for row in chunk:
                    lit = "(" + ",".join(["NULL" if v is None else _literal(escape, v) for v in row]) + ")"
                    n = len(lit.encode("utf-8")) + 1
                    if parts and size + n > limit:
                        cur.execute(head + ",".join(parts))
                        parts, size = [], len(head)
                    if size + n > limit:
                        raise ValueError(f"a row of {n} bytes is larger than the server's max_allowed_packet allows")
                    parts.append(lit)
                    size += n
            if parts:
                cur.execute(head + ",".join(parts))
        finally:
            cur.close()

    def read(self, db: "pw.Database", table: str, columns: list[str],
             kinds: list[str]) -> Iterator[list[tuple]]:
        q = self.quote
        return fetch_chunks(lambda: _unbuffered(db), f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table)}")


def _literal(escape: Any, v: Any) -> str:
    if isinstance(v, (bytearray, memoryview)):
        v = bytes(v)
    if isinstance(v, dt.datetime):
        return "'" + v.isoformat(sep=" ") + "'"
    return escape(v)
