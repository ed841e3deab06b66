"""MySQL/MariaDB's upkeep: ``OPTIMIZE TABLE`` then ``ANALYZE TABLE`` on each table of the database.

On InnoDB, OPTIMIZE TABLE rebuilds the table (the server says "doing
recreate + analyze instead"), which gives back the free space inside its
tablespace file.  Sizes are information_schema's ``data_length +
index_length + data_free`` per table, read with the statistics cache off
(``information_schema_stats_expiry = 0``, MySQL 8) so that "after" is fresh.
"""

from __future__ import annotations

from aura_db.engines.upkeep import StepCallback, Upkeep, UpkeepReport
from aura_db.errors import AuraError

_SIZES = ("SELECT TABLE_NAME, COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) + COALESCE(DATA_FREE, 0) "
          "FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' "
          "ORDER BY TABLE_NAME")


class MysqlUpkeep(Upkeep):
    def _tables(self) -> dict[str, int]:
        return {name: int(size) for name, size in self.db.execute_sql(_SIZES).fetchall()}

    def _each(self, verb: str, tables: list[str], on_step: StepCallback | None, report: UpkeepReport) -> None:
        quote = self.engine.dialect.quote
        for table in tables:
            if on_step is not None:
                on_step(verb, table)
            try:
                rows = self.db.execute_sql(f"{verb} {quote(table)}").fetchall()
            except Exception as exc:  # noqa: BLE001 - the driver's error, said in one line
                raise AuraError(f"{verb} {table} failed: {self.engine.scrub(str(exc)).strip()}") from None
            # (Table, Op, Msg_type, Msg_text): an error row is a failure; notes are normal on InnoDB.
            for row in rows:
                if len(row) >= 4 and str(row[2]).lower() == "error":
                    report.warnings.append(f"{verb} {table}: {row[3]}")
        report.steps.append(f"{verb} on {len(tables)} table(s)")

    def run(self, on_step: StepCallback | None = None) -> UpkeepReport:
        report = UpkeepReport(what_is_measured="information_schema data_length + index_length + data_free")
        try:  # MySQL 8 caches these statistics for a day; MariaDB has no such cache (nor the variable)
            self.db.execute_sql("SET SESSION information_schema_stats_expiry = 0")
        except Exception:  # noqa: BLE001
            pass
        report.tables_before = self._tables()
        report.total_before = sum(report.tables_before.values())
        tables = list(report.tables_before)
        self._each("OPTIMIZE TABLE", tables, on_step, report)
        self._each("ANALYZE TABLE", tables, on_step, report)
        report.tables_after = self._tables()
        report.total_after = sum(report.tables_after.values())
        return report
