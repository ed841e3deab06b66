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
                 "AURA_DB_LOCK_TIMEOUT", "AURA_DB_BACKUP_BEFORE_MIGRATE", "AURA_DB_SCHEMA", "AURA_DB_SCRATCH_URL"):
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


# ==========================================================================
# Production set-ups (issue 14), started by `.ci/services start` in CI.
#
# Each fixture below skips with a reason when its variable is unset, and fails
# (never skips) when the variable is set but the set-up cannot be reached:
#
# * ``lctn_server_url()``  a fresh database on the MariaDB with
#   lower_case_table_names=1 (AURA_DB_TEST_MYSQL_LCTN_URL), dropped afterwards.
# * ``pg_standby_pair()``  (primary URL, standby URL) of a fresh database: it is
#   created on the primary (AURA_DB_TEST_PG_PRIMARY_URL) and read on the
#   streaming hot standby (AURA_DB_TEST_PG_STANDBY_URL) once the standby has
#   replayed the primary's WAL.  A standby is read-only: write on the primary,
#   then ``wait_for_replay(primary, standby)`` before reading the standby.
# * ``pgbouncer_url()``  a fresh database on the PostgreSQL behind PgBouncer
#   (transaction pooling), as a URL through PgBouncer (AURA_DB_TEST_PGBOUNCER_URL);
#   ``direct_behind_pgbouncer(url)`` is the same database straight on that server.
# * ``galera_urls()``  one fresh database as seen through each Galera node
#   (AURA_DB_TEST_GALERA_URLS, comma-separated), created on the first node and
#   present on all of them before the URLs are handed out.
# * ``require_tool(name)``  the path of a command-line tool; skipped when it is
#   missing, failing when AURA_DB_TEST_TOOLS names it (CI installed it).

SERVICE_VARS = {
    "lctn": "AURA_DB_TEST_MYSQL_LCTN_URL",
    "pg_primary": "AURA_DB_TEST_PG_PRIMARY_URL",
    "pg_standby": "AURA_DB_TEST_PG_STANDBY_URL",
    "pgbouncer": "AURA_DB_TEST_PGBOUNCER_URL",
    "galera": "AURA_DB_TEST_GALERA_URLS",
}
REPLAY_TIMEOUT = 30.0  # seconds a standby may take to replay what the primary wrote


def service_url(var: str) -> str:
    """The value of a set-up's variable, or skip naming it."""
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"{var} is not set: run `.ci/services start` (as CI does) to test this set-up")
    return value


def connect_url(url: str, dbname: str | None = None):
    """An autocommit connection to ``url`` (postgresql:// or mysql://), optionally to another database."""
    parts = urlsplit(url)
    if parts.scheme.startswith("postgres"):
        import psycopg2

        conn = psycopg2.connect(
            host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
            user=parts.username or "postgres", password=parts.password or None,
            dbname=dbname or (parts.path or "/postgres").lstrip("/") or "postgres", connect_timeout=5,
        )
        conn.autocommit = True
        return conn
    import pymysql

    return pymysql.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
        user=parts.username or "root", password=parts.password or "", connect_timeout=5,
        database=dbname or (parts.path or "/mysql").lstrip("/") or None, autocommit=True,
    )


def _connect_or_fail(var: str, url: str, dbname: str | None = None):
    try:
        return connect_url(url, dbname)
    except Exception as exc:  # set but unreachable: fail, never skip
        pytest.fail(f"{var} is set but {url} cannot be reached: {exc}")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def query_one(url: str, sql: str, params: tuple = (), dbname: str | None = None):
    """The first column of the first row of ``sql`` on ``url``."""
    conn = connect_url(url, dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params or None)
            row = cur.fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def wait_for_replay(primary_url: str, standby_url: str, timeout: float = REPLAY_TIMEOUT) -> None:
    """Block until the standby has replayed everything the primary had written when called.

    Compares ``pg_current_wal_lsn()`` on the primary with
    ``pg_last_wal_replay_lsn()`` on the standby; fails the test after ``timeout``.
    """
    import time

    target = query_one(primary_url, "SELECT pg_current_wal_lsn()::text", dbname="postgres")
    deadline = time.monotonic() + timeout
    replayed = None
    while time.monotonic() < deadline:
        replayed = query_one(standby_url, "SELECT pg_last_wal_replay_lsn()::text", dbname="postgres")
        if replayed is None and not query_one(standby_url, "SELECT pg_is_in_recovery()", dbname="postgres"):
            pytest.fail(f"{standby_url} is not a standby: it is not in recovery")
        if replayed is not None and query_one(
            standby_url, "SELECT %s::pg_lsn >= %s::pg_lsn", (replayed, target), dbname="postgres"
        ):
            return
        time.sleep(0.05)
    pytest.fail(f"the standby replayed only up to {replayed}, not {target}, within {timeout:.0f} s")


def _drop_pg_database(url: str, name: str) -> None:
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


def _fresh_name() -> str:
    return f"aura_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def lctn_server_url():
    """Factory: a URL to a brand-new database on the lower_case_table_names=1 server, dropped afterwards."""
    var = SERVICE_VARS["lctn"]
    made: list[tuple[str, str]] = []

    def make() -> str:
        admin = service_url(var)
        conn = _connect_or_fail(var, admin)
        name = _fresh_name()
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        conn.close()
        made.append((admin, name))
        return with_database(admin, name)

    yield make
    for admin, name in made:
        try:
            conn = connect_url(admin)
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.close()
        except Exception:  # noqa: BLE001 - cleanup must not hide the test's own result
            pass


@pytest.fixture
def pg_standby_pair():
    """Factory: (primary URL, standby URL) of a brand-new database, visible on the standby; dropped afterwards."""
    made: list[tuple[str, str]] = []

    def make() -> tuple[str, str]:
        primary = service_url(SERVICE_VARS["pg_primary"])
        standby = service_url(SERVICE_VARS["pg_standby"])
        conn = _connect_or_fail(SERVICE_VARS["pg_primary"], primary)
        _connect_or_fail(SERVICE_VARS["pg_standby"], standby).close()
        name = _fresh_name()
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        conn.close()
        made.append((primary, name))
        wait_for_replay(primary, standby)
        return with_database(primary, name), with_database(standby, name)

    yield make
    for primary, name in made:
        try:
            _drop_pg_database(primary, name)
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def pgbouncer_url():
    """Factory: a URL through PgBouncer to a brand-new database on the server behind it, dropped afterwards."""
    var = SERVICE_VARS["pgbouncer"]
    made: list[tuple[str, str]] = []

    def make() -> str:
        bouncer = service_url(var)
        conn = _connect_or_fail(var, bouncer)
        name = _fresh_name()
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        conn.close()
        made.append((bouncer, name))
        return with_database(bouncer, name)

    yield make
    for bouncer, name in made:
        try:  # FORCE also ends the server connections PgBouncer still pools for it
            _drop_pg_database(bouncer, name)
        except Exception:  # noqa: BLE001
            pass


def direct_behind_pgbouncer(bouncer_url: str) -> str:
    """The URL of the same database straight on the PostgreSQL server PgBouncer pools for it.

    Asks PgBouncer's admin console (``SHOW DATABASES``) where it sends that
    database, so a test can compare what went through the pool with the server.
    """
    parts = urlsplit(bouncer_url)
    dbname = parts.path.lstrip("/")
    conn = connect_url(bouncer_url, "pgbouncer")
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            names = [d[0] for d in cur.description]
            found = [dict(zip(names, row)) for row in cur.fetchall() if row[0] == dbname]
    finally:
        conn.close()
    if not found:
        pytest.fail(f"PgBouncer at {parts.hostname}:{parts.port} lists no database {dbname!r}")
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{found[0]['host']}:{found[0]['port']}/{found[0]['database']}"


def galera_node_urls() -> list[str]:
    """The admin URL of every Galera node, or skip."""
    return [u.strip() for u in service_url(SERVICE_VARS["galera"]).split(",") if u.strip()]


@pytest.fixture
def galera_urls():
    """Factory: URLs of one brand-new database through each Galera node (created on the first), dropped afterwards."""
    import time

    var = SERVICE_VARS["galera"]
    made: list[tuple[str, str]] = []

    def make() -> list[str]:
        nodes = galera_node_urls()
        conns = [_connect_or_fail(var, node) for node in nodes]
        name = _fresh_name()
        with conns[0].cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        made.append((nodes[0], name))
        deadline = time.monotonic() + REPLAY_TIMEOUT
        for node, conn in zip(nodes, conns):
            while True:
                with conn.cursor() as cur:
                    cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
                    if cur.fetchone()[0]:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"database {name} made on {nodes[0]} never appeared on {node}")
                time.sleep(0.05)
            conn.close()
        return [with_database(node, name) for node in nodes]

    yield make
    for node, name in made:
        try:
            conn = connect_url(node)
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.close()
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def require_tool():
    """Factory: the path of a command-line tool (age, age-keygen, pgloader ...), or skip / fail."""

    def find(name: str) -> str:
        path = shutil.which(name)
        installed_by_ci = name in os.environ.get("AURA_DB_TEST_TOOLS", "").split(",")
        if path is None:
            if installed_by_ci:
                pytest.fail(f"AURA_DB_TEST_TOOLS names {name} but it is not on PATH")
            pytest.skip(f"{name} is not installed (`.ci/services start` installs it)")
        return path

    return find
