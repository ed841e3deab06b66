"""The migration lock and backups through PgBouncer (transaction pooling), and on PostgreSQL directly.

Real processes against the real PgBouncer of the test set-up
(AURA_DB_TEST_PGBOUNCER_URL) and the PostgreSQL behind it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from conftest import connect_url, direct_behind_pgbouncer as _behind, query_one
from lockcase import concurrently, env_for, run, start, wait_until, write_migrations


def direct_behind_pgbouncer(url: str) -> str:
    query_one(url, "SELECT 1")  # PgBouncer lists a database of its "*" entry once it was used
    return _behind(url)


def _runs(url: str) -> dict[str, int]:
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT name, count(*) FROM mig_runs GROUP BY name ORDER BY name")
            return dict(cur.fetchall())
    finally:
        conn.close()


def _history(url: str) -> list[str]:
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT name FROM aura_schema_history ORDER BY id")
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def _advisory_locks(direct: str) -> int:
    """Advisory locks held in the database, as the server itself sees them (pooled backends included)."""
    return query_one(direct, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                             "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")


def _appliers(direct: str) -> int:
    """Runs that applied something (the audit log): each took at most one safety backup."""
    return query_one(direct, "SELECT count(*) FROM aura_migration_log WHERE outcome = 'success' "
                             "AND migrations <> ''")


def test_two_rounds_of_four_concurrent_migrates_through_pgbouncer(pgbouncer_url, tmp_path):
    url = pgbouncer_url()
    direct = direct_behind_pgbouncer(url)
    migrations = write_migrations(tmp_path / "migrations", 3)
    backups = tmp_path / "backups"
    env = env_for(migrations, url, AURA_DB_DIRECT_URL=direct, AURA_DB_BACKUP_DIR=str(backups))

    # Round 1: an empty database (no safety backup: nothing to protect yet).
    results = concurrently(4, ["migrate", "--lock-timeout", "60"], tmp_path, [env])
    assert [r[0] for r in results] == [0, 0, 0, 0], results
    names = ["001_step1", "002_step2", "003_step3"]
    assert _history(direct) == names
    assert _runs(direct) == {n: 1 for n in names}  # each body ran and committed once
    assert _advisory_locks(direct) == 0

    # Round 2: two more migrations, each run with its safety backup through direct_url.
    write_migrations(migrations, 5)
    before = _appliers(direct)
    dumps_before = len(list(backups.glob("*.dump")))
    results = concurrently(4, ["migrate", "--lock-timeout", "60"], tmp_path, [env])
    assert [r[0] for r in results] == [0, 0, 0, 0], results
    names += ["004_step4", "005_step5"]
    assert _history(direct) == names
    assert _runs(direct) == {n: 1 for n in names}
    assert _advisory_locks(direct) == 0
    for _, out, err in results:
        assert "no schema has been selected" not in out + err
        assert "half-migrated" not in out + err
    # Only runs that really applied something took a backup, one each (through direct_url).
    dumps = sorted(backups.glob("*.dump"))
    assert 1 <= len(dumps) - dumps_before == _appliers(direct) - before, (dumps, results)

    # pg_dump's session settings (search_path = '') never reached a pooled connection.
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            seen = set()
            for _ in range(40):
                cur.execute("SHOW search_path")
                seen.add(cur.fetchone()[0])
    finally:
        conn.close()
    assert seen == {'"$user", public'}

    # A direct migrate right after is not blocked by anything left behind.
    write_migrations(migrations, 6)
    r = run(["migrate", "--no-backup", "--lock-timeout", "1"], tmp_path, env_for(migrations, direct))
    assert r.returncode == 0, r.stderr
    assert _runs(direct)["006_step6"] == 1


def test_backup_through_pgbouncer_without_direct_url_is_refused_in_one_line(pgbouncer_url, tmp_path):
    url = pgbouncer_url()
    direct = direct_behind_pgbouncer(url)
    migrations = write_migrations(tmp_path / "migrations", 2)
    env = env_for(migrations, url, AURA_DB_BACKUP_DIR=str(tmp_path / "backups"))
    r = run(["migrate", "--to", "001"], tmp_path, env)  # nothing applied yet: no backup needed
    assert r.returncode == 0, r.stderr

    r = run(["backup"], tmp_path, env)
    assert r.returncode == 1, r
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "connection pooler" in errors[0], r.stderr
    assert "direct_url" in r.stderr and "AURA_DB_DIRECT_URL" in r.stderr
    assert "Traceback" not in r.stderr

    # migrate's safety backup goes the same way: refused before anything changed.
    r = run(["migrate"], tmp_path, env)
    assert r.returncode == 1, r
    assert "connection pooler" in r.stderr and "nothing was changed" in r.stderr
    assert _history(direct) == ["001_step1"]
    assert not list((tmp_path / "backups").glob("*.dump"))

    # With direct_url (here from the settings file) the backup works, and is a backup of the same database.
    (tmp_path / "aura-db.toml").write_text(f'direct_url = "{direct}"\n', encoding="utf-8")
    r = run(["backup", "--json"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    assert list((tmp_path / "backups").glob("*.dump"))

    # Without direct_url, a backup file's own checks still work; only a full check needs the server.
    (tmp_path / "aura-db.toml").unlink()
    r = run(["backup", "verify", "--all"], tmp_path, env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(["backup", "verify", "--all", "--full"], tmp_path, env)
    assert r.returncode == 1 and "connection pooler" in r.stderr, r


def test_direct_url_to_another_database_is_refused(pgbouncer_url, server_url, tmp_path):
    url = pgbouncer_url()
    other = server_url("postgresql")
    migrations = write_migrations(tmp_path / "migrations", 1)
    env = env_for(migrations, url, AURA_DB_DIRECT_URL=other, AURA_DB_BACKUP_DIR=str(tmp_path / "b"))
    assert run(["migrate", "--no-backup"], tmp_path, env).returncode == 0
    r = run(["backup"], tmp_path, env)
    assert r.returncode == 2, r
    assert "is not the database" in r.stderr


def test_a_direct_connection_is_not_taken_for_a_pooler(server_url):
    from aura_db.engines.registry import engine_for

    engine = engine_for(server_url("postgresql"))
    db = engine.open()
    try:
        assert engine.behind_pooler(db) is False
    finally:
        db.close()


def test_pgbouncer_is_recognised_as_a_pooler(pgbouncer_url):
    from aura_db.engines.registry import engine_for

    engine = engine_for(pgbouncer_url())
    db = engine.open()
    try:
        assert engine.behind_pooler(db) is True
    finally:
        db.close()


def _slow_run(tmp_path: Path, url: str, direct: str) -> tuple[object, Path]:
    """A migrate whose last migration sleeps on the server; returns once it is inside that statement."""
    migrations = write_migrations(tmp_path / "migrations", 2)
    r = run(["migrate", "--to", "001", "--no-backup"], tmp_path, env_for(migrations, url))
    assert r.returncode == 0, r.stderr
    write_migrations(migrations, 2, slow_last=True)
    proc = start(["migrate", "--no-backup"], tmp_path, env_for(migrations, url, SLOW_SQL="SELECT pg_sleep(60)"))
    wait_until(lambda: query_one(direct, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                         "AND query LIKE 'SELECT pg_sleep(60)%%'") == 1,
               what="the slow migration running")
    return proc, migrations


@pytest.mark.parametrize("through", ["pgbouncer", "direct"])
def test_a_sigkilled_run_never_blocks_the_next(pgbouncer_url, tmp_path, through):
    bouncer = pgbouncer_url()
    direct = direct_behind_pgbouncer(bouncer)
    url = bouncer if through == "pgbouncer" else direct
    proc, migrations = _slow_run(tmp_path, url, direct)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    # The next run gets the lock within seconds (the server drops the killed
    # run's transaction, and its lock, as soon as it sees the client gone).
    r = run(["migrate", "--no-backup", "--lock-timeout", "10"], tmp_path,
            env_for(migrations, url, SLOW_SQL="SELECT 1"))
    assert r.returncode == 0, r.stderr
    assert _runs(direct) == {"001_step1": 1, "002_step2": 1}  # the killed run's insert was rolled back
    assert _advisory_locks(direct) == 0


# -- a PgBouncer of the test's own, for the modes the shared one is not in --------


@pytest.fixture
def own_pgbouncer(pgbouncer_url):
    """Factory: a PgBouncer of this test (pool mode and size given) in front of the shared one's server.

    Started as a child process and stopped by its pid at the end; it pools
    for the same PostgreSQL as AURA_DB_TEST_PGBOUNCER_URL.  Returns
    (URL of a fresh database through it, the same database directly).
    """
    import shutil
    import socket
    import subprocess
    import tempfile
    import time
    from urllib.parse import urlsplit

    exe = shutil.which("pgbouncer")
    if exe is None:
        pytest.fail("AURA_DB_TEST_PGBOUNCER_URL is set but pgbouncer is not on PATH")
    procs: list[subprocess.Popen] = []

    def make(mode: str, size: int) -> tuple[str, str]:
        shared = pgbouncer_url()
        direct = direct_behind_pgbouncer(shared)
        target = urlsplit(direct)
        folder = Path(tempfile.mkdtemp(prefix="aura_pgbouncer_"))
        folder.chmod(0o777)  # PgBouncer drops root for postgres
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        (folder / "users.txt").write_text('"postgres" ""\n')
        (folder / "pgbouncer.ini").write_text(
            f"[databases]\n* = host={target.hostname} port={target.port}\n\n[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\nauth_type = trust\n"
            f"auth_file = {folder / 'users.txt'}\npool_mode = {mode}\ndefault_pool_size = {size}\n"
            f"max_client_conn = 100\nignore_startup_parameters = extra_float_digits\n"
            f"logfile = {folder / 'pgbouncer.log'}\n")
        argv = [exe, *(["-u", "postgres"] if os.geteuid() == 0 else []), str(folder / "pgbouncer.ini")]
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      stdin=subprocess.DEVNULL))
        own = f"postgresql://{target.username}@127.0.0.1:{port}{target.path}"
        deadline = time.monotonic() + 15
        while True:
            try:
                query_one(own, "SELECT 1")
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline:
                    pytest.fail(f"the test's own PgBouncer did not answer on port {port}")
                time.sleep(0.1)
        return own, direct

    yield make
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("mode,size", [("session", 2), ("transaction", 1)])
def test_concurrent_migrates_through_pgbouncer_session_mode_and_a_pool_of_one(own_pgbouncer, tmp_path, mode, size):
    url, direct = own_pgbouncer(mode, size)
    migrations = write_migrations(tmp_path / "migrations", 2)
    backups = tmp_path / "backups"
    env = env_for(migrations, url, AURA_DB_DIRECT_URL=direct, AURA_DB_BACKUP_DIR=str(backups),
                  COUNTED_SLEEP="0.1")
    for count in (2, 4):  # the second round takes safety backups (through direct_url)
        write_migrations(migrations, count)
        results = concurrently(4, ["migrate", "--lock-timeout", "60"], tmp_path, [env])
        assert [r[0] for r in results] == [0, 0, 0, 0], results
        names = [f"{n:03d}_step{n}" for n in range(1, count + 1)]
        assert _history(direct) == names
        assert _runs(direct) == {n: 1 for n in names}
        assert _advisory_locks(direct) == 0
    assert list(backups.glob("*.dump"))
    r = run(["migrate", "--no-backup", "--lock-timeout", "1"], tmp_path, env_for(migrations, direct))
    assert r.returncode == 0, r.stderr


def test_restore_through_pgbouncer_with_direct_url(pgbouncer_url, tmp_path):
    url = pgbouncer_url()
    direct = direct_behind_pgbouncer(url)
    dbname = direct.rsplit("/", 1)[1]
    migrations = write_migrations(tmp_path / "migrations", 2)
    env = env_for(migrations, url, AURA_DB_DIRECT_URL=direct, AURA_DB_BACKUP_DIR=str(tmp_path / "backups"))
    assert run(["migrate", "--to", "001"], tmp_path, env).returncode == 0
    r = run(["backup"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    assert run(["migrate"], tmp_path, env).returncode == 0
    assert _history(direct) == ["001_step1", "002_step2"]
    r = run(["restore", "latest", "--yes"], tmp_path, env)
    if r.returncode == 1:  # PgBouncer still holds idle server connections: the hint says how to free them
        assert f"KILL {dbname}" in r.stderr, r.stderr
        admin = connect_url(url, "pgbouncer")
        try:
            with admin.cursor() as cur:
                cur.execute(f"KILL {dbname}")
            r = run(["restore", "latest", "--yes"], tmp_path, env)
            with admin.cursor() as cur:
                cur.execute(f"RESUME {dbname}")
        finally:
            admin.close()
    assert r.returncode == 0, r.stderr
    assert _history(direct) == ["001_step1"]
    assert _runs(url) == {"001_step1": 1}  # and through the pool again
    assert _advisory_locks(direct) == 0
