"""Column types shared by the models and the migration modules.

The Aura app (EF Core on SQLite) declares every column TEXT, INTEGER or REAL;
aura-db builds the same columns there and the engine's native type elsewhere
(each engine's ``dialect.field_types``, ``aura_db/engines/<engine>/dialect.py``):

=============== ============== ================== ====================
field           SQLite         PostgreSQL         MySQL / MariaDB
=============== ============== ================== ====================
StringField     TEXT           VARCHAR(n) / TEXT  VARCHAR(n) / LONGTEXT
TimestampField  TEXT           TIMESTAMP          DATETIME(6)
GuidField       TEXT           UUID               CHAR(36)
JsonField       TEXT           JSONB              LONGTEXT
DecimalField    decimal(18,6)  NUMERIC(18,6)      DECIMAL(18,6)
DecimalText     TEXT           NUMERIC            DECIMAL(38,18)
AutoIncrement   INTEGER        SERIAL             INTEGER AUTO_INCREMENT
                + AUTOINCREMENT
BigAutoIncr.    INTEGER        BIGSERIAL          BIGINT AUTO_INCREMENT
                + AUTOINCREMENT
=============== ============== ================== ====================

Values are plain Python strings, datetimes and Decimals on every engine.
Times are written as the app writes them (``2025-11-22 17:54:19.1123839``:
EF's ``yyyy-MM-dd HH:mm:ss.FFFFFFF``), GUIDs in upper case as EF writes them
on SQLite.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import re
import uuid

import peewee as pw


def utcnow() -> _dt.datetime:
    """Now, in UTC, without tzinfo: every time aura-db writes is UTC."""
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def new_guid() -> str:
    """A new GUID as EF writes it on SQLite: upper-case text."""
    return str(uuid.uuid4()).upper()


def ef_time(value: _dt.datetime) -> str:
    """``value`` as EF Core writes a DateTime on SQLite (trailing zeros of the fraction dropped)."""
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    return text


_TIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


def parse_time(text: str) -> _dt.datetime | str:
    """EF's text (up to 7 fraction digits) back to a datetime; other text is returned as it is."""
    m = _TIME_RE.match(text.strip())
    if not m:
        return text
    frac = (m.group(3) or "")[:6].ljust(6, "0")
    try:
        value = _dt.datetime.fromisoformat(f"{m.group(1)} {m.group(2)}.{frac}")
    except ValueError:
        return text
    return value


class StringField(pw.CharField):
    """Text: TEXT on SQLite whatever its length, as EF declares strings there.

    ``max_length`` (the app's) gives VARCHAR(n) on PostgreSQL and MySQL; without
    one the column is unbounded text, except that on MySQL a column in a key or
    an index (``key=True``) must have a length: VARCHAR(255).
    """

    field_type = "STRING"

    def __init__(self, max_length: int | None = None, *args, key: bool = False, **kwargs):
        super().__init__(255, *args, **kwargs)
        self.max_length = max_length
        self.key = key

    def get_modifiers(self):
        return None

    def ddl_datatype(self, ctx):
        types = (ctx.state.field_types if ctx else None) or {}
        native = types.get("STRING", "TEXT")
        if native == "TEXT":
            return pw.SQL("TEXT")
        if self.max_length:
            return pw.SQL(f"{native}({self.max_length})")
        return pw.SQL(types.get("STRING_KEY" if self.key else "STRING_UNBOUNDED", "TEXT"))


class _AutoIncrement:
    """An integer key the database numbers, as EF Core declares one on SQLite.

    On SQLite the column is ``INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT``, as
    in the app's database: SQLite keeps the highest id ever handed out in
    ``sqlite_sequence`` and never hands an id out again, even after the row
    with the highest id is deleted. Elsewhere the engine's own serial type
    (SERIAL / AUTO_INCREMENT) already behaves so, and the DDL is peewee's.
    The keyword comes from the dialect (``field_types["AUTOINCREMENT"]``,
    set by SQLite's only).
    """

    def ddl(self, ctx):
        node = super().ddl(ctx)
        keyword = ((ctx.state.field_types if ctx else None) or {}).get("AUTOINCREMENT")
        return pw.NodeList((node, pw.SQL(keyword))) if keyword else node


class AutoIncrementField(_AutoIncrement, pw.AutoField):
    """An auto-numbered 32-bit integer key (AUTOINCREMENT on SQLite)."""


class BigAutoIncrementField(_AutoIncrement, pw.BigAutoField):
    """An auto-numbered 64-bit integer key (AUTOINCREMENT on SQLite)."""


class ForeignKey(pw.ForeignKeyField):
    """A foreign key whose column has exactly the type of the column it refers to."""

    def ddl_datatype(self, ctx):
        if isinstance(self.rel_field, pw.AutoField):
            return super().ddl_datatype(ctx)
        return self.rel_field.ddl_datatype(ctx)


class TimestampField(pw.DateTimeField):
    """A DateTime: TEXT on SQLite in EF's format; the native timestamp type elsewhere."""

    field_type = "TIMESTAMP_TEXT"

    def db_value(self, value):
        if isinstance(value, _dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            return ef_time(value)
        if isinstance(value, _dt.date):
            return ef_time(_dt.datetime(value.year, value.month, value.day))
        return value

    def python_value(self, value):
        if isinstance(value, str):
            return parse_time(value)
        return value


class GuidField(pw.Field):
    """A GUID: upper-case text on SQLite (as EF writes it), ``uuid`` on PostgreSQL."""

    field_type = "GUID"

    def db_value(self, value):
        return None if value is None else str(value).upper()

    def python_value(self, value):
        return None if value is None else str(value).upper()


class JsonField(pw.Field):
    """A JSON document, kept as its text."""

    field_type = "JSON"

    def db_value(self, value):
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, separators=(",", ":"), sort_keys=True)

    def python_value(self, value):
        # psycopg2 hands jsonb back parsed; give callers the text on every engine.
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, separators=(",", ":"), sort_keys=True)


class DecimalField(pw.DecimalField):
    """``decimal(18,6)`` as the app declares money columns (NUMERIC affinity on SQLite)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 18)
        kwargs.setdefault("decimal_places", 6)
        super().__init__(*args, **kwargs)

    def get_modifiers(self):
        return None

    def ddl_datatype(self, ctx):
        types = (ctx.state.field_types if ctx else None) or {}
        name = types.get("DECIMAL", "DECIMAL")
        return pw.SQL(f"{name}({self.max_digits},{self.decimal_places})")

    def db_value(self, value):
        # sqlite3 cannot bind a Decimal; its text is exact on every engine.
        return None if value is None else str(decimal.Decimal(str(value)))


class DecimalTextField(pw.Field):
    """A decimal the app keeps as TEXT on SQLite; a native decimal elsewhere."""

    field_type = "DECIMAL_TEXT"

    def db_value(self, value):
        return None if value is None else str(decimal.Decimal(str(value)))

    def python_value(self, value):
        return None if value is None else decimal.Decimal(str(value))


class LongTextField(pw.TextField):
    field_type = "LONGTEXT"
