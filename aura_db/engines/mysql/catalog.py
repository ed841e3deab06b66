"""MySQL/MariaDB's catalog: information_schema."""

from __future__ import annotations

import re
from typing import Any

from aura_db.catalog import Catalog, Column, ForeignKey, Index, Integrity, Plan, TableSize
from aura_db.engines.mysql.dialect import SESSION_SQL_MODE, strict_sql_mode


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

    def folds_names_on_compare(self) -> bool:
        try:
            return int(self.scalar("SELECT @@lower_case_table_names") or 0) != 0
        except Exception:  # noqa: BLE001 - an old server without the variable
            return False

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

    # Character sets that hold every Unicode character (utf8/utf8mb3 stop at
    # three bytes: no emoji; latin1 and the others hold one script or two).
    FULL_UNICODE = ("utf8mb4", "utf16", "utf16le", "utf32")

    def settings_check(self) -> tuple[str, list[str]]:
        problems = []
        full = self.FULL_UNICODE
        marks = ", ".join(["%s"] * len(full))
        db_charset = self.scalar(
            "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()")
        name = self.scalar("SELECT DATABASE()")
        if db_charset and db_charset.lower() not in full:
            problems.append(
                f"database {name} defaults to character set {db_charset}, which cannot hold every character "
                f"(emoji, CJK): tables created in it get it too; "
                f"ALTER DATABASE {self.quote(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        tables = self.rows(
            "SELECT t.TABLE_NAME, c.CHARACTER_SET_NAME FROM information_schema.TABLES t "
            "JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY c ON c.COLLATION_NAME = t.TABLE_COLLATION "
            f"WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' AND c.CHARACTER_SET_NAME NOT IN ({marks}) "
            "ORDER BY 1", full)
        columns: dict[str, list[str]] = {}
        for table, column, charset in self.rows(
                "SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
                f"WHERE TABLE_SCHEMA = DATABASE() AND CHARACTER_SET_NAME IS NOT NULL "
                f"AND CHARACTER_SET_NAME NOT IN ({marks}) ORDER BY TABLE_NAME, ORDINAL_POSITION", full):
            columns.setdefault(table, []).append(f"{column} ({charset})")
        table_charset = dict(tables)
        for table in sorted(set(table_charset) | set(columns)):
            cols = columns.get(table, [])
            what = f"table {table}"
            if table in table_charset:
                what += f" defaults to {table_charset[table]}"
            if cols:
                shown = ", ".join(cols[:5]) + (f" (+{len(cols) - 5} more)" if len(cols) > 5 else "")
                what += ("; " if table in table_charset else ": ") + f"text column(s) {shown}"
            problems.append(f"{what}: emoji and other characters become '?'; "
                            f"ALTER TABLE {self.quote(table)} CONVERT TO CHARACTER SET utf8mb4 "
                            "COLLATE utf8mb4_unicode_ci")
        mode = str(self.scalar("SELECT @@GLOBAL.sql_mode") or "")
        if not strict_sql_mode(mode):
            problems.append(
                f"the server's global sql_mode ({mode or 'empty'}) is not strict: the app's own connections "
                "truncate over-long text and store bad values without an error (aura-db's sessions are strict); "
                f"SET GLOBAL sql_mode = '{SESSION_SQL_MODE}' and put sql_mode in the server's option file")
        if not problems:
            return "utf8mb4 database, tables and text columns; global sql_mode strict", []
        parts = []
        if db_charset and db_charset.lower() not in full:
            parts.append(f"database default {db_charset}")
        narrow = sorted(set(table_charset) | set(columns))
        if narrow:
            parts.append(f"{len(narrow)} table(s) not utf8mb4: " + ", ".join(narrow[:5])
                         + (f" (+{len(narrow) - 5} more)" if len(narrow) > 5 else ""))
        if not strict_sql_mode(mode):
            parts.append(f"global sql_mode not strict ({mode or 'empty'})")
        return "; ".join(parts), problems

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
