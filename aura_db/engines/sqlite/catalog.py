"""SQLite's catalog: PRAGMAs and dbstat."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from aura_db.catalog import MAX_PROBLEMS, Catalog, Column, ForeignKey, Index, Integrity, Plan, TableSize


# --------------------------------------------------------------------------
# SQLite


class SqliteCatalog(Catalog):
    name = "sqlite"

    def folds_names_on_compare(self) -> bool:
        return True
    # SQLite compares table, column and index names without regard to (ASCII) case.
    case_insensitive_names = True
    internal_table = re.compile(r"^sqlite_")

    def columns(self, table: str) -> list[Column]:
        rows = self.rows(f"PRAGMA table_info({self.quote(table)})")
        return [Column(r[1], r[2], not r[3], r[4], bool(r[5])) for r in rows]

    def indexes(self, table: str) -> list[Index]:
        out = []
        for _seq, name, unique, origin, _partial in self.rows(f"PRAGMA index_list({self.quote(table)})"):
            if origin == "pk":
                continue
            cols = tuple(r[2] for r in self.rows(f"PRAGMA index_info({self.quote(name)})"))
            out.append(Index(name, cols, bool(unique)))
        return sorted(out, key=lambda i: i.name)

    def foreign_keys(self, table: str) -> list[ForeignKey]:
        rows = self.rows(f"PRAGMA foreign_key_list({self.quote(table)})")
        return [ForeignKey(table, r[3], r[2], r[4], (r[6] or "NO ACTION").upper()) for r in rows]

    def sizes(self, tables: list[str]) -> dict[str, TableSize]:
        owner = {name: tbl for name, tbl in self.rows(
            "SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")}
        try:
            # dbstat is a compile-time option; where it exists it is exact.
            per_btree = self.rows("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
        except Exception:  # noqa: BLE001 - "no such table: dbstat"
            return self._estimated_sizes(tables)
        data: dict[str, int] = {}
        index: dict[str, int] = {}
        for name, size in per_btree:
            tbl = owner.get(name)
            if tbl is None:
                continue
            if name == tbl:
                data[tbl] = data.get(tbl, 0) + int(size)
            else:
                index[tbl] = index.get(tbl, 0) + int(size)
        return {t: TableSize(data.get(t, 0), index.get(t, 0), True, "dbstat") for t in tables}

    def _estimated_sizes(self, tables: list[str]) -> dict[str, TableSize]:
        out = {}
        for t in tables:
            cols = [c.name for c in self.columns(t)]
            if not cols:
                continue
            lengths = " + ".join(f"COALESCE(LENGTH({self.quote(c)}), 0)" for c in cols)
            avg = self.scalar(f"SELECT AVG({lengths}) FROM (SELECT * FROM {self.quote(t)} LIMIT 200)") or 0
            out[t] = TableSize(int(avg * self.row_count(t)), None, False,
                               "estimate from 200 sampled rows (dbstat unavailable)")
        return out

    def facts(self) -> dict[str, Any]:
        path = self.engine.url.path
        size = None
        if path and os.path.exists(path):
            size = os.path.getsize(path)
            wal = path + "-wal"
            if os.path.exists(wal):
                size += os.path.getsize(wal)
        return {
            "file_size_bytes": size,
            "page_size": self.scalar("PRAGMA page_size"),
            "page_count": self.scalar("PRAGMA page_count"),
            "freelist_pages": self.scalar("PRAGMA freelist_count"),
            "journal_mode": self.scalar("PRAGMA journal_mode"),
            "encoding": self.scalar("PRAGMA encoding"),
        }

    def health(self) -> dict[str, Any]:
        out = super().health()
        out["connections"] = None  # an embedded file: no server to count connections on
        return out

    def integrity(self, full: bool) -> Integrity:
        pragma = "integrity_check" if full else "quick_check"
        # One row per problem, except that SQLite packs several lines into a
        # row when it gives up on a damaged b-tree: split them.
        lines = [line for r in self.rows(f"PRAGMA {pragma}") for line in str(r[0]).splitlines()]
        problems = [line for line in lines if line != "ok" and not line.startswith("*** in database")]
        return Integrity(f"PRAGMA {pragma}", problems[:MAX_PROBLEMS] + (
            [f"... and {len(problems) - MAX_PROBLEMS} more"] if len(problems) > MAX_PROBLEMS else []))

    def orphans(self, fks: list[ForeignKey], full: bool = False) -> dict[str, int]:
        if not full:
            return super().orphans(fks)
        # --full: PRAGMA foreign_key_check reads every child row and checks
        # every declared key in the file, the Aura ones and any others.
        out: dict[str, int] = {}
        for table, _rowid, _parent, _fkid in self.rows("PRAGMA foreign_key_check"):
            out[table] = out.get(table, 0) + 1
        declared = {(fk.table, fk.column) for t in {f.table for f in fks} for fk in self.foreign_keys(t)}
        missing = [fk for fk in fks if (fk.table, fk.column) not in declared]
        if missing:  # no constraint to check against: look for orphans directly
            for t, n in super().orphans(missing).items():
                out[t] = out.get(t, 0) + n
        return out

    def explain(self, sql: str, params: tuple, table: str) -> Plan:
        rows = self.rows(f"EXPLAIN QUERY PLAN {sql}", params)
        lines = [r[3] for r in rows]
        # SEARCH is a lookup through an index.  SCAN, even "USING INDEX", reads
        # every entry: that is how SQLite serves an ORDER BY whose WHERE has no index.
        scans = [line.split()[1] for line in lines if line.startswith("SCAN ")]
        sorts = any("TEMP B-TREE FOR ORDER BY" in line for line in lines)
        return Plan(lines, uses_index=not scans, full_scan_of=scans, sorts=sorts)

    @property
    def concurrent_connections(self) -> bool:
        return self.engine.url.path is not None
