"""What ``aura-db copy`` asks of an engine: reading a source, writing a target.

Each engine's ``copy.py`` subclasses ``CopySource`` and ``CopyTarget``
(``Engine.copy_source(db)``, ``Engine.copy_target()``); the core
(``aura_db/copy.py``) never branches on the engine.

Values travel by *kind*, the logical type of a column (``aura_db.fields``):
``guid``, ``json``, ``bool``, ``eftime`` (EF's text times on SQLite),
``time`` (peewee's DateTimeField), ``decimal``, ``decimal_text``, ``int``,
``float``, ``blob``, ``text``.  A target turns a source value of a kind into
what it stores natively; a value it cannot hold raises ``ValueError`` with the
reason, and the core names table, row and column.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import re
import uuid
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.engines.base import Engine

NULL = "\x00"  # a NULL in the normalised form of a row: unlike any text
KINDS = ("guid", "json", "bool", "eftime", "time", "decimal", "decimal_text", "int", "float", "blob", "text")
CHUNK_ROWS = 2000  # rows read from the source at a time: memory stays flat at any size


# --------------------------------------------------------------------------
# Values: what every engine shares


def json_text(value: Any) -> str:
    """A JSON document as text: text is checked and kept as it is; a parsed document is dumped."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError as exc:
            raise ValueError(f"invalid JSON ({exc})") from None
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return json_text(bytes(value).decode("utf-8"))
    # psycopg2 hands jsonb back parsed: as the models give it (aura_db.fields.JsonField)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
# EF's and peewee's text times: date, time, up to 7 fraction digits (checked by a regular
# expression: building a datetime per value would cost more than the rest of the copy).
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,7}))?")


_NONE = type(None)
_PLAIN = {"text": {str, _NONE}, "int": {int, _NONE}}  # kinds whose values need no function, when of these types


def map_column(values: tuple | list, f: Callable[[Any], Any] | None, kind: str, nulls: Any, *,
               plain: bool = True) -> list:
    """``f`` over one column of a chunk (NULL becomes ``nulls``), at C speed where the values allow
    (``plain``: for a normaliser, text is itself and an integer its ``str``)."""
    if f is None:
        return list(values)
    types = set(map(type, values))
    if plain and kind in _PLAIN and types <= _PLAIN[kind]:
        if kind == "text":
            return [nulls if v is None else v for v in values] if _NONE in types else list(values)
        f = str
    if _NONE in types:
        return [nulls if v is None else f(v) for v in values]
    return list(map(f, values))


def normal_json(v: Any) -> str:
    """A JSON document parsed and written again, keys sorted: one text per document."""
    doc = json.loads(v) if isinstance(v, (str, bytes, bytearray)) else v
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def guid_text(value: Any) -> str:
    """A GUID as EF writes it on SQLite: upper-case text (checked to be a GUID)."""
    if isinstance(value, uuid.UUID):
        return str(value).upper()
    text = value.decode() if isinstance(value, (bytes, bytearray)) else str(value)
    if _GUID.fullmatch(text) is None:
        raise ValueError(f"not a GUID: {text[:60]!r}")
    return text.upper()


def time_text(value: Any) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS.ffffff`` (a 7th fraction digit dropped, as aura-db reads EF's)."""
    if type(value) is str:
        m = _TIME.fullmatch(value)
        if m is not None:
            frac = m.group(3)
            if frac is None:
                return f"{m.group(1)} {m.group(2)}.000000"
            return f"{m.group(1)} {m.group(2)}.{frac[:6].ljust(6, '0')}"
    return as_datetime(value).isoformat(sep=" ", timespec="microseconds")


def as_datetime(value: Any) -> dt.datetime:
    """A time as a datetime (EF's text, peewee's text, or the driver's datetime)."""
    from aura_db.fields import parse_time

    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    parsed = parse_time(str(value))
    if not isinstance(parsed, dt.datetime):
        raise ValueError(f"not a time: {str(value)[:60]!r}")
    return parsed


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("1", "true", "t"):
            return True
        if low in ("0", "false", "f"):
            return False
        raise ValueError(f"not a boolean: {value[:60]!r}")
    return bool(value)


def as_decimal(value: Any) -> decimal.Decimal:
    try:
        return decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        raise ValueError(f"not a number: {str(value)[:60]!r}") from None


def decimal_plain(value: decimal.Decimal) -> str:
    """``12.500000`` -> ``12.5``, ``1E+2`` -> ``100``: one spelling of a number."""
    if not value.is_finite():
        return str(value)
    text = format(value.normalize(), "f")
    return text


def as_blob(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


def as_text(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("bytes that are not UTF-8 text in a text column") from None
    return value if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------
# The interfaces


class CopySource:
    """Reads every row of a database in key order, in chunks, from one consistent snapshot."""

    def __init__(self, engine: "Engine", db: "pw.Database"):
        self.engine, self.db = engine, db

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read-only transaction around the whole read: every table as of one moment."""
        with self.db.atomic():
            yield

    def cursor(self) -> Any:
        """A cursor that does not hold the whole result in memory."""
        return self.db.cursor()

    def fetch(self, sql: str) -> Iterator[list[tuple]]:
        """The rows of ``sql`` in chunks (an engine with its own way of streaming overrides this)."""
        yield from fetch_chunks(self.cursor, sql)

    def rows(self, table: str, columns: list[str], order_by: list[str]) -> Iterator[list[tuple]]:
        """The rows of ``table`` (``columns`` in that order), ``order_by`` ascending, in chunks."""
        q = self.engine.dialect.quote
        sql = f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table)}"
        if order_by:
            sql += " ORDER BY " + ", ".join(q(c) for c in order_by)
        return self.fetch(sql)


def fetch_chunks(make_cursor: Callable[[], Any], sql: str) -> Iterator[list[tuple]]:
    """The rows of ``sql`` in chunks of CHUNK_ROWS, on a cursor made when the first chunk is asked for."""
    cur = make_cursor()
    try:
        cur.execute(sql)
        while True:
            chunk = cur.fetchmany(CHUNK_ROWS)
            if not chunk:
                return
            yield list(chunk)
    finally:
        with contextlib.suppress(Exception):
            cur.close()


class CopyTarget:
    """An empty database being filled by ``aura-db copy``: the engine's way to make it, fill it, publish it."""

    # The whole copy is one transaction: a failed or killed copy leaves nothing.
    one_transaction = True

    def __init__(self, engine: "Engine"):
        self.engine = engine
        self.quote = engine.dialect.quote
        self.db: Any = None
        self.notes: list[str] = []  # what the target did on the way that the operator must hear

    # -- where the copy is built ------------------------------------------
    @contextlib.contextmanager
    def session(self, lock_timeout: float) -> Iterator[list[str]]:
        """Connect and hold the migration lock; yields the tables the target holds now."""
        self.db = db = self.engine.open(create=False)
        try:
            with self.engine.migration_lock(db, lock_timeout):
                yield self.engine.catalog(db).tables()
        finally:
            if not db.is_closed():
                db.close()

    def leftover(self, tables: list[str]) -> bool:
        """Whether ``tables`` are a copy of aura-db's own that was killed half-way (to be cleared)."""
        return False

    def clear(self, tables: list[str]) -> None:
        """Remove a killed copy's leftover ``tables`` (only where ``leftover`` says so)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def building(self, source: str) -> Iterator["pw.Database"]:
        """Around the whole build (schema and rows), yielding the database it is built in: one transaction.

        Where the engine holds its migration lock per transaction (PostgreSQL),
        this transaction takes it: no migrate or other copy builds beside it.
        """
        with self.engine.locked(self.db), self.db.atomic():
            yield self.db

    @contextlib.contextmanager
    def loading(self, db: "pw.Database") -> Iterator[None]:
        """Around the rows (after the schema): foreign keys checked at the end, not row by row."""
        yield

    def publish(self) -> None:
        """After ``building`` ended well: make the copy the target (a file's rename, a marker's removal)."""

    def check_engine(self) -> "Engine":
        """The engine ``status`` and ``verify`` are run on once the copy is published."""
        return self.engine

    # -- rows ---------------------------------------------------------------
    def empty(self, db: "pw.Database", tables: list[str]) -> None:
        """Delete the rows the migrations inserted (the source's rows replace them)."""
        for t in tables:
            db.execute_sql(f"DELETE FROM {self.quote(t)}")

    def converter(self, kind: str) -> Callable[[Any], Any] | None:
        """The function turning a source value of ``kind`` into what this engine stores (None: the value as it is).

        ``int``, ``float`` and ``text`` values go as they are unless the engine says otherwise."""
        return getattr(self, f"to_{kind}", None)

    def column(self, kind: str, values: tuple, normalise: Callable[[Any], str]) -> tuple[list, list]:
        """One column of a chunk: its normalised form (for the checksum) and the values to write.

        Raises ValueError (or TypeError) on a value the target cannot take; the core then
        asks again value by value to name the row.
        """
        normal = map_column(values, normalise, kind, NULL)
        f = self.converter(kind)
        return normal, (list(values) if f is None else map_column(values, f, kind, None, plain=False))

    def to_guid(self, v: Any) -> Any:
        return guid_text(v)

    def to_json(self, v: Any) -> Any:
        return json_text(v)

    def to_bool(self, v: Any) -> Any:
        return as_bool(v)

    def to_eftime(self, v: Any) -> Any:
        return as_datetime(v)

    def to_time(self, v: Any) -> Any:
        return as_datetime(v)

    def to_decimal(self, v: Any) -> Any:
        return as_decimal(v)

    def to_decimal_text(self, v: Any) -> Any:
        return as_decimal(v)

    def to_blob(self, v: Any) -> Any:
        return as_blob(v)

    def write(self, db: "pw.Database", table: str, columns: list[str], kinds: list[str],
              chunks: Iterable[list[tuple]]) -> None:
        """Insert the (converted) rows of ``chunks`` into ``table``."""
        raise NotImplementedError

    def after_table(self, db: "pw.Database", table: str, columns: list[str]) -> None:
        """After a table's rows: what the engine needs (PostgreSQL moves serial sequences)."""

    def read(self, db: "pw.Database", table: str, columns: list[str],
             kinds: list[str]) -> Iterator[list[tuple]]:
        """The rows just written, read back in chunks (for the checksum)."""
        q = self.quote
        cur = db.cursor()
        try:
            cur.execute(f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table)}")
            while True:
                chunk = cur.fetchmany(CHUNK_ROWS)
                if not chunk:
                    return
                yield chunk
        finally:
            with contextlib.suppress(Exception):
                cur.close()

    # -- tables aura-db does not model --------------------------------------
    column_types: dict[str, str] = {}
    key_text_type = "TEXT"  # a text column in a primary key

    def create_table(self, db: "pw.Database", table: str, columns: list[tuple[str, str, bool]],
                     key: list[str]) -> None:
        """``table`` with ``columns`` (name, kind, nullable): a table the migrations do not build."""
        q = self.quote
        parts = []
        for name, kind, nullable in columns:
            typ = self.key_text_type if (name in key and kind == "text") else self.column_types.get(kind, "TEXT")
            parts.append(f"{q(name)} {typ}{'' if nullable else ' NOT NULL'}")
        if key:
            parts.append(f"PRIMARY KEY ({', '.join(q(c) for c in key)})")
        db.execute_sql(f"CREATE TABLE {q(table)} ({', '.join(parts)})")
