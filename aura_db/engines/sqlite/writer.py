"""SQLite's bulk writer: executemany on one prepared statement, with a larger page cache for the load."""

from __future__ import annotations

import contextlib
from typing import Iterator

from aura_db.engines.writer import BulkWriter


class SqliteBulkWriter(BulkWriter):
    CACHE_KIB = 65536

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        # With 146 indexes a load touches many pages at once; the default 2 MiB
        # page cache spills dirty pages to disk mid-transaction.
        before = self.db.execute_sql("PRAGMA cache_size").fetchone()[0]
        self.db.execute_sql(f"PRAGMA cache_size = -{self.CACHE_KIB}")
        try:
            yield
        finally:
            self.db.execute_sql(f"PRAGMA cache_size = {int(before)}")

    def write(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        # executemany on one prepared statement is SQLite's fastest path.
        # The raw cursor bypasses peewee, so map driver errors to peewee's as it would.
        import peewee as pw

        with pw.__exception_wrapper__:
            self.db.cursor().executemany(self.sql(table, columns), rows)
