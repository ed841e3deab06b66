"""PostgreSQL's upkeep: ``VACUUM (ANALYZE)`` on each table of the schema, outside any transaction.

Sizes are ``pg_total_relation_size`` (table, indexes, TOAST) of each table
before and after.  A plain VACUUM marks dead rows' space reusable and gives
back to the operating system only the empty pages at a table's end, so the
space given back is often less than what a delete freed; the report says what
was measured.
"""

from __future__ import annotations

from aura_db.engines.upkeep import StepCallback, Upkeep, UpkeepReport
from aura_db.errors import AuraError

_SIZES = ("SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
          "JOIN pg_namespace n ON n.oid = c.relnamespace "
          "WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname = current_schema() ORDER BY c.relname")


class PostgresUpkeep(Upkeep):
    def _tables(self) -> dict[str, int]:
        return {name: int(size) for name, size in self.db.execute_sql(_SIZES).fetchall()}

    def run(self, on_step: StepCallback | None = None) -> UpkeepReport:
        report = UpkeepReport(what_is_measured="pg_total_relation_size of each table (with indexes and TOAST)")
        report.tables_before = self._tables()
        report.total_before = sum(report.tables_before.values())
        quote = self.engine.dialect.quote
        # peewee's PostgreSQL connections run in autocommit outside atomic():
        # VACUUM refuses to run inside a transaction block.
        for table in report.tables_before:
            if on_step is not None:
                on_step("VACUUM (ANALYZE)", table)
            try:
                self.db.execute_sql(f"VACUUM (ANALYZE) {quote(table)}")
            except Exception as exc:  # noqa: BLE001 - the driver's error, said in one line
                raise AuraError(f"VACUUM (ANALYZE) {table} failed: {self.engine.scrub(str(exc)).strip()}") from None
        report.steps.append(f"VACUUM (ANALYZE) on {len(report.tables_before)} table(s)")
        report.tables_after = self._tables()
        report.total_after = sum(report.tables_after.values())
        return report
