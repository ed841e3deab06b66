"""aura-db script, and its agreement with migrate/rollback --dry-run (SQLite, in-process)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest

from aura_db import __version__
from aura_db import script as core
from aura_db.migrations import checksum
from conftest import FIRST, HEAD, NEXT, SHIPPED

HEAD_N = HEAD.split("_", 1)[0]  # the number of the newest shipped migration

# 002 rebuilds the parent table on SQLite (a real intermediate state is
# needed to script it), 003 adds a column and an index.
WIDEN_TITLE = '''
"""Widen ProjectStates.Title: SQLite rebuilds the table."""
import peewee as pw


def migrate(migrator, database, *, fake=False):
    migrator.change_fields("ProjectStates", title=pw.CharField(column_name="Title", max_length=1000))


def rollback(migrator, database, *, fake=False):
    migrator.change_fields("ProjectStates", title=pw.CharField(column_name="Title", max_length=500))
'''

ADD_TAGS = '''
"""Add ProjectStates.Labels with an index."""
import peewee as pw


def migrate(migrator, database, *, fake=False):
    migrator.add_fields("ProjectStates", labels=pw.CharField(column_name="Labels", max_length=200, null=True))
    migrator.add_index("ProjectStates", "labels", "status")


def rollback(migrator, database, *, fake=False):
    # peewee-migrate's drop_index cannot read the model-level indexes 001
    # declares, so the index goes by name.
    migrator.sql('DROP INDEX "ProjectStates_Labels_Status"')
    migrator.remove_fields("ProjectStates", "labels")
'''

RUNS_PYTHON = '''
"""Backfill with Python: cannot be a script."""


def backfill(database):
    database.execute_sql('UPDATE "ProjectStates" SET "Status" = \\'Draft\\'')


def migrate(migrator, database, *, fake=False):
    migrator.run(backfill, database)


def rollback(migrator, database, *, fake=False):
    pass
'''

EXECUTES_DIRECTLY = '''
"""Reads data inside migrate() itself."""


def migrate(migrator, database, *, fake=False):
    database.execute_sql('SELECT count(*) FROM "ProjectStates"')


def rollback(migrator, database, *, fake=False):
    pass
'''


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source).lstrip())
    return path


@pytest.fixture
def mig(migrations_copy: Path) -> Path:
    write(migrations_copy, f"{NEXT:03d}_widen_title", WIDEN_TITLE)
    write(migrations_copy, f"{NEXT + 1:03d}_add_tags", ADD_TAGS)
    return migrations_copy


def run_script_sqlite(script_path: Path, db: Path) -> None:
    """Run a script with the sqlite3 client when there is one, as a DBA would."""
    client = shutil.which("sqlite3")
    if client:
        with open(script_path, "rb") as fh:
            done = subprocess.run([client, "-bail", str(db)], stdin=fh, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode()
    else:  # the same statements through Python's sqlite3
        con = sqlite3.connect(db)
        con.executescript(script_path.read_text())
        con.close()


def schema(db: Path) -> dict:
    """Tables, columns, indexes (with their columns) and history rows of a SQLite file."""
    con = sqlite3.connect(db)
    try:
        out: dict = {"tables": {}, "indexes": {}}
        names = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for t in names:
            out["tables"][t] = [tuple(r[1:]) for r in con.execute(f'PRAGMA table_info("{t}")')]
            for idx in con.execute(f'PRAGMA index_list("{t}")'):
                cols = [r[2] for r in con.execute(f'PRAGMA index_info("{idx[1]}")')]
                out["indexes"][idx[1]] = (t, bool(idx[2]), cols)
        out["history"] = con.execute(
            "SELECT name, checksum FROM aura_schema_history ORDER BY id").fetchall()
        if "system_configuration" in names:
            out["sysconfig"] = con.execute('SELECT "id", "is_setup_complete" FROM "system_configuration"').fetchall()
        return out
    finally:
        con.close()


# --------------------------------------------------------------------------
# The scripted database is the migrated one


def test_scripted_sqlite_database_equals_the_migrated_one(cli, mig, workdir):
    migrated, scripted = workdir / "migrated.db", workdir / "scripted.db"
    r = cli("--db", migrated, "--migrations", mig, "migrate", "--no-backup")
    assert r.exit_code == 0, r
    r = cli("--migrations", mig, "script", "out.sql")
    assert r.exit_code == 0, r
    assert not (workdir / "aura.db").exists()  # the default database was never touched
    run_script_sqlite(workdir / "out.sql", scripted)

    a, b = schema(migrated), schema(scripted)
    assert a["tables"] == b["tables"]
    assert a["indexes"] == b["indexes"]
    assert a["history"] == b["history"]
    assert [n for n, _ in b["history"]] == [*SHIPPED, f"{NEXT:03d}_widen_title", f"{NEXT + 1:03d}_add_tags"]
    assert dict(b["history"])[f"{NEXT + 1:03d}_add_tags"] == checksum(mig / f"{NEXT + 1:03d}_add_tags.py")
    assert b["sysconfig"] == [(1, 0)]
    assert "Labels" in [c[0] for c in b["tables"]["ProjectStates"]]

    r = cli("--db", scripted, "--migrations", mig, "status", "--check")
    assert r.exit_code == 0, r
    r = cli("--db", scripted, "--migrations", mig, "status", "--json")
    doc = json.loads(r.stdout)
    assert doc["up_to_date"] and doc["head"] == f"{NEXT + 1:03d}_add_tags"
    assert {m["checksum_state"] for m in doc["migrations"]} == {"ok"}


def test_migrate_after_a_partial_script_applies_the_rest(cli, mig, workdir):
    db = workdir / "db.sqlite"
    assert cli("--migrations", mig, "script", "up.sql", "--to", f"{NEXT:03d}").exit_code == 0
    run_script_sqlite(workdir / "up.sql", db)
    r = cli("--db", db, "--migrations", mig, "status", "--json")
    assert json.loads(r.stdout)["pending"] == [f"{NEXT + 1:03d}_add_tags"]
    r = cli("--db", db, "--migrations", mig, "migrate", "--no-backup")
    assert r.exit_code == 0, r
    assert cli("--db", db, "--migrations", mig, "status", "--check").exit_code == 0


def test_rollback_script_undoes_newest_first_and_removes_history(cli, mig, workdir):
    db = workdir / "db.sqlite"
    assert cli("--migrations", mig, "script", "up.sql").exit_code == 0
    run_script_sqlite(workdir / "up.sql", db)
    r = cli("--migrations", mig, "script", "down.sql", "--rollback", "--to", HEAD_N)
    assert r.exit_code == 0, r
    text = (workdir / "down.sql").read_text()
    assert text.index(f"-- rollback {NEXT + 1:03d}_add_tags") < text.index(f"-- rollback {NEXT:03d}_widen_title")
    assert f"-- rollback {FIRST}" not in text
    run_script_sqlite(workdir / "down.sql", db)
    s = schema(db)
    assert [n for n, _ in s["history"]] == SHIPPED
    assert "Labels" not in [c[0] for c in s["tables"]["ProjectStates"]]
    assert "IX_ProjectStates_Status" in s["indexes"]  # the rebuild back kept 001's indexes
    # and the full way down leaves only aura-db's own tables
    assert cli("--migrations", mig, "script", "all.sql", "--rollback", "--from", HEAD_N).exit_code == 0
    run_script_sqlite(workdir / "all.sql", db)
    assert set(schema(db)["tables"]) == {"aura_schema_history", "aura_migration_log"}
    assert schema(db)["history"] == []


def test_history_ddl_is_what_migrate_creates(cli, workdir):
    migrated = workdir / "m.db"
    assert cli("--db", migrated, "migrate", "--no-backup").exit_code == 0
    result = core.build(Path(__file__).resolve().parent.parent / "migrations")
    con = sqlite3.connect(migrated)
    made = {r[0] for r in con.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name IN ('aura_schema_history', 'aura_migration_log') AND sql IS NOT NULL")}
    con.close()
    scripted = {re.sub(r" IF NOT EXISTS", "", s).rstrip(";") for s in result.history_ddl}
    assert scripted == made


def test_header_names_range_dialect_version_and_checksums(cli, mig, workdir):
    r = cli("--migrations", mig, "script", "--from", HEAD_N)
    assert r.exit_code == 0, r
    head = r.stdout.split("\n\n", 1)[0]
    assert f"aura-db {__version__}" in head
    assert "sqlite" in head
    assert f"from {HEAD} to {NEXT + 1:03d}_add_tags" in head
    assert checksum(mig / f"{NEXT:03d}_widen_title.py") in head
    assert checksum(mig / f"{NEXT + 1:03d}_add_tags.py") in head
    assert f"-- migrate {HEAD}" not in r.stdout  # --from names the state it starts from


def test_script_never_creates_or_touches_a_database(cli, mig, workdir):
    r = cli("--db", workdir / "nothere.db", "--migrations", mig, "script")
    assert r.exit_code == 0, r
    assert sorted(p.name for p in workdir.iterdir()) == ["migrations"]


def test_script_json_gives_statements_per_migration(cli, mig, workdir):
    r = cli("--migrations", mig, "script", "out.sql", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert [m["name"] for m in doc["migrations"]] == [*SHIPPED, f"{NEXT:03d}_widen_title", f"{NEXT + 1:03d}_add_tags"]
    tags = doc["migrations"][len(SHIPPED) + 1]["statements"]
    assert any("ADD COLUMN" in s and '"Labels"' in s for s in tags)
    assert doc["output"].endswith("out.sql") and (workdir / "out.sql").exists()


# --------------------------------------------------------------------------
# Dry runs print the same SQL


def _normalise(statements: list[str]) -> list[str]:
    # Timestamps written by a migration (001's SystemConfiguration row) are
    # taken when the SQL is generated, so two generations differ there only.
    return [re.sub(r"'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?'", "'<now>'", s) for s in statements]


def test_migrate_dry_run_and_script_agree_on_the_pending_range(cli, mig, workdir):
    db = workdir / "db.sqlite"
    assert cli("--db", db, "--migrations", mig, "migrate", "--to", HEAD_N, "--no-backup").exit_code == 0
    dry = cli("--db", db, "--migrations", mig, "migrate", "--dry-run", "--json")
    assert dry.exit_code == 0, dry
    scripted = cli("--migrations", mig, "script", "--from", HEAD_N, "--json")
    sql = json.loads(dry.stdout)["sql"]
    per = {m["name"]: m["statements"] for m in json.loads(scripted.stdout)["migrations"]}
    assert list(sql) == list(per) == [f"{NEXT:03d}_widen_title", f"{NEXT + 1:03d}_add_tags"]
    for name in sql:
        assert _normalise(sql[name]) == _normalise(per[name]), name
    # and from an empty database, 001 included
    empty = workdir / "empty.db"
    sqlite3.connect(empty).close()
    dry = cli("--db", empty, "--migrations", mig, "migrate", "--dry-run", "--json")
    full = cli("--migrations", mig, "script", "--json")
    per = {m["name"]: _normalise(m["statements"]) for m in json.loads(full.stdout)["migrations"]}
    assert {k: _normalise(v) for k, v in json.loads(dry.stdout)["sql"].items()} == per


def test_rollback_dry_run_and_rollback_script_agree(cli, mig, workdir):
    db = workdir / "db.sqlite"
    assert cli("--db", db, "--migrations", mig, "migrate", "--no-backup").exit_code == 0
    before = schema(db)
    dry = cli("--db", db, "--migrations", mig, "rollback", HEAD_N, "--dry-run", "--json")
    assert dry.exit_code == 0, dry
    assert schema(db) == before
    scripted = cli("--migrations", mig, "script", "--rollback", "--to", HEAD_N, "--json")
    assert scripted.exit_code == 0, scripted
    per = {m["name"]: m["statements"] for m in json.loads(scripted.stdout)["migrations"]}
    sql = json.loads(dry.stdout)["sql"]
    assert list(sql) == list(per) == [f"{NEXT + 1:03d}_add_tags", f"{NEXT:03d}_widen_title"]
    assert sql == per


# --------------------------------------------------------------------------
# Python migrations


def test_a_python_migration_stops_the_script_naming_it(cli, mig, workdir):
    write(mig, f"{NEXT + 2:03d}_backfill", RUNS_PYTHON)
    r = cli("--migrations", mig, "script", "out.sql")
    assert r.exit_code == 1
    assert f"{NEXT + 2:03d}_backfill" in r.stderr and "backfill" in r.stderr and "--allow-python" in r.stderr
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert not (workdir / "out.sql").exists()


def test_allow_python_writes_it_as_a_comment(cli, mig, workdir):
    write(mig, f"{NEXT + 2:03d}_backfill", RUNS_PYTHON)
    r = cli("--migrations", mig, "script", "--allow-python")
    assert r.exit_code == 0, r
    assert "-- (Python) migrator.run(backfill)" in r.stdout
    assert "UPDATE" not in r.stdout.split(f"-- migrate {NEXT + 2:03d}_backfill", 1)[1]
    assert f"{NEXT + 2:03d}_backfill" in r.stderr  # warned


def test_executing_sql_inside_migrate_counts_as_python(cli, mig, workdir):
    write(mig, f"{NEXT + 2:03d}_count", EXECUTES_DIRECTLY)
    r = cli("--migrations", mig, "script", "--from", f"{NEXT + 1:03d}")
    assert r.exit_code == 1
    assert f"{NEXT + 2:03d}_count" in r.stderr and "directly" in r.stderr


# --------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dialect", "oracle"], "oracle"),
        (["--idempotent"], "--idempotent"),
        (["--from", "042"], "unknown migration target"),
        (["--from", f"{NEXT + 1:03d}", "--to", HEAD_N], "--rollback"),
        (["--rollback", "--from", HEAD_N, "--to", f"{NEXT + 1:03d}"], "goes down"),
    ],
)
def test_bad_input_is_exit_2_on_one_line(cli, mig, workdir, args, message):
    r = cli("--migrations", mig, "script", "out.sql", *args)
    assert r.exit_code == 2, r
    assert message in r.stderr
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert not (workdir / "out.sql").exists()


def test_nothing_in_range_is_success_with_only_history_tables(cli, mig, workdir):
    r = cli("--migrations", mig, "script", "--from", f"{NEXT + 1:03d}")
    assert r.exit_code == 0, r
    assert "nothing to do" in r.stdout and "-- migrate" not in r.stdout
    assert "aura_schema_history" in r.stdout


def test_output_into_a_missing_folder_is_one_line(cli, mig, workdir):
    r = cli("--migrations", mig, "script", workdir / "no" / "such" / "out.sql")
    assert r.exit_code == 1
    assert r.stderr.startswith("error: cannot write") and "Traceback" not in r.stderr


# --------------------------------------------------------------------------
# Other dialects without a server


def test_postgresql_and_mysql_scripts_need_no_server(cli, mig, workdir):
    pg = cli("--migrations", mig, "script", "--dialect", "postgresql", "--to", HEAD_N)
    assert pg.exit_code == 0, pg
    assert '"Id" UUID NOT NULL PRIMARY KEY' in pg.stdout and "JSONB" in pg.stdout
    assert "(now() AT TIME ZONE 'UTC')" in pg.stdout
    my = cli("--migrations", mig, "script", "--dialect", "mysql", "--to", HEAD_N)
    assert my.exit_code == 0, my
    assert "`ProjectStates`" in my.stdout and "DATETIME(6)" in my.stdout
    assert "BEGIN;" not in my.stdout  # MySQL commits DDL: no transaction is promised


def test_idempotent_postgresql_guards_every_block_with_its_history_row(cli, mig, workdir):
    r = cli("--migrations", mig, "script", "--dialect", "postgresql", "--idempotent", "--to", f"{NEXT + 1:03d}")
    assert r.exit_code == 0, r
    for name in (HEAD, f"{NEXT:03d}_widen_title", f"{NEXT + 1:03d}_add_tags"):
        assert f"IF NOT EXISTS (SELECT 1 FROM \"aura_schema_history\" WHERE \"name\" = '{name}') THEN" in r.stdout
    assert r.stdout.count("DO $aura$") == len(SHIPPED) + 2


def test_a_step_that_reads_the_schema_asks_for_a_server(cli, migrations_copy, workdir):
    # PostgreSQL renames a table's sequence along with it, which it has to look up.
    write(migrations_copy, f"{NEXT:03d}_rename", '''
        """Rename a table."""


        def migrate(migrator, database, *, fake=False):
            migrator.rename_table("export_history", "exports")


        def rollback(migrator, database, *, fake=False):
            migrator.rename_table("exports", "export_history")
    ''')
    r = cli("--migrations", migrations_copy, "script", "--dialect", "postgresql")
    assert r.exit_code == 2, r
    assert f"{NEXT:03d}_rename" in r.stderr and "needs a server" in r.stderr and "--db" in r.stderr
    # SQLite needs none: it runs in memory
    r = cli("--migrations", migrations_copy, "script")
    assert r.exit_code == 0, r
    assert 'ALTER TABLE "export_history" RENAME TO "exports"' in r.stdout


def test_build_returns_data_and_prints_nothing(mig, capsys):
    result = core.build(mig, dialect="sqlite", from_=f"{NEXT:03d}")
    assert result.names == [f"{NEXT + 1:03d}_add_tags"]
    assert result.from_head == f"{NEXT:03d}_widen_title" and result.to_head == f"{NEXT + 1:03d}_add_tags"
    assert result.to_dict()["migrations"][0]["checksum"] == checksum(mig / f"{NEXT + 1:03d}_add_tags.py")
    assert capsys.readouterr() == ("", "")


def test_scripted_shipped_schema_passes_verify(cli, workdir):
    assert cli("script", "out.sql").exit_code == 0
    run_script_sqlite(workdir / "out.sql", workdir / "new.db")
    r = cli("--db", workdir / "new.db", "verify")
    assert r.exit_code == 0, r


def test_mysql_script_without_a_server_and_where_it_needs_one(cli, migrations_copy, workdir):
    write(migrations_copy, f"{NEXT:03d}_add_note", '''
        """Add a nullable column and drop it again on the way down."""
        import peewee as pw


        def migrate(migrator, database, *, fake=False):
            migrator.add_fields("ProjectStates", note=pw.TextField(column_name="Note", null=True))


        def rollback(migrator, database, *, fake=False):
            migrator.remove_fields("ProjectStates", "note")
    ''')
    r = cli("--migrations", migrations_copy, "script", "--dialect", "mysql", "--from", HEAD_N)
    assert r.exit_code == 0, r
    assert "ALTER TABLE `ProjectStates` ADD COLUMN `Note` TEXT;" in r.stdout
    # the way down asks which foreign keys the table has: the model state answers
    r = cli("--migrations", migrations_copy, "script", "--dialect", "mysql", "--rollback", "--to", HEAD_N)
    assert r.exit_code == 0, r
    assert "ALTER TABLE `ProjectStates` DROP COLUMN `Note`" in r.stdout
    # MySQL re-states a whole column to change it, which it reads from the server
    write(migrations_copy, f"{NEXT + 1:03d}_widen_title", WIDEN_TITLE)
    r = cli("--migrations", migrations_copy, "script", "--dialect", "mysql", "out.sql")
    assert r.exit_code == 2, r
    assert f"{NEXT + 1:03d}_widen_title" in r.stderr and "needs a server" in r.stderr and "mysql://" in r.stderr
    assert not (workdir / "out.sql").exists()


def test_mysql_script_past_the_empty_database_does_not_recreate_history_tables(cli, mig, workdir):
    # MySQL cannot say CREATE INDEX IF NOT EXISTS: a second CREATE would fail.
    fresh = cli("--migrations", mig, "script", "--dialect", "mysql", "--to", HEAD_N)
    assert "\nCREATE UNIQUE INDEX `history_name`" in fresh.stdout
    later = cli("--migrations", mig, "script", "--dialect", "mysql", "--from", f"{NEXT:03d}", "--to", f"{NEXT:03d}")
    assert later.exit_code == 0, later
    assert "\nCREATE UNIQUE INDEX `history_name`" not in later.stdout
    assert "-- (exist already) CREATE UNIQUE INDEX `history_name`" in later.stdout


def test_core_modules_do_not_import_the_cli_framework():
    import sys

    code = ("import sys, aura_db.script, aura_db.autogen, aura_db.authoring; "
            "bad = [m for m in ('typer', 'rich', 'click') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
