"""Bulk writers: how ``aura-db seed`` inserts many rows, the generic way and the servers' way."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    import peewee as pw


class BulkWriter:
    """Inserts tuples into a table (``aura-db seed``); each engine names its own (``Engine.bulk_writer``)."""

    def __init__(self, db: "pw.Database", quote: Callable[[str], str]):
        self.db = db
        self.quote = quote

    def sql(self, table: str, columns: list[str], rows: int = 1) -> str:
        marks = "(" + ", ".join([self.db.param] * len(columns)) + ")"
        return (f"INSERT INTO {self.quote(table)} ({', '.join(self.quote(c) for c in columns)}) VALUES "
                + ", ".join([marks] * rows))

    def write(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Settings for the length of one bulk load."""
        yield


class ServerBulkWriter(BulkWriter):
    MAX_PARAMS = 20000  # well below PostgreSQL's 65535 bind parameters

    def write(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        # One multi-row INSERT per chunk: a round trip per row is what makes
        # executemany slow on a server.
        per = max(1, self.MAX_PARAMS // len(columns))
        for i in range(0, len(rows), per):
            chunk = rows[i:i + per]
            params = [v for row in chunk for v in row]
            self.db.execute_sql(self.sql(table, columns, len(chunk)), params)
