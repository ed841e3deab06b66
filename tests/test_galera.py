"""The migration lock on a three-node Galera cluster (AURA_DB_TEST_GALERA_URLS): a lease row, certified.

GET_LOCK holds on one node only; these tests run one migrate per node at
once and check, on every node, that each migration ran exactly once.
"""

from __future__ import annotations

import os
import signal
import time

from conftest import connect_url, query_one
from lockcase import concurrently, env_for, run, start, wait_until, write_migrations


def _runs(url: str) -> dict[str, int]:
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION wsrep_sync_wait = 1")
            cur.execute("SELECT name, count(*) FROM mig_runs GROUP BY name ORDER BY name")
            return dict(cur.fetchall())
    finally:
        conn.close()


def _lease_rows(url: str) -> int:
    return query_one(url, "SELECT count(*) FROM aura_migration_lock")


def test_one_concurrent_migrate_per_node_applies_each_migration_once(galera_urls, tmp_path):
    urls = galera_urls()
    migrations = write_migrations(tmp_path / "migrations", 3)
    envs = [env_for(migrations, u, AURA_DB_BACKUP_DIR=str(tmp_path / "backups")) for u in urls]
    for round_, count in ((1, 3), (2, 5)):
        write_migrations(migrations, count)
        results = concurrently(len(urls), ["migrate", "--lock-timeout", "120"], tmp_path, envs)
        assert [r[0] for r in results] == [0] * len(urls), (round_, results)
        for _, out, err in results:
            assert "half-migrated" not in out + err
            assert "restore" not in err
        expected = {f"{n:03d}_step{n}": 1 for n in range(1, count + 1)}
        for url in urls:  # every node holds each migration's row exactly once
            assert _runs(url) == expected, (url, round_)
            assert _lease_rows(url) == 0  # released
        # The losers waited for the lease, then found the work done.
        assert sum("nothing to do" in r[1] for r in results) >= 1, results


def test_aura_db_tables_do_not_make_the_database_foreign(galera_urls, tmp_path):
    """The lease table is aura-db's own: status and a second migrate do not call the database not adopted."""
    urls = galera_urls()
    migrations = write_migrations(tmp_path / "migrations", 2)
    r = run(["migrate", "--no-backup"], tmp_path, env_for(migrations, urls[0]))
    assert r.returncode == 0, r.stderr
    assert "aura_migration_lock" in {row for row in _tables(urls[1])}
    r = run(["status", "--check"], tmp_path, env_for(migrations, urls[1]))
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(["rollback", "--all", "--yes", "--no-backup"], tmp_path, env_for(migrations, urls[2]))
    assert r.returncode == 0, r.stderr


def _tables(url: str) -> list[str]:
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def test_a_sigkilled_run_on_this_machine_is_taken_over_at_once(galera_urls, tmp_path):
    urls = galera_urls()
    migrations = write_migrations(tmp_path / "migrations", 2)
    assert run(["migrate", "--to", "001", "--no-backup"], tmp_path, env_for(migrations, urls[0])).returncode == 0
    write_migrations(migrations, 2, slow_last=True)
    proc = start(["migrate", "--no-backup"], tmp_path, env_for(migrations, urls[0], SLOW_SQL="SELECT SLEEP(60)"))
    wait_until(lambda: query_one(urls[0], "SELECT count(*) FROM information_schema.PROCESSLIST "
                                          "WHERE INFO LIKE 'SELECT SLEEP(60)%%'") == 1,
               what="the slow migration running")
    assert query_one(urls[1], "SELECT pid FROM aura_migration_lock") == proc.pid
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    t0 = time.monotonic()
    # Another node, at once: the lease names a process of this machine that is gone.
    r = run(["migrate", "--no-backup", "--lock-timeout", "5"], tmp_path,
            env_for(migrations, urls[1], SLOW_SQL="SELECT 1"))
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 30
    assert _runs(urls[2])["002_step2"] == 1
    assert _lease_rows(urls[2]) == 0


def test_a_lease_held_elsewhere_waits_for_its_expiry(galera_urls, tmp_path):
    """A holder on another machine cannot be checked: its lease holds until it expires, then is taken over."""
    urls = galera_urls()
    migrations = write_migrations(tmp_path / "migrations", 1)
    assert run(["migrate", "--no-backup"], tmp_path, env_for(migrations, urls[0])).returncode == 0
    write_migrations(migrations, 2)

    def lease(seconds: int) -> None:
        conn = connect_url(urls[2])
        try:
            with conn.cursor() as cur:
                cur.execute("DELETE FROM aura_migration_lock")
                cur.execute("INSERT INTO aura_migration_lock VALUES ('migrate', REPEAT('a', 32), 'elsewhere', "
                            "'elsewhere|pid:[1]|boot', 4242, UTC_TIMESTAMP(6), "
                            "UTC_TIMESTAMP(6) + INTERVAL %s SECOND)", (seconds,))
        finally:
            conn.close()

    lease(300)
    r = run(["migrate", "--no-backup", "--lock-timeout", "1"], tmp_path, env_for(migrations, urls[0]))
    assert r.returncode == 5, r
    assert "pid 4242 on elsewhere" in r.stderr and "migration lock" in r.stderr
    assert "002_step2" not in _runs(urls[0])

    lease(3)
    t0 = time.monotonic()
    r = run(["migrate", "--no-backup", "--lock-timeout", "30"], tmp_path, env_for(migrations, urls[1]))
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 >= 1.5  # it waited for the expiry
    assert _runs(urls[0]) == {"001_step1": 1, "002_step2": 1}


def test_the_heartbeat_renews_the_lease_and_a_taken_over_run_stops(galera_urls, monkeypatch):
    from aura_db.engines.mysql import lease as lease_mod
    from aura_db.engines.registry import engine_for
    from aura_db.errors import AuraError

    urls = galera_urls()
    monkeypatch.setattr(lease_mod, "HEARTBEAT", 0.3)
    engine = engine_for(urls[0])
    held = lease_mod.Lease(engine, 5)
    held.acquire()
    try:
        first = query_one(urls[1], "SELECT expires_at FROM aura_migration_lock")
        wait_until(lambda: query_one(urls[1], "SELECT expires_at FROM aura_migration_lock") > first,
                   timeout=10, what="a heartbeat moving the expiry")
        held.check()  # still ours
        # Another run takes it over (as after an expiry): the heartbeat notices, the run must stop.
        conn = connect_url(urls[2])
        try:
            with conn.cursor() as cur:
                cur.execute("UPDATE aura_migration_lock SET holder = REPEAT('b', 32)")
        finally:
            conn.close()
        wait_until(lambda: held.lost, timeout=10, what="the heartbeat seeing the lease lost")
        try:
            held.check()
        except AuraError as exc:
            assert exc.exit_code == 5 and "took it over" in exc.message
        else:
            raise AssertionError("check() let a run go on without its lease")
    finally:
        held.release()
    # release() deletes only its own row: the other holder's stays.
    assert query_one(urls[0], "SELECT holder FROM aura_migration_lock") == "b" * 32
