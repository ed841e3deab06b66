"""Backup and restore on the real PostgreSQL and MySQL/MariaDB servers (and SQLite, for the same scenario)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from aura_db.db import engine_for, parse_url
from conftest import HEAD, NEXT


def execute(url: str, *statements: str) -> list:
    db = engine_for(parse_url(url)).open()
    try:
        rows: list = []
        for s in statements:
            cur = db.execute_sql(s)
            if cur.description:
                rows = list(cur.fetchall())
        return rows
    finally:
        db.close()


def q(url: str, name: str) -> str:
    return f"`{name}`" if url.startswith("mysql") else f'"{name}"'


def notes_count(url: str) -> int:
    return execute(url, f"SELECT count(*) FROM {q(url, 'Notes')}")[0][0]


def tables(url: str) -> set[str]:
    db = engine_for(parse_url(url)).open()
    try:
        return set(db.get_tables())
    finally:
        db.close()


@pytest.fixture
def migrated(cli, any_engine_url, workdir) -> str:
    url = any_engine_url
    assert cli("--db", url, "migrate").exit_code == 0
    execute(url, f"CREATE TABLE {q(url, 'Notes')} (Id INTEGER PRIMARY KEY, Body VARCHAR(100))",
            *[f"INSERT INTO {q(url, 'Notes')} VALUES ({i}, 'note {i}')" for i in range(1, 31)])
    return url


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_round_trip_on_every_engine(cli, migrated, workdir, compression):
    url = migrated
    r = cli("--db", url, "backup", "--compress", compression, "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["manifest"]["row_counts"]["Notes"] == 30
    assert doc["manifest"]["schema_head"] == HEAD
    # Later changes, including a table the backup does not know.
    execute(url, f"DELETE FROM {q(url, 'Notes')} WHERE Id > 10",
            f"CREATE TABLE {q(url, 'Later')} (Id INTEGER PRIMARY KEY)")
    r = cli("--db", url, "backup", "verify", doc["file"], "--full", "--json")
    assert r.exit_code == 0, r
    r = cli("--db", url, "restore", doc["file"], "--yes", "--json")
    assert r.exit_code == 0, r
    out = json.loads(r.stdout)
    assert notes_count(url) == 30
    assert "Later" not in tables(url)
    assert out["safety_backup"] and Path(out["safety_backup"]).exists()
    assert out["pending"] == []


def test_flipped_byte_verify_3_and_restore_refused(cli, migrated):
    url = migrated
    path = Path(json.loads(cli("--db", url, "backup", "--json").stdout)["path"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x55
    path.write_bytes(bytes(data))
    assert cli("--db", url, "backup", "verify", path.name).exit_code == 3
    execute(url, f"DELETE FROM {q(url, 'Notes')}")
    r = cli("--db", url, "restore", path.name, "--yes")
    assert r.exit_code == 3, r
    assert "refusing" in r.stderr
    assert notes_count(url) == 0  # untouched


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_restore_into_a_server_database_that_does_not_exist_fails_before_the_plan(cli, server_url, workdir,
                                                                                 engine):
    url = server_url(engine)
    assert cli("--db", url, "migrate").exit_code == 0
    name = json.loads(cli("--db", url, "backup", "--json").stdout)["file"]
    gone = url.rsplit("/", 1)[0] + "/aura_test_missing_db"
    r = cli("--db", gone, "restore", name, "--no-safety-backup", input="y\n")
    assert r.exit_code == 4, r
    assert r.stderr.startswith("error: cannot restore: ") and "nothing changed" in r.stderr
    assert "does not exist yet" not in r.stderr and "Replace" not in r.stderr  # no plan, no question


def test_a_mysql_restore_says_it_is_not_atomic_before_asking(cli, server_url, workdir):
    url = server_url("mysql")
    assert cli("--db", url, "migrate").exit_code == 0
    assert cli("--db", url, "backup").exit_code == 0
    r = cli("--db", url, "restore", "latest", input="n\n")
    assert r.exit_code == 6, r
    assert "warning: MySQL cannot replace tables in one transaction" in r.stderr  # with the plan, before the question
    r = cli("--db", url, "restore", "latest", "--yes", "--json")
    assert r.exit_code == 0, r
    assert any("one transaction" in c for c in json.loads(r.stdout)["caveats"])


def test_a_mysql_user_that_cannot_see_other_connections_is_warned_before_the_question(cli, server_url, workdir):
    import uuid

    url = server_url("mysql")
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    user, secret = f"aura_u_{uuid.uuid4().hex[:8]}", "pw-" + uuid.uuid4().hex[:8]
    execute(url, f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{secret}'",
            f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{secret}'",
            f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'127.0.0.1'",
            f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'localhost'")
    try:
        limited = urlunsplit((parts.scheme, f"{user}:{secret}@{parts.hostname}:{parts.port or 3306}",
                              parts.path, "", ""))
        assert cli("--db", limited, "migrate").exit_code == 0
        assert cli("--db", limited, "backup").exit_code == 0
        r = cli("--db", limited, "restore", "latest", "--yes", "--no-safety-backup", "--json")
        assert r.exit_code == 0, r
        assert any("lacks the PROCESS privilege" in c for c in json.loads(r.stdout)["caveats"])
        assert secret not in r.stdout + r.stderr
        # The server's administrator sees every connection: no such warning.
        r = cli("--db", url, "restore", "latest", "--yes", "--no-safety-backup", "--json")
        assert r.exit_code == 0, r
        assert not any("PROCESS" in c for c in json.loads(r.stdout)["caveats"])
    finally:
        execute(url, f"DROP USER IF EXISTS '{user}'@'127.0.0.1'", f"DROP USER IF EXISTS '{user}'@'localhost'")


def test_a_full_check_by_a_user_that_may_not_create_databases_fails_in_one_line(cli, server_url, workdir):
    import uuid

    url = server_url("postgresql")
    parts = urlsplit(url)
    role = f"aura_r_{uuid.uuid4().hex[:8]}"
    execute(url, f"CREATE ROLE {role} LOGIN NOCREATEDB", f"GRANT ALL ON SCHEMA public TO {role}",
            f"GRANT CREATE ON DATABASE {parts.path.lstrip('/')} TO {role}")
    try:
        limited = urlunsplit((parts.scheme, f"{role}@{parts.hostname}:{parts.port or 5432}", parts.path, "", ""))
        assert cli("--db", limited, "migrate").exit_code == 0
        name = json.loads(cli("--db", limited, "backup", "--json").stdout)["file"]
        r = cli("--db", limited, "backup", "verify", name, "--full")
        assert r.exit_code == 1, r
        lines = r.stderr.strip().splitlines()
        assert lines[0].startswith("error: a full check restores the backup into a scratch database")
        assert "permission denied" in lines[0] and lines[1].startswith("hint: ") and len(lines) == 2
        assert cli("--db", limited, "backup", "verify", name).exit_code == 0
    finally:
        execute(url, f"DROP OWNED BY {role}", f"DROP ROLE IF EXISTS {role}")


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_restore_refuses_while_another_connection_uses_the_database(cli, server_url, workdir, engine):
    url = server_url(engine)
    assert cli("--db", url, "migrate").exit_code == 0
    assert cli("--db", url, "backup").exit_code == 0
    other = engine_for(parse_url(url)).open()
    try:
        other.execute_sql("SELECT 1").fetchall()
        r = cli("--db", url, "restore", "latest", "--yes")
        assert r.exit_code == 1, r
        assert "in use by" in r.stderr
    finally:
        other.close()


def test_password_never_shown_nor_written_and_not_on_the_command_line(cli, server_url, workdir, monkeypatch):
    # The test server trusts local connections, so any password is accepted.
    url = server_url("postgresql")
    parts = urlsplit(url)
    secret = "s3cret-pw-xyz"
    url = urlunsplit((parts.scheme, f"{parts.username or 'postgres'}:{secret}@{parts.hostname}:{parts.port or 5432}",
                      parts.path, "", ""))
    seen: list[tuple[list[str], dict]] = []
    import subprocess

    real_popen = subprocess.Popen

    def spy(argv, *a, **kw):
        seen.append((list(argv), dict(kw.get("env") or {})))
        return real_popen(argv, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", spy)
    outputs = []
    for args in (("migrate",), ("backup", "--json"), ("backup", "list"), ("backup", "verify", "latest", "--full"),
                 ("restore", "latest", "--yes", "--json")):
        r = cli("--db", url, *args)
        assert r.exit_code == 0, r
        outputs.append(r.stdout + r.stderr)
    assert all(secret not in o for o in outputs)
    for p in (workdir / "backups").iterdir():
        assert secret.encode() not in p.read_bytes()
    assert "***" in json.loads(outputs[1])["manifest"]["source"]
    tools = [(argv, env) for argv, env in seen if "pg_" in argv[0] or "psql" in argv[0]]
    assert tools
    assert all(secret not in " ".join(argv) for argv, _ in tools)
    assert any(env.get("PGPASSWORD") == secret for _, env in tools)


def test_an_older_pg_dump_than_the_server_is_refused_clearly(cli, server_url, workdir, monkeypatch):
    from aura_db.engines.postgresql import backup as backup_engines

    url = server_url("postgresql")
    assert cli("--db", url, "migrate").exit_code == 0
    monkeypatch.setattr(backup_engines.PostgresBackup, "_client_major", lambda self, tool: 9)
    r = cli("--db", url, "backup")
    assert r.exit_code == 1
    assert "pg_dump 9 is older than the PostgreSQL server" in r.stderr
    assert not [p for p in (workdir / "backups").iterdir() if not p.name.startswith(".")]


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_migrate_and_rollback_take_safety_backups_on_servers(cli, server_url, workdir, migrations_copy,
                                                            monkeypatch, engine):
    from tests.test_backup import ADD_TAGS

    import textwrap

    url = server_url(engine)
    monkeypatch.setenv("AURA_DB_MIGRATIONS", str(migrations_copy))
    assert cli("--db", url, "migrate").exit_code == 0
    (migrations_copy / f"{NEXT:03d}_add_tags.py").write_text(textwrap.dedent(ADD_TAGS).lstrip())
    assert cli("--db", url, "migrate").exit_code == 0, "migrate"
    assert cli("--db", url, "rollback", "--yes").exit_code == 0, "rollback"
    rows = execute(url, "SELECT command, backup_file FROM aura_migration_log ORDER BY id")
    assert rows[0][1] is None  # the first run had nothing to protect
    pre_migrate, pre_rollback = rows[1][1], rows[2][1]
    assert rows[1][0] == "migrate" and "_pre-migrate." in pre_migrate and Path(pre_migrate).exists()
    assert rows[2][0] == "rollback" and "_pre-rollback." in pre_rollback and Path(pre_rollback).exists()
    r = cli("--db", url, "backup", "verify", "--all", "--full", "--json")
    assert r.exit_code == 0, r


def test_sigkill_during_a_postgresql_restore_leaves_the_old_or_the_new_database(cli, server_url, workdir):
    import os
    import signal
    import subprocess
    import sys
    import time

    url = server_url("postgresql")
    assert cli("--db", url, "migrate").exit_code == 0
    execute(url, 'CREATE TABLE "Notes" ("Id" INTEGER PRIMARY KEY, "Body" TEXT)',
            "INSERT INTO \"Notes\" SELECT g, repeat('x', 500) FROM generate_series(1, 20000) g")
    doc = json.loads(cli("--db", url, "backup", "--json").stdout)
    env = {k: v for k, v in os.environ.items() if k not in ("AURA_DB_URL", "DATABASE_URL")}
    states = set()
    for delay in (0.3, 0.5, 0.7, 0.9, 1.2):
        execute(url, 'DELETE FROM "Notes" WHERE "Id" > 100')  # "old": 100 rows
        p = subprocess.Popen([sys.executable, "-m", "aura_db", "--db", url, "restore", doc["path"], "--yes",
                              "--no-safety-backup"], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait()
        # psql may still be finishing: wait until nobody else is connected.
        for _ in range(100):
            if not execute(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid()")[0][0]:
                break
            time.sleep(0.05)
        n = notes_count(url)
        assert n in (100, 20000), n  # never a half-restored table
        states.add(n)
    assert 100 in states, states


def test_a_postgresql_restore_that_fails_part_way_changes_nothing(cli, server_url, workdir):
    url = server_url("postgresql")
    assert cli("--db", url, "migrate").exit_code == 0
    execute(url, 'CREATE TABLE "Notes" ("Id" INTEGER PRIMARY KEY, "Body" TEXT)',
            'INSERT INTO "Notes" SELECT g, \'n\' FROM generate_series(1, 50) g')
    doc = json.loads(cli("--db", url, "backup", "--json").stdout)
    # A table the backup does not know, and data the restore would replace.
    execute(url, 'DELETE FROM "Notes" WHERE "Id" > 5', 'CREATE TABLE "Later" ("Id" INTEGER)',
            # A view the archive does not know depends on Notes: --clean cannot
            # drop Notes, so the restore fails after "Later" was already dropped.
            'CREATE VIEW "NotesView" AS SELECT * FROM "Notes"')
    r = cli("--db", url, "restore", doc["file"], "--yes", "--no-safety-backup")
    if r.exit_code == 0:
        pytest.skip("this server's pg_restore handled the dependent view; nothing to roll back")
    assert r.exit_code == 1, r
    assert "rolled back" in r.stderr
    assert notes_count(url) == 5
    assert "Later" in tables(url)
