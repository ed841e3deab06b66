"""A server that ends aura-db's connection mid-migration: reported as a lost connection, with what stayed applied.

A migration runs a slow statement; an admin connection kills aura-db's
connection while it runs (MySQL ``KILL``, PostgreSQL ``pg_terminate_backend``).
"""

from __future__ import annotations

import json

import pytest

from conftest import connect_url, query_one
from lockcase import env_for, run, start, wait_until, write_migrations

# DDL first (MySQL commits it at once), then the slow statement.
HALF = '''
import os


def migrate(migrator, database, fake=False):
    migrator.sql("CREATE TABLE lost_half (id INT)")
    migrator.sql(os.environ["SLOW_SQL"])


def rollback(migrator, database, fake=False):
    migrator.sql("DROP TABLE lost_half")
'''

SLEEP = {"postgresql": "SELECT pg_sleep(30)", "mysql": "SELECT SLEEP(30)"}
FIND = {
    "postgresql": "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE 'SELECT pg_sleep(30)%%'",
    "mysql": "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND INFO LIKE 'SELECT SLEEP(30)%%'",
}
KILL = {"postgresql": "SELECT pg_terminate_backend(%s)", "mysql": "KILL %s"}


def _kill_during_slow_statement(engine: str, url: str, tmp_path):
    migrations = write_migrations(tmp_path / "migrations", 1)
    env = env_for(migrations, url, SLOW_SQL=SLEEP[engine])
    assert run(["migrate", "--no-backup"], tmp_path, env).returncode == 0
    (migrations / "002_half.py").write_text(HALF.lstrip(), encoding="utf-8")
    proc = start(["migrate", "--no-backup", "--json"], tmp_path, env)
    name = url.rsplit("/", 1)[1]
    wait_until(lambda: query_one(url, FIND[engine], (name,)) is not None, what="the slow statement running")
    target = query_one(url, FIND[engine], (name,))
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            cur.execute(KILL[engine], (target,))
    finally:
        conn.close()
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def _history(url: str) -> list[str]:
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT name FROM aura_schema_history ORDER BY id")
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def _has_table(url: str, table: str) -> bool:
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = %s "
                        "AND table_schema NOT IN ('information_schema', 'pg_catalog')", (table,))
            return cur.fetchone()[0] == 1
    finally:
        conn.close()


def test_postgresql_connection_killed_mid_migration(server_url, tmp_path):
    url = server_url("postgresql")
    rc, out, err = _kill_during_slow_statement("postgresql", url, tmp_path)
    assert rc == 4, (out, err)
    error = next(line for line in err.splitlines() if line.startswith("error: "))
    assert "lost the connection" in error and "002_half" in error
    assert "rolled migration 002_half back: nothing of it stayed applied" in error
    assert "fix 002_half" not in err and "half-migrated" not in err
    doc = json.loads(out)
    assert doc["ok"] is False and doc["exit_code"] == 4
    assert doc["connection_lost"] is True and doc["outcome"] == "rolled_back" and doc["partial"] == []
    # What the message says is what the server holds.
    assert _history(url) == ["001_step1"]
    assert not _has_table(url, "lost_half")
    _logged_lost(url)


def _logged_lost(url: str) -> None:
    """The run's audit row, written on a new connection, says the connection was lost."""
    outcome, error = _last_log(url)
    assert outcome == "failed" and "lost the connection" in error


def _last_log(url: str):
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT outcome, error FROM aura_migration_log ORDER BY id DESC LIMIT 1")
            return cur.fetchone()
    finally:
        conn.close()


def test_mysql_connection_killed_mid_migration(server_url, tmp_path):
    url = server_url("mysql")
    rc, out, err = _kill_during_slow_statement("mysql", url, tmp_path)
    assert rc == 4, (out, err)
    error = next(line for line in err.splitlines() if line.startswith("error: "))
    assert "lost the connection" in error and "002_half" in error
    assert "CREATE TABLE lost_half" in error and "stay applied" in error
    assert "(0, '')" not in error or "lost the connection" in error
    hint = next(line for line in err.splitlines() if line.startswith("hint: "))
    assert "once the server is back" in hint and "fix 002_half" not in hint
    doc = json.loads(out)
    assert doc["connection_lost"] is True and doc["outcome"] == "partial"
    assert doc["partial"] == ["CREATE TABLE lost_half (id INT);"]
    assert _history(url) == ["001_step1"]
    assert _has_table(url, "lost_half")  # MySQL committed it: the report said so
    _logged_lost(url)


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_a_failing_migration_is_not_called_a_lost_connection(server_url, tmp_path, engine):
    url = server_url(engine)
    migrations = write_migrations(tmp_path / "migrations", 1)
    (migrations / "002_bad.py").write_text(
        "def migrate(migrator, database, fake=False):\n    migrator.sql('SELECT * FROM no_such_table')\n",
        encoding="utf-8")
    r = run(["migrate", "--no-backup"], tmp_path, env_for(migrations, url))
    assert r.returncode == 1, r.stderr
    assert "lost the connection" not in r.stderr and "migration 002_bad failed" in r.stderr


def test_a_sigkilled_run_never_blocks_the_next_on_mysql(server_url, tmp_path):
    """GET_LOCK on a single server: released the moment the killed run's connection ends."""
    import os
    import signal

    url = server_url("mysql")
    migrations = write_migrations(tmp_path / "migrations", 1)
    env = env_for(migrations, url, SLOW_SQL="SELECT SLEEP(60)")
    assert run(["migrate", "--no-backup"], tmp_path, env).returncode == 0
    write_migrations(migrations, 2, slow_last=True)
    proc = start(["migrate", "--no-backup"], tmp_path, env)
    name = url.rsplit("/", 1)[1]
    wait_until(lambda: query_one(url, FIND["mysql"].replace("SLEEP(30)", "SLEEP(60)"), (name,)) is not None,
               what="the slow statement running")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    r = run(["migrate", "--no-backup", "--lock-timeout", "10"], tmp_path,
            env_for(migrations, url, SLOW_SQL="SELECT 1"))
    assert r.returncode == 0, r.stderr
    assert _history(url) == ["001_step1", "002_step2"]
