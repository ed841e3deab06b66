"""The schema a fresh `aura-db migrate` builds, table by table against the Aura app's own.

For each of the app's 8 migrations k, a fresh ``aura-db migrate --to <k-th
shipped migration>`` on SQLite is compared with the database the app's first
k migrations build (tests/aura_app.py): table and column names, type
affinity, NOT NULL, primary key, indexes (name, columns in order, unique),
foreign keys (target, ON DELETE), whether the integer key is AUTOINCREMENT
(EF declares its generated integer keys so: SQLite then keeps them in
``sqlite_sequence`` and never reuses an id) and the ``__EFMigrationsHistory`` rows.
Names are compared as SQLite compares them, without regard to case.

The comparison here reads SQLite's PRAGMAs directly, independent of the
catalog code aura-db itself uses for `adopt`.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

import aura_app
from conftest import MIGRATIONS, SHIPPED

AURA_TABLES = {"aura_schema_history", "aura_migration_log"}
AUTOINCREMENT = re.compile(r"\bPRIMARY\s+KEY\s+AUTOINCREMENT\b", re.IGNORECASE)


def affinity(declared: str) -> str:
    t = (declared or "").upper()
    if "INT" in t:
        return "INTEGER"
    if any(k in t for k in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not t or "BLOB" in t:
        return "BLOB"
    if any(k in t for k in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def describe(db: Path) -> dict:
    """{table: {columns, indexes, foreign_keys}} with names folded, plus the EF history rows."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    out: dict = {}
    try:
        for t, sql in con.execute("SELECT name, sql FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"):
            if t in AURA_TABLES:
                continue
            cols = {}
            for _cid, name, decl, notnull, _default, pk in con.execute(f'PRAGMA table_info("{t}")'):
                aff = affinity(decl)
                cols[name.lower()] = (aff, bool(notnull) or (pk and aff == "INTEGER"), pk)
            indexes = {}
            for _seq, name, unique, origin, _partial in con.execute(f'PRAGMA index_list("{t}")'):
                if origin == "pk":
                    continue
                icols = tuple(r[2].lower() for r in con.execute(f'PRAGMA index_info("{name}")'))
                indexes[name.lower()] = (icols, bool(unique))
            fks = sorted((r[3].lower(), r[2].lower(), r[4].lower(), r[6].upper())
                         for r in con.execute(f'PRAGMA foreign_key_list("{t}")'))
            out[t.lower()] = {"columns": cols, "indexes": indexes, "foreign_keys": fks,
                              "autoincrement": bool(AUTOINCREMENT.search(sql or ""))}
        if "__efmigrationshistory" in out:
            out["__ef_rows__"] = sorted(con.execute('SELECT "MigrationId", "ProductVersion" FROM "__EFMigrationsHistory"'))
    finally:
        con.close()
    return out


def compare(ours: dict, app: dict) -> list[str]:
    """Every difference, one line each ('ours' is aura-db's, 'app' the Aura app's)."""
    diffs = []
    for t in sorted(set(app) - set(ours)):
        diffs.append(f"{t}: missing in aura-db's schema")
    for t in sorted(set(ours) - set(app)):
        diffs.append(f"{t}: aura-db has it, the app does not")
    for t in sorted(set(ours) & set(app)):
        if t == "__ef_rows__":
            if ours[t] != app[t]:
                diffs.append(f"__EFMigrationsHistory rows: aura-db {ours[t]} vs app {app[t]}")
            continue
        o, a = ours[t], app[t]
        for c in sorted(set(a["columns"]) | set(o["columns"])):
            if c not in o["columns"]:
                diffs.append(f"{t}.{c}: missing in aura-db's schema")
            elif c not in a["columns"]:
                diffs.append(f"{t}.{c}: aura-db has it, the app does not")
            elif o["columns"][c] != a["columns"][c]:
                diffs.append(f"{t}.{c}: (affinity, not null, pk) aura-db {o['columns'][c]} vs app {a['columns'][c]}")
        for i in sorted(set(a["indexes"]) | set(o["indexes"])):
            if o["indexes"].get(i) != a["indexes"].get(i):
                diffs.append(f"{t} index {i}: aura-db {o['indexes'].get(i)} vs app {a['indexes'].get(i)}")
        if o["foreign_keys"] != a["foreign_keys"]:
            diffs.append(f"{t} foreign keys: aura-db {o['foreign_keys']} vs app {a['foreign_keys']}")
        if o["autoincrement"] != a["autoincrement"]:
            diffs.append(f"{t} key AUTOINCREMENT: aura-db {o['autoincrement']} vs app {a['autoincrement']}")
    return diffs


def _shipped_match_the_app() -> bool:
    from aura_db.migrations import discover, load

    files = discover(MIGRATIONS)
    return len(files) == 8 and [load(f).ef_migration_id for f in files] == aura_app.APP_MIGRATION_IDS


SHIPPED_READY = _shipped_match_the_app()


@pytest.mark.xfail(not SHIPPED_READY, strict=True,
                   reason="the shipped migrations do not yet name the app's 8 migrations (EF_MIGRATION_ID)")
@pytest.mark.parametrize("k", range(1, 9))
def test_fresh_migrate_builds_what_the_app_builds(cli, tmp_path, k):
    assert len(SHIPPED) >= k, f"only {len(SHIPPED)} shipped migration(s)"
    ours = tmp_path / "aura-db.db"
    r = cli("--db", ours, "migrate", "--to", SHIPPED[k - 1], "--no-backup")
    assert r.exit_code == 0, r
    app = aura_app.build_app_db(tmp_path / "app.db", upto=k, rows=False)
    assert compare(describe(ours), describe(app)) == []


@pytest.mark.parametrize("k", [1, 4, 8])
def test_the_comparison_finds_no_difference_between_equal_schemas(cli, tmp_path, k):
    """The app's own SQL run by aura-db gives the app's schema: the comparison itself is sound."""
    mig = aura_app.fixture_migrations(tmp_path / "m", upto=k)
    ours = tmp_path / "aura-db.db"
    r = cli("--db", ours, "--migrations", mig, "migrate", "--no-backup")
    assert r.exit_code == 0, r
    app = aura_app.build_app_db(tmp_path / "app.db", upto=k, rows=False)
    assert compare(describe(ours), describe(app)) == []


def test_the_comparison_reports_each_kind_of_difference(tmp_path):
    a = aura_app.build_app_db(tmp_path / "a.db", upto=8, rows=False)
    b = aura_app.build_app_db(tmp_path / "b.db", upto=8, rows=False)
    con = sqlite3.connect(b)
    con.executescript('''
        DROP INDEX "IX_users_email";
        CREATE UNIQUE INDEX "IX_users_email" ON "users" ("username", "email");
        ALTER TABLE "Settings" ADD "Theme" TEXT NULL;
        DROP TABLE "MediaUsages";
        UPDATE "__EFMigrationsHistory" SET "ProductVersion" = '8.0.10';
        DROP TABLE "JobProgressHistory";
        CREATE TABLE "JobProgressHistory" ("Id" INTEGER NOT NULL PRIMARY KEY, "JobId" TEXT NOT NULL,
            "Stage" TEXT NOT NULL, "ProgressPercent" INTEGER NOT NULL, "Message" TEXT NOT NULL,
            "SubstageDetail" TEXT NULL, "CurrentItem" INTEGER NULL, "TotalItems" INTEGER NULL,
            "Timestamp" TEXT NOT NULL, "ElapsedMilliseconds" INTEGER NULL,
            "EstimatedRemainingMilliseconds" INTEGER NULL,
            FOREIGN KEY ("JobId") REFERENCES "JobQueue" ("JobId") ON DELETE CASCADE);
        CREATE INDEX "IX_JobProgressHistory_JobId" ON "JobProgressHistory" ("JobId");
        CREATE INDEX "IX_JobProgressHistory_Timestamp" ON "JobProgressHistory" ("Timestamp");
    ''')
    con.close()
    diffs = compare(describe(b), describe(a))
    assert "mediausages: missing in aura-db's schema" in diffs
    assert "settings.theme: aura-db has it, the app does not" in diffs
    assert any(d.startswith("users index ix_users_email:") for d in diffs)
    assert any(d.startswith("__EFMigrationsHistory rows") for d in diffs)
    assert "jobprogresshistory key AUTOINCREMENT: aura-db False vs app True" in diffs


def test_integer_keys_are_never_reused_as_in_the_app(cli, tmp_path):
    """AUTOINCREMENT on SQLite: sqlite_sequence exists, and deleting the highest id does not free it."""
    db = tmp_path / "aura-db.db"
    r = cli("--db", db, "migrate", "--no-backup")
    assert r.exit_code == 0, r
    con = sqlite3.connect(db)
    try:
        app_keyed = {t for t, sql in con.execute("SELECT name, sql FROM sqlite_master WHERE type='table'")
                     if AUTOINCREMENT.search(sql or "")}
        assert {"system_configuration", "AnalyticsSummaries", "PerformanceMetrics", "UsageStatistics",
                "JobProgressHistory", "CostTracking"} <= app_keyed
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone()[0] == 1
        top = con.execute('SELECT max("id") FROM "system_configuration"').fetchone()[0]
        con.execute('DELETE FROM "system_configuration" WHERE "id" = ?', (top,))
        con.execute('INSERT INTO "system_configuration" ("is_setup_complete", "output_directory", "created_at", '
                    '"updated_at") VALUES (0, \'out\', \'2025-01-01 00:00:00\', \'2025-01-01 00:00:00\')')
        new = con.execute('SELECT max("id") FROM "system_configuration"').fetchone()[0]
        assert new == top + 1
    finally:
        con.close()
