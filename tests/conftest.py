"""Shared fixtures.

* ``cli(*args)`` runs the Typer app in-process and gives stdout, stderr and
  the exit code separately.
* ``workdir`` is an empty temporary working directory (the default SQLite
  database ``aura.db`` and ``./backups`` land there).
* ``server_url("postgresql"|"mysql")`` makes a fresh database on the real
  server named by AURA_DB_TEST_POSTGRES_URL / AURA_DB_TEST_MYSQL_URL and drops
  it afterwards; skipped with a reason when the variable is unset, failing
  when it is set but the server cannot be reached.
* ``any_engine_url`` is parametrised over sqlite, postgresql and mysql.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
MIGRATIONS = REPO / "migrations"
# The shipped migrations, oldest first.  New tests name them through these
# rather than by their file names, so that adding a shipped migration does not
# mean editing every test.
SHIPPED = sorted(p.stem for p in MIGRATIONS.glob("[0-9][0-9][0-9]_*.py"))
FIRST, HEAD = SHIPPED[0], SHIPPED[-1]
# The number a test's own extra migration takes: the first after the shipped ones.
NEXT = int(HEAD.split("_", 1)[0]) + 1
ENV_VARS = {"postgresql": "AURA_DB_TEST_POSTGRES_URL", "mysql": "AURA_DB_TEST_MYSQL_URL"}


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"CliResult(exit_code={self.exit_code}, stdout={self.stdout!r}, stderr={self.stderr!r})"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("AURA_DB_URL", "DATABASE_URL", "AURA_DB_MIGRATIONS", "AURA_DB_BACKUP_DIR",
                 "AURA_DB_CONFIG", "NO_COLOR", "AURA_DB_KEEP", "AURA_DB_COMPRESSION",
                 "AURA_DB_LOCK_TIMEOUT", "AURA_DB_BACKUP_BEFORE_MIGRATE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AURA_DB_ACTOR", "tester")


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def cli():
    from aura_db.cli.app import app

    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> CliResult:
        r = runner.invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=True)
        exc = r.exception if not isinstance(r.exception, SystemExit) else None
        return CliResult(r.exit_code, r.stdout, r.stderr, exc)

    return run


def run_subprocess(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                   timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
    """``python -m aura_db ARGS`` in a real process (no terminal on stdin)."""
    full_env = dict(os.environ)
    full_env.pop("AURA_DB_URL", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "aura_db", *args], cwd=cwd, env=full_env, capture_output=True,
        text=True, timeout=timeout, input=input if input is not None else "",
    )


def migrations_with(folder: Path, **modules: str) -> Path:
    """``folder`` made into a migrations folder: every shipped migration plus ``modules`` (name -> source).

    Name added modules after the shipped ones (``f"{NEXT:03d}_add_tags"``).
    """
    folder.mkdir()
    for name in SHIPPED:
        shutil.copy(MIGRATIONS / f"{name}.py", folder / f"{name}.py")
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(source, encoding="utf-8")
    return folder


NOOP_STEPS = ("def migrate(migrator, database, fake=False):\n    pass\n\n\n"
              "def rollback(migrator, database, fake=False):\n    pass\n")


@pytest.fixture
def migrations_copy(tmp_path) -> Path:
    """A writable copy of the shipped migrations folder."""
    dest = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


# --------------------------------------------------------------------------
# Real servers


def _server_admin(engine: str):
    """(admin URL, connect function) for the server named by the env var, or skip."""
    var = ENV_VARS[engine]
    url = os.environ.get(var)
    if not url:
        pytest.skip(f"{var} is not set: no {engine} server to test against")
    return url


def _connect_admin(engine: str, url: str):
    parts = urlsplit(url)
    if engine == "postgresql":
        import psycopg2

        conn = psycopg2.connect(
            host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
            user=parts.username or "postgres", password=parts.password or None,
            dbname=(parts.path or "/postgres").lstrip("/") or "postgres", connect_timeout=5,
        )
        conn.autocommit = True
        return conn
    import pymysql

    return pymysql.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
        user=parts.username or "root", password=parts.password or "", connect_timeout=5,
        autocommit=True,
    )


@pytest.fixture
def server_url():
    """Factory: a URL to a brand-new database on the named server, dropped afterwards."""
    made: list[tuple[str, str, str]] = []

    def make(engine: str) -> str:
        admin = _server_admin(engine)
        try:
            conn = _connect_admin(engine, admin)
        except Exception as exc:  # set but unreachable: fail, never skip
            pytest.fail(f"{ENV_VARS[engine]} is set but the {engine} server cannot be reached: {exc}")
        name = f"aura_test_{uuid.uuid4().hex[:12]}"
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        conn.close()
        made.append((engine, admin, name))
        parts = urlsplit(admin)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))

    yield make
    for engine, admin, name in made:
        try:
            conn = _connect_admin(engine, admin)
            with conn.cursor() as cur:
                if engine == "postgresql":
                    cur.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                        (name,),
                    )
                cur.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.close()
        except Exception:  # noqa: BLE001 - cleanup must not hide the test's own result
            pass


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def any_engine_url(request, server_url, tmp_path) -> str:
    """The same scenario on every engine: a fresh, empty database URL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aura.db'}"
    return server_url(request.param)
