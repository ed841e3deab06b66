"""aura-db script on PostgreSQL: psql runs it, aura-db accepts the result (real server).

Needs AURA_DB_TEST_POSTGRES_URL (skipped without it) and the psql client.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_script import ADD_TAGS, WIDEN_TITLE, write
from conftest import HEAD, NEXT, SHIPPED

HEAD_N = HEAD.split("_", 1)[0]  # the number of the newest shipped migration

PSQL = shutil.which("psql")
needs_psql = pytest.mark.skipif(PSQL is None, reason="the psql client is not installed")

RENAME_TABLE = '''
"""Rename a table (PostgreSQL looks up its sequence: needs a server to script)."""


def migrate(migrator, database, *, fake=False):
    migrator.rename_table("export_history", "exports")


def rollback(migrator, database, *, fake=False):
    migrator.rename_table("exports", "export_history")
'''


def psql(url: str, script: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([PSQL, "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(script)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def pg_schema(url: str) -> dict:
    """Tables, columns (type, nullability), indexes and history of a PostgreSQL database."""
    from playhouse.db_url import connect

    db = connect(url)
    try:
        cols = db.execute_sql(
            "SELECT table_name, column_name, data_type, is_nullable, character_maximum_length "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY table_name, ordinal_position").fetchall()
        idx = db.execute_sql(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "ORDER BY indexname").fetchall()
        history = db.execute_sql("SELECT name, checksum FROM aura_schema_history ORDER BY id").fetchall()
        return {"columns": cols, "indexes": idx, "history": history}
    finally:
        db.close()


@pytest.fixture
def mig(migrations_copy: Path) -> Path:
    write(migrations_copy, f"{NEXT:03d}_widen_title", WIDEN_TITLE)
    write(migrations_copy, f"{NEXT + 1:03d}_add_tags", ADD_TAGS)
    return migrations_copy


@needs_psql
def test_psql_builds_the_migrated_database_and_aura_db_accepts_it(cli, mig, workdir, server_url):
    migrated, scripted = server_url("postgresql"), server_url("postgresql")
    assert cli("--db", migrated, "--migrations", mig, "migrate", "--no-backup").exit_code == 0
    r = cli("--migrations", mig, "script", "out.sql", "--dialect", "postgresql")
    assert r.exit_code == 0, r
    psql(scripted, workdir / "out.sql")
    a, b = pg_schema(migrated), pg_schema(scripted)
    assert a == b
    assert [n for n, _ in b["history"]] == [*SHIPPED, f"{NEXT:03d}_widen_title", f"{NEXT + 1:03d}_add_tags"]
    r = cli("--db", scripted, "--migrations", mig, "status", "--check")
    assert r.exit_code == 0, r


@needs_psql
def test_scripted_shipped_schema_passes_verify(cli, workdir, server_url):
    url = server_url("postgresql")
    assert cli("script", "out.sql", "--dialect", "postgresql").exit_code == 0
    psql(url, workdir / "out.sql")
    r = cli("--db", url, "verify")
    assert r.exit_code == 0, r


@needs_psql
def test_idempotent_script_runs_twice_and_after_migrate(cli, mig, workdir, server_url):
    url = server_url("postgresql")
    r = cli("--migrations", mig, "script", "once.sql", "--dialect", "postgresql", "--idempotent")
    assert r.exit_code == 0, r
    psql(url, workdir / "once.sql")
    first = pg_schema(url)
    psql(url, workdir / "once.sql")  # again: every block sees its history row and skips
    assert pg_schema(url) == first
    assert len(first["history"]) == len(SHIPPED) + 2

    # a database migrated to 001 by aura-db takes the same script: 001 is skipped
    other = server_url("postgresql")
    assert cli("--db", other, "--migrations", mig, "migrate", "--to", HEAD_N, "--no-backup").exit_code == 0
    psql(other, workdir / "once.sql")
    assert cli("--db", other, "--migrations", mig, "status", "--check").exit_code == 0
    assert pg_schema(other)["columns"] == first["columns"]


@needs_psql
def test_rollback_script_on_postgresql(cli, mig, workdir, server_url):
    url = server_url("postgresql")
    assert cli("--db", url, "--migrations", mig, "migrate", "--no-backup").exit_code == 0
    r = cli("--migrations", mig, "script", "down.sql", "--dialect", "postgresql", "--rollback", "--to", HEAD_N)
    assert r.exit_code == 0, r
    psql(url, workdir / "down.sql")
    s = pg_schema(url)
    assert [n for n, _ in s["history"]] == SHIPPED
    assert ("ProjectStates", "Labels") not in {(c[0], c[1]) for c in s["columns"]}
    r = cli("--db", url, "--migrations", mig, "status", "--json")
    assert json.loads(r.stdout)["pending"] == [f"{NEXT:03d}_widen_title", f"{NEXT + 1:03d}_add_tags"]


def test_postgresql_dry_run_and_script_agree(cli, mig, workdir, server_url):
    url = server_url("postgresql")
    assert cli("--db", url, "--migrations", mig, "migrate", "--to", HEAD_N, "--no-backup").exit_code == 0
    dry = cli("--db", url, "--migrations", mig, "migrate", "--dry-run", "--json")
    assert dry.exit_code == 0, dry
    scripted = cli("--migrations", mig, "script", "--dialect", "postgresql", "--from", HEAD_N, "--json")
    assert scripted.exit_code == 0, scripted
    per = {m["name"]: m["statements"] for m in json.loads(scripted.stdout)["migrations"]}
    assert json.loads(dry.stdout)["sql"] == per


@needs_psql
def test_a_step_that_reads_the_schema_uses_the_given_server_and_changes_nothing(cli, migrations_copy, workdir, server_url):
    write(migrations_copy, f"{NEXT:03d}_rename", RENAME_TABLE)
    helper, target = server_url("postgresql"), server_url("postgresql")
    r = cli("--db", helper, "--migrations", migrations_copy, "script", "out.sql")
    assert r.exit_code == 0, r
    text = (workdir / "out.sql").read_text()
    assert 'ALTER TABLE "export_history" RENAME TO "exports";' in text
    assert "with a server's help" in text
    from playhouse.db_url import connect

    db = connect(helper)
    assert db.get_tables() == []  # the rolled-back transaction left nothing
    db.close()
    psql(target, workdir / "out.sql")
    r = cli("--db", target, "--migrations", migrations_copy, "status", "--check")
    assert r.exit_code == 0, r
    assert any(c[0] == "exports" for c in pg_schema(target)["columns"])


def test_a_server_at_another_state_is_refused(cli, migrations_copy, workdir, server_url):
    write(migrations_copy, f"{NEXT:03d}_rename", RENAME_TABLE)
    url = server_url("postgresql")
    assert cli("--db", url, "--migrations", migrations_copy, "migrate", "--to", HEAD_N, "--no-backup").exit_code == 0
    r = cli("--db", url, "--migrations", migrations_copy, "script", "out.sql")
    assert r.exit_code == 2, r
    assert re.search(rf"at {HEAD}.*empty database", r.stderr)
    # from the state it is at, it helps
    r = cli("--db", url, "--migrations", migrations_copy, "script", "out.sql", "--from", HEAD_N)
    assert r.exit_code == 0, r
    assert f"-- migrate {NEXT:03d}_rename" in (workdir / "out.sql").read_text()
