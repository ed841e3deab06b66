"""What the lock, pooler, Galera and lost-connection tests share: counted migrations, real runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

# Each migration inserts one row naming itself: the rows count how many times
# its body really ran and committed (exactly once, whatever the concurrency).
FIRST = '''
def migrate(migrator, database, fake=False):
    migrator.sql("CREATE TABLE mig_runs (name VARCHAR(40) NOT NULL, pid INT NOT NULL)")
    migrator.sql("INSERT INTO mig_runs (name, pid) VALUES ('{name}', {pid})".format(
        name=__name__.replace("aura_migration_", ""), pid=__import__("os").getpid()))


def rollback(migrator, database, fake=False):
    migrator.sql("DROP TABLE mig_runs")
'''

COUNTED = '''
import os
import time


def migrate(migrator, database, fake=False):
    migrator.sql("INSERT INTO mig_runs (name, pid) VALUES ('{name}', {pid})".format(
        name=__name__.replace("aura_migration_", ""), pid=os.getpid()))
    migrator.run(time.sleep, float(os.environ.get("COUNTED_SLEEP", "0.2")))


def rollback(migrator, database, fake=False):
    migrator.sql("DELETE FROM mig_runs WHERE name = '{name}'".format(name=__name__.replace("aura_migration_", "")))
'''

# A migration that runs a slow statement on the server (SLOW_SQL): a run to
# kill, or whose connection is killed, while it is inside it.
SLOW = '''
import os


def migrate(migrator, database, fake=False):
    migrator.sql("INSERT INTO mig_runs (name, pid) VALUES ('{name}', {pid})".format(
        name=__name__.replace("aura_migration_", ""), pid=os.getpid()))
    migrator.sql(os.environ["SLOW_SQL"])


def rollback(migrator, database, fake=False):
    pass
'''


def write_migrations(folder: Path, count: int, *, slow_last: bool = False) -> Path:
    """``folder`` holding 001 (the counting table) and counted migrations up to ``count``."""
    folder.mkdir(exist_ok=True)
    for n in range(1, count + 1):
        source = FIRST if n == 1 else (SLOW if slow_last and n == count else COUNTED)
        path = folder / f"{n:03d}_step{n}.py"
        if not path.exists() or slow_last:
            path.write_text(source.lstrip(), encoding="utf-8")
    return folder


def env_for(migrations: Path, url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("AURA_DB_URL", "DATABASE_URL", "AURA_DB_DIRECT_URL", "AURA_DB_BACKUP_BEFORE_MIGRATE",
                "AURA_DB_LOCK_TIMEOUT", "AURA_DB_CONFIG"):
        env.pop(key, None)
    env.update({"AURA_DB_MIGRATIONS": str(migrations), "AURA_DB_URL": url, "AURA_DB_ACTOR": "tester"})
    env.update(extra)
    return env


def start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "aura_db", *args], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aura_db", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def concurrently(n: int, args: list[str], cwd: Path, envs: list[dict[str, str]]) -> list[tuple[int, str, str]]:
    """``n`` runs of ``aura-db ARGS`` started together (run i with envs[i % len(envs)]): (rc, stdout, stderr)."""
    procs = [start(args, cwd, envs[i % len(envs)]) for i in range(n)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=240)
        out.append((p.returncode, stdout, stderr))
    return out


def wait_until(check, timeout: float = 30, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} never came true within {timeout:.0f} s")
