"""Reading a live database's own description of itself, per engine.

``verify`` and ``inspect`` ask the same questions of every engine (which
tables, columns, indexes and foreign keys exist; how many rows; how large;
does this query use an index), and each engine answers from its own catalog:
SQLite from ``PRAGMA``s and ``dbstat``, PostgreSQL from ``pg_catalog``,
MySQL/MariaDB from ``information_schema``.  One ``Catalog`` subclass per
engine keeps those differences here, chosen by ``catalog_for`` from the
engine's name; nothing else branches on the engine.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aura_db.errors import AuraError

MAX_PROBLEMS = 200  # a badly damaged file can report thousands; the first ones say enough

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.db import Engine


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as the engine spells it
    nullable: bool
    default: str | None = None
    primary_key: bool = False


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str
    target_table: str
    target_column: str
    on_delete: str  # CASCADE, NO ACTION, RESTRICT, SET NULL, SET DEFAULT


@dataclass
class TableSize:
    data_bytes: int | None
    index_bytes: int | None
    exact: bool
    how: str  # where the figure comes from, e.g. "dbstat", "estimate from sampled rows"

    @property
    def total_bytes(self) -> int | None:
        if self.data_bytes is None:
            return None
        return self.data_bytes + (self.index_bytes or 0)


@dataclass
class Plan:
    lines: list[str]
    uses_index: bool
    full_scan_of: list[str] = field(default_factory=list)
    sorts: bool = False


@dataclass
class Integrity:
    ran: str  # what was run, e.g. "PRAGMA quick_check"
    problems: list[str]


class Catalog:
    """What verify and inspect need from one engine's catalog."""

    name = "?"
    # Tables that belong to the engine itself, never to the application.
    internal_table = re.compile(r"^$")

    def __init__(self, engine: "Engine", db: "pw.Database"):
        self.engine = engine
        self.db = db

    # -- helpers -----------------------------------------------------------
    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    @property
    def param(self) -> str:
        return self.db.param

    def rows(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        return list(self.db.execute_sql(sql, tuple(params)).fetchall())

    def scalar(self, sql: str, params: tuple | list = ()) -> Any:
        row = self.db.execute_sql(sql, tuple(params)).fetchone()
        return row[0] if row else None

    # -- names -------------------------------------------------------------
    @property
    def case_insensitive_names(self) -> bool:
        """Whether the engine takes ``ProjectStates`` and ``projectstates`` for the same table."""
        return False

    def fold(self, name: str) -> str:
        """``name`` as the engine compares table and column names."""
        return name.casefold() if self.case_insensitive_names else name

    def live_names(self) -> dict[str, str]:
        """Folded name -> the table's name as the catalog spells it."""
        return {self.fold(t): t for t in self.tables()}

    def find_table(self, name: str) -> str | None:
        """The live table the engine would take ``name`` for, spelled as the catalog spells it."""
        return self.live_names().get(self.fold(name))

    # -- structure ---------------------------------------------------------
    def tables(self) -> list[str]:
        return sorted(t for t in self.db.get_tables() if not self.internal_table.match(t))

    def columns(self, table: str) -> list[Column]:
        raise NotImplementedError

    def indexes(self, table: str) -> list[Index]:
        """Named indexes, without the one the engine keeps for the primary key."""
        raise NotImplementedError

    def foreign_keys(self, table: str) -> list[ForeignKey]:
        raise NotImplementedError

    def normalize_type(self, type_name: str) -> str:
        """One spelling per type, so the models' DDL and the catalog compare equal."""
        t = re.sub(r"\s+", " ", type_name.strip().lower())
        t = re.sub(r"\s*\(\s*", "(", t)
        t = re.sub(r"\s*,\s*", ",", t)
        t = re.sub(r"\s*\)", ")", t)
        return t

    # -- contents ----------------------------------------------------------
    def row_count(self, table: str) -> int:
        return int(self.scalar(f"SELECT COUNT(*) FROM {self.quote(table)}"))

    def sample_rows(self, table: str, limit: int) -> tuple[list[str], list[tuple]]:
        cursor = self.db.execute_sql(f"SELECT * FROM {self.quote(table)} LIMIT {int(limit)}")
        names = [d[0] for d in cursor.description]
        return names, [tuple(r) for r in cursor.fetchall()]

    def sizes(self, tables: list[str]) -> dict[str, TableSize]:
        raise NotImplementedError

    def facts(self) -> dict[str, Any]:
        """Engine facts for `inspect`: size, page size, journal mode..."""
        raise NotImplementedError

    def health(self) -> dict[str, Any]:
        """Figures of a live database: latency of a trivial query, connections."""
        timings = []
        for _ in range(5):
            t0 = time.perf_counter()
            self.db.execute_sql("SELECT 1").fetchone()
            timings.append((time.perf_counter() - t0) * 1000)
        return {"latency_ms": round(statistics.median(timings), 3)}

    # -- checks ------------------------------------------------------------
    def integrity(self, full: bool) -> Integrity:
        raise NotImplementedError

    def orphans(self, fks: list[ForeignKey], full: bool = False) -> dict[str, int]:
        """Rows whose foreign key points at no parent, counted per child table.

        Works from the foreign keys the application expects, so orphans are
        found even where the constraint itself is missing.  The distinct key
        values come from the child's index on the key column (every Aura
        foreign key has one), so the parent is probed once per parent, not
        once per child row; rows are only counted for keys found missing.
        """
        out: dict[str, int] = {}
        q = self.quote
        for fk in fks:
            c, k, p, pk = q(fk.table), q(fk.column), q(fk.target_table), q(fk.target_column)
            n = self.scalar(
                f"SELECT COUNT(*) FROM {c} WHERE {k} IN (SELECT d.k FROM "
                f"(SELECT DISTINCT {k} AS k FROM {c} WHERE {k} IS NOT NULL) d "
                f"WHERE NOT EXISTS (SELECT 1 FROM {p} x WHERE x.{pk} = d.k))")
            if n:
                out[fk.table] = out.get(fk.table, 0) + int(n)
        return out

    def iterate(self, sql: str, params: tuple | list = ()):
        """Rows one at a time, for results too large to hold twice."""
        return iter(self.db.execute_sql(sql, tuple(params)))

    def explain(self, sql: str, params: tuple, table: str) -> Plan:
        raise NotImplementedError

    @property
    def concurrent_connections(self) -> bool:
        """A second connection sees the same database (not so for SQLite :memory:)."""
        return True


# --------------------------------------------------------------------------
# SQLite


class SqliteCatalog(Catalog):
    name = "sqlite"
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
        return [ForeignKey(table, r[0], r[1], r[2], self.RULES.get(_text(r[3]), _text(r[3]))) for r in rows]

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


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


# --------------------------------------------------------------------------
# MySQL / MariaDB


class MysqlCatalog(Catalog):
    name = "mysql"
    _lctn: int | None = None

    @property
    def lower_case_table_names(self) -> int:
        """The server's ``lower_case_table_names`` (0: names as written; 1, 2: case-insensitive)."""
        if self._lctn is None:
            self._lctn = int(self.scalar("SELECT @@lower_case_table_names") or 0)
        return self._lctn

    @property
    def case_insensitive_names(self) -> bool:
        return self.lower_case_table_names in (1, 2)

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def tables(self) -> list[str]:
        return [r[0] for r in self.rows(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1")]

    def normalize_type(self, type_name: str) -> str:
        t = super().normalize_type(type_name)
        t = t.removesuffix(" auto_increment")  # an attribute of the column, not its type
        if t in ("bool", "boolean", "tinyint(1)"):
            return "bool"
        # Display widths (int(11)) carry no meaning and differ between servers.
        t = re.sub(r"^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)", r"\1", t)
        t = {"integer": "int", "double precision": "double", "real": "double"}.get(t, t)
        return t

    def columns(self, table: str) -> list[Column]:
        rows = self.rows(
            "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'YES', COLUMN_DEFAULT, COLUMN_KEY = 'PRI' "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
            "ORDER BY ORDINAL_POSITION", (table,))
        # MariaDB reports "no default" on a nullable column as the text NULL.
        return [Column(r[0], r[1], bool(r[2]), None if r[3] in (None, "NULL") else r[3], bool(r[4]))
                for r in rows]

    def indexes(self, table: str) -> list[Index]:
        rows = self.rows(
            "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND INDEX_NAME <> 'PRIMARY' "
            "ORDER BY INDEX_NAME, SEQ_IN_INDEX", (table,))
        found: dict[str, tuple[list[str], bool]] = {}
        for name, non_unique, col in rows:
            found.setdefault(name, ([], not int(non_unique)))[0].append(col)
        return [Index(n, tuple(cols), u) for n, (cols, u) in sorted(found.items())]

    def foreign_keys(self, table: str) -> list[ForeignKey]:
        rows = self.rows(
            "SELECT k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.DELETE_RULE "
            "FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
            "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
            "AND r.TABLE_NAME = k.TABLE_NAME "
            "WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = %s AND k.REFERENCED_TABLE_NAME IS NOT NULL",
            (table,))
        return [ForeignKey(table, r[0], r[1], r[2], r[3]) for r in rows]

    def sizes(self, tables: list[str]) -> dict[str, TableSize]:
        rows = self.rows(
            "SELECT TABLE_NAME, DATA_LENGTH, INDEX_LENGTH FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE()")
        got = {r[0]: (r[1], r[2]) for r in rows}
        return {t: TableSize(int(got[t][0] or 0), int(got[t][1] or 0), False,
                             "information_schema.TABLES (InnoDB's estimate)")
                for t in tables if t in got}

    def facts(self) -> dict[str, Any]:
        size = self.scalar(
            "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
        return {
            "database_name": self.scalar("SELECT DATABASE()"),
            "database_size_bytes": int(size or 0),
            "page_size": int(self.scalar("SELECT @@innodb_page_size")),
            "journal_mode": "innodb redo log",
            "encoding": self.scalar("SELECT @@character_set_database"),
        }

    def health(self) -> dict[str, Any]:
        out = super().health()
        row = self.rows("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
        out["connections"] = int(row[0][1]) if row else None
        out["max_connections"] = int(self.scalar("SELECT @@max_connections"))
        return out

    def integrity(self, full: bool) -> Integrity:
        tables = self.tables()
        if not tables:
            return Integrity("CHECK TABLE", [])
        mode = "EXTENDED" if full else "QUICK"
        problems = []
        for table, _op, msg_type, msg_text in self.rows(
                f"CHECK TABLE {', '.join(self.quote(t) for t in tables)} {mode}"):
            if str(msg_type).lower() in ("error", "warning") or (
                    str(msg_type).lower() == "status" and str(msg_text).lower() != "ok"):
                problems.append(f"{table}: {msg_text}")
        return Integrity(f"CHECK TABLE ... {mode}", problems)

    CONST_LOOKUP = ("no matching row in const table", "impossible where noticed after reading const tables",
                    "const row not found")

    def explain(self, sql: str, params: tuple, table: str) -> Plan:
        cursor = self.db.execute_sql(f"EXPLAIN {sql}", params)
        names = [d[0].lower() for d in cursor.description]
        lines, scans, sorts = [], [], False
        for raw in cursor.fetchall():
            row = dict(zip(names, raw))
            extra = str(row.get("extra") or "")
            lines.append(f"{row.get('table')}: type={row.get('type')} key={row.get('key')} "
                         f"possible_keys={row.get('possible_keys')} {extra}".strip())
            if "filesort" in extra.lower():
                sorts = True
            # type ALL reads the table and type index the whole index; either is a
            # full scan unless the optimizer listed an index that could serve the
            # WHERE (it prefers scanning tiny tables even then).
            kind = str(row.get("type") or "")
            used = (kind and kind not in ("ALL", "index")) or row.get("possible_keys") or any(
                m in extra.lower() for m in self.CONST_LOOKUP)
            if not used and row.get("table"):
                scans.append(str(row.get("table")))
        return Plan(lines, uses_index=not scans, full_scan_of=scans, sorts=sorts)


CATALOGS: dict[str, type[Catalog]] = {
    "sqlite": SqliteCatalog,
    "postgresql": PostgresCatalog,
    "mysql": MysqlCatalog,
}


def catalog_for(engine: "Engine", db: "pw.Database") -> Catalog:
    try:
        return CATALOGS[engine.name](engine, db)
    except KeyError:
        raise AuraError(f"no catalog reader for engine {engine.name!r}") from None


def name_folder(engine: "Engine", db: "pw.Database") -> Any:
    """A function giving a name as ``engine`` compares table names (see ``Catalog.fold``)."""
    return catalog_for(engine, db).fold


def expected_type(db: "pw.Database", field: Any) -> str:
    """The column type a model field gets on ``db``, as the migrations create it."""
    from types import SimpleNamespace

    ctx = SimpleNamespace(state=SimpleNamespace(field_types=db._field_types))
    ddl = field.ddl_datatype(ctx)
    return ddl.sql if ddl is not None else ""
