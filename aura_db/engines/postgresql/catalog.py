"""PostgreSQL's catalog: pg_catalog and the statistics views."""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

from aura_db.catalog import Catalog, Column, ForeignKey, Index, Integrity, Plan, TableSize, text_of


# --------------------------------------------------------------------------
# PostgreSQL


class PostgresCatalog(Catalog):
    name = "postgresql"
    ALIASES = {
        "character varying": "varchar",
        "timestamp without time zone": "timestamp",
        "int4": "integer",
        "int": "integer",
        "int8": "bigint",
        "float8": "double precision",
        "bool": "boolean",
        # A serial column is an integer with a sequence behind its default.
        "serial": "integer",
        "bigserial": "bigint",
    }

    def tables(self) -> list[str]:
        return [r[0] for r in self.rows(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY 1")]

    def _oid(self, table: str) -> Any:
        return self.scalar(
            "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND n.nspname = current_schema()", (table,))

    def normalize_type(self, type_name: str) -> str:
        t = super().normalize_type(type_name)
        m = re.match(r"^([a-z ]+?)(\(.*\))?$", t)
        if m:
            base = self.ALIASES.get(m.group(1), m.group(1))
            t = base + (m.group(2) or "")
        return t

    def columns(self, table: str) -> list[Column]:
        oid = self._oid(table)
        if oid is None:
            return []
        rows = self.rows(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid), "
            "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary "
            "        AND a.attnum = ANY(i.indkey)) "
            "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (oid,))
        return [Column(r[0], r[1], bool(r[2]), r[3], bool(r[4])) for r in rows]

    def indexes(self, table: str) -> list[Index]:
        oid = self._oid(table)
        if oid is None:
            return []
        rows = self.rows(
            "SELECT ic.relname, i.indisunique, "
            "ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
            "      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) "
            "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
            "WHERE i.indrelid = %s AND NOT i.indisprimary ORDER BY 1", (oid,))
        return [Index(r[0], tuple(r[2]), bool(r[1])) for r in rows]

    RULES = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

    def foreign_keys(self, table: str) -> list[ForeignKey]:
        oid = self._oid(table)
        if oid is None:
            return []
        rows = self.rows(
            "SELECT a.attname, ft.relname, fa.attname, c.confdeltype "
            "FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "JOIN pg_class ft ON ft.oid = c.confrelid "
            "JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1] "
            "WHERE c.contype = 'f' AND c.conrelid = %s", (oid,))
        return [ForeignKey(table, r[0], r[1], r[2], self.RULES.get(text_of(r[3]), text_of(r[3]))) for r in rows]

    def sizes(self, tables: list[str]) -> dict[str, TableSize]:
        out = {}
        for t in tables:
            oid = self._oid(t)
            if oid is None:
                continue
            data, index = self.rows("SELECT pg_table_size(%s), pg_indexes_size(%s)", (oid, oid))[0]
            out[t] = TableSize(int(data), int(index), True, "pg_table_size / pg_indexes_size")
        return out

    def facts(self) -> dict[str, Any]:
        return {
            "database_name": self.scalar("SELECT current_database()"),
            "database_size_bytes": int(self.scalar("SELECT pg_database_size(current_database())")),
            "page_size": int(self.scalar("SELECT current_setting('block_size')")),
            "journal_mode": "wal_level=" + str(self.scalar("SELECT current_setting('wal_level')")),
            "encoding": self.scalar("SELECT pg_encoding_to_char(encoding) FROM pg_database "
                                    "WHERE datname = current_database()"),
        }

    def health(self) -> dict[str, Any]:
        out = super().health()
        out["connections"] = int(self.scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()"))
        out["max_connections"] = int(self.scalar("SELECT current_setting('max_connections')"))
        return out

    def settings_check(self) -> tuple[str, list[str]]:
        encoding = self.scalar("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()")
        if str(encoding).upper() == "UTF8":
            return "database encoding UTF8", []
        return f"database encoding {encoding}", [f"database {self.scalar('SELECT current_database()')} has encoding {encoding}, which "
                    + ("does not check text at all" if str(encoding).upper() == "SQL_ASCII" else
                       "cannot hold every character (emoji, CJK)")
                    + ": dump it and load it into a database created WITH ENCODING 'UTF8'"]

    def integrity(self, full: bool) -> Integrity:
        # PostgreSQL has no quick_check.  Where data checksums are on, the
        # server counts the damaged pages it has read; --full reads every row
        # of every table, which surfaces a damaged page as an error.
        checksums, failures = self.rows(
            "SELECT current_setting('data_checksums'), checksum_failures FROM pg_stat_database "
            "WHERE datname = current_database()")[0]
        problems = [f"the server has recorded {failures} page checksum failure(s) in this database"] if failures else []
        if not full:
            return Integrity(f"checksum failures recorded by the server (data checksums {checksums})", problems)
        for t in self.tables():
            try:
                # Turning each row into text reads every value, TOASTed ones too.
                self.scalar(f"SELECT COUNT(*) FROM {self.quote(t)} AS x WHERE x::text IS NOT NULL")
            except Exception as exc:  # noqa: BLE001 - report, keep checking the others
                problems.append(f"{t}: {str(exc).strip().splitlines()[0]}")
                self.db.rollback()
        return Integrity(f"full read of every table (data checksums {checksums})", problems)

    def explain(self, sql: str, params: tuple, table: str) -> Plan:
        import json

        # On small tables the planner rightly prefers a sequential scan, which
        # says nothing about whether an index could serve the query.  With
        # sequential scans priced out it picks an index whenever one fits.
        with self.db.atomic():
            self.db.execute_sql("SET LOCAL enable_seqscan = off")
            raw = self.scalar(f"EXPLAIN (FORMAT JSON) {sql}", params)
        doc = json.loads(raw) if isinstance(raw, str) else raw
        lines: list[str] = []
        scans: list[str] = []
        sorts = False

        def walk(node: dict, depth: int) -> None:
            nonlocal sorts
            kind = node.get("Node Type", "?")
            rel = node.get("Relation Name")
            idx = node.get("Index Name")
            lines.append("  " * depth + kind + (f" on {rel}" if rel else "") + (f" using {idx}" if idx else ""))
            # An index scan without an Index Cond walks the whole index (to get
            # an order), which is no better than a sequential scan.
            if rel and (kind == "Seq Scan" or (kind in ("Index Scan", "Index Only Scan")
                                                and "Index Cond" not in node)):
                scans.append(rel)
            if kind in ("Sort", "Incremental Sort"):
                sorts = True
            for child in node.get("Plans", []) or []:
                walk(child, depth + 1)

        walk(doc[0]["Plan"], 0)
        return Plan(lines, uses_index=not scans, full_scan_of=scans, sorts=sorts)
