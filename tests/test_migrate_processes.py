"""Real processes: concurrent runs, the lock, SIGKILL and Ctrl-C mid-migration."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import HEAD, NEXT, SHIPPED

SLOW = '''
"""Adds a column, then sleeps so another process can collide with the run."""
import os
import time

import peewee as pw


def migrate(migrator, database, *, fake=False):
    migrator.add_fields("ProjectStates", labels=pw.TextField(column_name="Labels", null=True))
    if not fake:
        migrator.sql('INSERT INTO "ActionLogs" ("Id", "UserId", "ActionType", "Timestamp", "Status", '
                     '"CanBatch", "IsPersistent", "Description") VALUES (\\'{pid}\\', \\'u\\', \\'slow\\', \\'2025-01-01\\', '
                     '\\'Applied\\', 0, 1, \\'\\')'.replace("{pid}", str(os.getpid())))
        migrator.run(time.sleep, float(os.environ.get("SLOW_SECONDS", "1.5")))


def rollback(migrator, database, *, fake=False):
    migrator.remove_fields("ProjectStates", "labels")
'''


def _env(migrations: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("AURA_DB_URL", "DATABASE_URL"):
        env.pop(k, None)
    env.update({"AURA_DB_MIGRATIONS": str(migrations), "AURA_DB_ACTOR": "tester"}, **extra)
    return env


def _start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "aura_db", *args], cwd=cwd, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _rows(db: Path, query: str):
    con = sqlite3.connect(db)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def _migrate_shipped(cwd: Path, env: dict[str, str]) -> None:
    r = subprocess.run([sys.executable, "-m", "aura_db", "migrate", "--to", HEAD], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr


def _wait_for_sleep(db: Path, timeout: float = 20) -> None:
    """Until the slow migration is inside its transaction (its journal exists).

    Callers apply 001 first, so the only transaction left to open is 002's.
    """
    journal = db.with_name(db.name + "-journal")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.exists():
            return
        time.sleep(0.02)
    raise AssertionError("the slow migration never started")


@pytest.fixture
def slow(migrations_copy):
    (migrations_copy / f"{NEXT:03d}_slow.py").write_text(SLOW.lstrip())
    return migrations_copy


def test_four_concurrent_runs_apply_each_migration_once(slow, tmp_path):
    env = _env(slow, SLOW_SECONDS="1")
    procs = [_start(["migrate", "--no-backup", "--lock-timeout", "60"], tmp_path, env) for _ in range(4)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert [r[2] for r in results] == [0, 0, 0, 0], results
    db = tmp_path / "aura.db"
    assert _rows(db, "SELECT name FROM aura_schema_history ORDER BY id") == [*[(n,) for n in SHIPPED], (f"{NEXT:03d}_slow",)]
    # 002's insert ran exactly once, in one process.
    assert _rows(db, "SELECT count(*) FROM ActionLogs WHERE ActionType='slow'") == [(1,)]
    applied = _rows(db, "SELECT migrations FROM aura_migration_log WHERE outcome='success' AND migrations != ''")
    assert applied == [(",".join([*SHIPPED, f"{NEXT:03d}_slow"]),)]
    assert sum("nothing to do" in r[0] for r in results) == 3


def test_second_run_waits_for_the_lock_then_exits_5(slow, tmp_path):
    env = _env(slow, SLOW_SECONDS="6")
    _migrate_shipped(tmp_path, env)
    first = _start(["migrate", "--no-backup"], tmp_path, env)
    try:
        _wait_for_sleep(tmp_path / "aura.db")
        t0 = time.monotonic()
        second = subprocess.run(
            [sys.executable, "-m", "aura_db", "migrate", "--no-backup", "--lock-timeout", "1"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
        waited = time.monotonic() - t0
        assert second.returncode == 5, second.stderr
        assert "migration lock" in second.stderr and f"pid {first.pid}" in second.stderr
        assert waited >= 1.0
    finally:
        first.wait(timeout=60)
    assert first.returncode == 0


def test_sigkill_mid_migration_leaves_no_lock_and_no_half_migration(slow, tmp_path):
    db = tmp_path / "aura.db"
    env = _env(slow, SLOW_SECONDS="30")
    _migrate_shipped(tmp_path, env)
    victim = _start(["migrate", "--no-backup"], tmp_path, env)
    _wait_for_sleep(db)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL
    # The database is as it was before the slow migration: no column, no row, no history.
    assert _rows(db, "SELECT name FROM aura_schema_history ORDER BY id") == [(n,) for n in SHIPPED]
    assert "Labels" not in [r[1] for r in _rows(db, "PRAGMA table_info(ProjectStates)")]
    assert _rows(db, "SELECT count(*) FROM ActionLogs") == [(0,)]
    # ... and the next run is not blocked by a stale lock.
    env["SLOW_SECONDS"] = "0"
    again = subprocess.run(
        [sys.executable, "-m", "aura_db", "migrate", "--no-backup", "--lock-timeout", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert again.returncode == 0, again.stderr
    assert _rows(db, "SELECT name FROM aura_schema_history ORDER BY id") == [*[(n,) for n in SHIPPED], (f"{NEXT:03d}_slow",)]
    assert _rows(db, "PRAGMA integrity_check") == [("ok",)]


def test_ctrl_c_mid_migration_exits_130_and_rolls_back(slow, tmp_path):
    db = tmp_path / "aura.db"
    env = _env(slow, SLOW_SECONDS="30")
    _migrate_shipped(tmp_path, env)
    run = _start(["migrate", "--no-backup"], tmp_path, env)
    _wait_for_sleep(db)
    run.send_signal(signal.SIGINT)
    _out, err = run.communicate(timeout=30)
    assert run.returncode == 130, err
    assert "Traceback" not in err
    assert _rows(db, "SELECT name FROM aura_schema_history ORDER BY id") == [(n,) for n in SHIPPED]
    assert "Labels" not in [r[1] for r in _rows(db, "PRAGMA table_info(ProjectStates)")]
    assert _rows(db, "SELECT outcome FROM aura_migration_log ORDER BY id DESC LIMIT 1") == [("interrupted",)]


def test_python_dash_m_and_console_script(tmp_path):
    r = subprocess.run([sys.executable, "-m", "aura_db", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("aura-db ")
    exe = Path(sys.executable).with_name("aura-db")
    if exe.exists():
        r = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
        assert r.stdout == f"aura-db {__import__('aura_db').__version__}\n"
