"""Column types shared by the models and the migration modules.

Each maps to the native type of the engine where one exists (see
``aura_db.db.FIELD_TYPES``): GUIDs are 36-character text on SQLite and
``uuid`` on PostgreSQL; JSON documents are text on SQLite, ``jsonb`` on
PostgreSQL.  Values are plain strings in Python on every engine.
"""

from __future__ import annotations

import datetime as _dt
import json
import uuid

import peewee as pw


def utcnow() -> _dt.datetime:
    """Now, in UTC, without tzinfo: every time aura-db writes is UTC."""
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def new_guid() -> str:
    return str(uuid.uuid4())


class GuidField(pw.Field):
    field_type = "GUID"

    def db_value(self, value):
        return None if value is None else str(value)

    def python_value(self, value):
        return None if value is None else str(value)


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


class LongTextField(pw.TextField):
    field_type = "LONGTEXT"
