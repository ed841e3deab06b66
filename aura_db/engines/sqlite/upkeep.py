"""SQLite's upkeep: WAL checkpoint, VACUUM (or incremental vacuum), ANALYZE and ``PRAGMA optimize``.

VACUUM rewrites the whole file and needs the database alone: like restore,
the upkeep refuses while another process has the file (or its -wal) open
(``files.processes_holding``), and turns SQLite's "database is locked" into
the same refusal.  Sizes: the file and its -wal before and after, and each
table's pages (with its indexes) from the ``dbstat`` table where SQLite has it.
"""

from __future__ import annotations

import os
from typing import Any

from aura_db.engines.sqlite.files import is_locked, processes_holding
from aura_db.engines.upkeep import StepCallback, Upkeep, UpkeepReport
from aura_db.errors import AuraError, DatabaseInUse, UsageError

FREE_PAGES = "(free pages)"  # the freelist, reported beside the tables
_IN_USE_HINT = "stop the application (and any aura-db) using it, then run `aura-db optimize` again"


class SqliteUpkeep(Upkeep):
    @property
    def path(self) -> str | None:
        return self.engine.url.path

    def preflight(self) -> None:
        if self.path is None:
            raise UsageError("an in-memory SQLite database has no file to optimize", hint="pass --db with a file path")
        in_use = processes_holding(self.path)
        if in_use:
            raise DatabaseInUse(
                f"{self.path} is in use by process {', '.join(map(str, in_use[:5]))}; nothing changed",
                hint=_IN_USE_HINT,
            )

    def _files(self) -> dict[str, int]:
        sizes = {}
        for suffix in ("", "-wal"):
            try:
                sizes[os.path.basename(self.path + suffix)] = os.path.getsize(self.path + suffix)
            except OSError:
                continue
        return sizes

    def _tables(self) -> dict[str, int]:
        """Bytes of each table with its indexes (dbstat); empty when this SQLite lacks dbstat."""
        try:
            rows = self.db.execute_sql(
                "SELECT m.tbl_name, SUM(s.pgsize) FROM dbstat AS s JOIN sqlite_master AS m ON m.name = s.name "
                "GROUP BY m.tbl_name").fetchall()
        except Exception:  # noqa: BLE001 - no dbstat in this build: files only
            return {}
        sizes = {name: int(size or 0) for name, size in rows if not name.startswith("sqlite_")}
        # A delete leaves its pages on the freelist, which belongs to no table: that is where
        # the space a VACUUM gives back shows.
        page = int(self.db.execute_sql("PRAGMA page_size").fetchone()[0])
        sizes[FREE_PAGES] = page * int(self.db.execute_sql("PRAGMA freelist_count").fetchone()[0])
        return sizes

    def _run(self, sql: str, on_step: StepCallback | None, report: UpkeepReport, *,
             to_the_end: bool = False) -> list[Any]:
        if on_step is not None:
            on_step(sql, None)
        report.steps.append(sql)
        try:
            if to_the_end:
                # A statement that returns no rows is stepped once by the sqlite3 module, and
                # incremental_vacuum frees one page per step: sqlite3_exec runs it to the end.
                self.db.connection().executescript(sql + ";")
                return []
            return list(self.db.execute_sql(sql).fetchall())
        except Exception as exc:  # noqa: BLE001 - sqlite3 and peewee wrap the same errors
            if is_locked(exc):
                raise DatabaseInUse(f"{self.path} is in use by another connection ({exc}); "
                                    f"`{sql}` did not run", hint=_IN_USE_HINT) from None
            raise AuraError(f"{sql} failed on {self.path}: {exc}") from None

    def run(self, on_step: StepCallback | None = None) -> UpkeepReport:
        report = UpkeepReport(what_is_measured="the database file and its -wal")
        self.preflight()
        report.files_before = self._files()
        report.tables_before = self._tables()
        report.total_before = sum(report.files_before.values())
        wal = str(self.db.execute_sql("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
        if wal:
            self._checkpoint(on_step, report)
        auto_vacuum = int(self.db.execute_sql("PRAGMA auto_vacuum").fetchone()[0])
        if auto_vacuum == 2:  # INCREMENTAL: hand the free pages back without rewriting the file
            self._run("PRAGMA incremental_vacuum", on_step, report, to_the_end=True)
        else:
            self._run("VACUUM", on_step, report)
        self._run("ANALYZE", on_step, report)
        self._run("PRAGMA optimize", on_step, report)
        if wal:  # VACUUM went through the WAL: write it back and give the file its new size
            self._checkpoint(on_step, report)
        report.files_after = self._files()
        report.tables_after = self._tables()
        report.total_after = sum(report.files_after.values())
        return report

    def _checkpoint(self, on_step: StepCallback | None, report: UpkeepReport) -> None:
        busy, _log, _done = self._run("PRAGMA wal_checkpoint(TRUNCATE)", on_step, report)[0]
        if busy:
            raise DatabaseInUse(f"{self.path}: the WAL checkpoint could not finish: another connection "
                                "is reading or writing", hint=_IN_USE_HINT)
