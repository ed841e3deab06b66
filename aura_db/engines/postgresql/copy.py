"""PostgreSQL for ``aura-db copy``: read through a server-side cursor, write with COPY, all in one transaction."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import itertools
import math
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from aura_db.engines.copy import (
    CHUNK_ROWS,
    NULL,
    CopySource,
    CopyTarget,
    as_text,
    map_column,
    normal_json,
    time_text,
)

if TYPE_CHECKING:
    import peewee as pw

_cursor_names = itertools.count(1)

# COPY's text format: backslash, tab, newline and carriage return are escaped.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _fetch(db: "pw.Database", sql: str) -> Iterator[list[tuple]]:
    """Rows of ``sql`` in chunks through a server-side cursor (DECLARE/FETCH in the open transaction)."""
    name = f"aura_copy_{next(_cursor_names)}"
    cur = db.cursor()
    cur.execute(f"DECLARE {name} NO SCROLL CURSOR FOR {sql}")
    try:
        while True:
            cur.execute(f"FETCH {CHUNK_ROWS} FROM {name}")
            chunk = cur.fetchall()
            if not chunk:
                return
            yield chunk
    finally:
        with contextlib.suppress(Exception):
            cur.execute(f"CLOSE {name}")


class PostgresCopySource(CopySource):
    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        # One REPEATABLE READ, READ ONLY transaction: every table as of one moment.
        with self.db.atomic():
            self.db.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def fetch(self, sql: str) -> Iterator[list[tuple]]:
        return _fetch(self.db, sql)


class _CopyStream:
    """A file-like object COPY reads from, filled from the rows as it asks: memory stays flat."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines
        self._buf = bytearray()
        self._done = False
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            while not self._done and (size < 0 or len(self._buf) < size):
                batch = list(itertools.islice(self._lines, 4))
                if not batch:
                    self._done = True
                    break
                self._buf += "".join(batch).encode("utf-8")
        except BaseException as exc:  # handed back by write(): COPY turns it into its own error
            self.error = exc
            raise
        if size < 0 or size >= len(self._buf):
            out, self._buf = bytes(self._buf), bytearray()
        else:
            out = bytes(self._buf[:size])
            del self._buf[:size]
        return out

    readline = read


def _field(v: Any) -> str:
    if v is None:
        return "\\N"
    if type(v) is str:
        if "\\" in v or "\t" in v or "\n" in v or "\r" in v:
            return v.translate(_ESCAPES)
        return v
    if v is True:
        return "t"
    if v is False:
        return "f"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "\\\\x" + bytes(v).hex()
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    return str(v)


_COPY_NULL = "\\N"
_SPECIAL = ("\\", "\t", "\n", "\r")


def _escaped(texts: list) -> list:
    """A column of texts (None for NULL) as COPY's text format has them: one scan for the usual clean column."""
    present = [t for t in texts if t is not None]
    joined = "".join(present)
    if "\x00" in joined:
        raise ValueError("text holding a NUL character, which PostgreSQL cannot store")
    if any(c in joined for c in _SPECIAL):
        return [_COPY_NULL if t is None else t.translate(_ESCAPES) for t in texts]
    return [_COPY_NULL if t is None else t for t in texts]


class PostgresCopyTarget(CopyTarget):
    column_types = {"guid": "UUID", "json": "JSONB", "bool": "BOOLEAN", "eftime": "TIMESTAMP",
                    "time": "TIMESTAMP", "decimal": "NUMERIC", "decimal_text": "NUMERIC", "int": "BIGINT",
                    "float": "DOUBLE PRECISION", "blob": "BYTEA", "text": "TEXT"}

    @contextlib.contextmanager
    def loading(self, db: "pw.Database") -> Iterator[None]:
        # Rows first, then the foreign keys, each checked once over the whole table (as pg_restore
        # does: a foreign key checked row by row costs a query per row, and tables then need no
        # order). The same definitions, by the same names, in the same transaction. Indexes stay:
        # rebuilding them all costs more statements than maintaining them costs at Aura's sizes.
        fks = db.execute_sql(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace ORDER BY oid").fetchall()
        for table, name, _ in fks:
            db.execute_sql(f"ALTER TABLE {table} DROP CONSTRAINT {self.quote(name)}")
        yield
        for table, name, definition in fks:
            db.execute_sql(f"ALTER TABLE {table} ADD CONSTRAINT {self.quote(name)} {definition}")

    # Kinds whose value for COPY is their normalised form (computed once, used twice).
    def column(self, kind: str, values: tuple, normalise: Any) -> tuple[list, list]:
        if kind in ("guid", "eftime", "time", "json"):
            f = normal_json if kind == "json" else self.converter(kind)
            texts = map_column(values, f, kind, None, plain=False)
            normal = [NULL if t is None else t for t in texts]
            return normal, (_escaped(texts) if kind == "json" else [_COPY_NULL if t is None else t for t in texts])
        normal = map_column(values, normalise, kind, NULL)
        if kind == "text":
            plain = set(map(type, values)) <= {str, type(None)}
            return normal, _escaped(list(values) if plain else [None if v is None else as_text(v) for v in values])
        if kind == "int" and set(map(type, values)) <= {int, type(None)}:
            return normal, [_COPY_NULL if v is None else str(v) for v in values]
        f = self.converter(kind)
        return normal, [_COPY_NULL if v is None else _field(v if f is None else f(v)) for v in values]

    def to_eftime(self, v: Any) -> Any:
        return time_text(v)

    to_time = to_eftime

    def to_guid(self, v: Any) -> Any:
        return super().to_guid(v).lower()

    def to_float(self, v: Any) -> Any:
        f = float(v)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return repr(f)

    def to_decimal(self, v: Any) -> Any:
        d = super().to_decimal(v)
        return str(d) if isinstance(d, decimal.Decimal) else d

    to_decimal_text = to_decimal

    def write(self, db: "pw.Database", table: str, columns: list[str], kinds: list[str],
              chunks: Iterable[list[tuple]]) -> None:
        q = self.quote

        def lines() -> Iterator[str]:
            # column() made every value COPY's text already
            for chunk in chunks:
                yield "".join(["\t".join(row) + "\n" for row in chunk])

        stream = _CopyStream(lines())
        sql = f"COPY {q(table)} ({', '.join(q(c) for c in columns)}) FROM STDIN"
        cur = db.cursor()
        try:
            cur.copy_expert(sql, stream, size=1 << 18)
        except Exception:
            if stream.error is not None:  # ours (a value the core refused): the real reason
                raise stream.error from None
            raise

    def after_table(self, db: "pw.Database", table: str, columns: list[str]) -> None:
        # Rows came with their ids: serial sequences must not hand them out again.
        q = self.quote
        rows = db.execute_sql(
            "SELECT a.attname, pg_get_serial_sequence(%s, a.attname) FROM pg_attribute a "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            (q(table), q(table))).fetchall()
        for column, sequence in rows:
            if sequence:
                db.execute_sql(
                    f"SELECT setval(%s, COALESCE(MAX({q(column)}), 1), MAX({q(column)}) IS NOT NULL) "
                    f"FROM {q(table)}", (sequence,))

    def read(self, db: "pw.Database", table: str, columns: list[str],
             kinds: list[str]) -> Iterator[list[tuple]]:
        # uuid and timestamps as text: cheaper to check than the driver's objects, and the same values
        q = self.quote
        cols = [f"{q(c)}::text" if k in ("guid", "eftime", "time") else q(c) for c, k in zip(columns, kinds)]
        return _fetch(db, f"SELECT {', '.join(cols)} FROM {q(table)}")
