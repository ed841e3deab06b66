"""PostgreSQL schemas: the ``schema`` setting (``?schema=``, settings key ``schema``, AURA_DB_SCHEMA).

The issue's case: the owner role keeps aura-db's tables in a schema of its
own through its search_path.  Another role (here the server's admin) must see
them with the schema setting, must be stopped before it builds a second copy
in ``public`` without it, and a backup of that schema must pass
``backup verify --full`` and restore.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from conftest import HEAD, connect_url, query_one

PASSWORD = "p@ss:w/rd #1%"  # every character a URL must escape
SCHEMA = "aura_app"


def _with(url: str, *, user: str | None = None, password: str | None = None, query: str = "") -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if user:
        netloc = f"{quote(user, safe='')}:{quote(password or '', safe='')}@{netloc}"
    elif "@" in parts.netloc:
        netloc = parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _tables_in(url: str, schema: str) -> int:
    return query_one(url, "SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,))


@pytest.fixture
def schema_db(server_url):
    """(admin URL, owner URL) of a fresh database whose owner role (no CREATEDB) keeps its tables in SCHEMA."""
    admin = server_url("postgresql")
    dbname = urlsplit(admin).path.lstrip("/")
    owner = f"aura_owner_{uuid.uuid4().hex[:8]}"
    conn = connect_url(admin)
    with conn.cursor() as cur:
        cur.execute(f"CREATE ROLE {owner} LOGIN NOCREATEDB PASSWORD %s", (PASSWORD,))
        cur.execute(f"ALTER DATABASE {dbname} OWNER TO {owner}")
        cur.execute(f"CREATE SCHEMA {SCHEMA} AUTHORIZATION {owner}")
        cur.execute(f"ALTER ROLE {owner} IN DATABASE {dbname} SET search_path = {SCHEMA}")
    conn.close()
    try:
        yield admin, _with(admin, user=owner, password=PASSWORD)
    finally:
        conn = connect_url(admin, "postgres")
        with conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (dbname,))
            cur.execute(f"DROP DATABASE IF EXISTS {dbname}")
            cur.execute(f"DROP ROLE IF EXISTS {owner}")
        conn.close()


def test_another_role_sees_the_schema_with_the_setting_and_never_builds_in_public(cli, workdir, schema_db):
    admin, owner = schema_db
    r = cli("--db", owner, "migrate")
    assert r.exit_code == 0, r
    assert _tables_in(admin, SCHEMA) >= 37 and _tables_in(admin, "public") == 0

    # Without the setting the admin's search_path is "public": aura-db says where its tables are
    # instead of "(none applied) ... run aura-db migrate", and a migrate builds nothing.
    r = cli("--db", admin, "status")
    assert r.exit_code == 2, r
    assert f"are in schema '{SCHEMA}'" in r.stderr and f"?schema={SCHEMA}" in r.stderr
    assert "Traceback" not in r.stderr
    r = cli("--db", admin, "migrate", "--json")
    assert r.exit_code == 2, r
    assert json.loads(r.stdout)["ok"] is False
    assert _tables_in(admin, "public") == 0

    # With it, as a URL parameter, an environment variable or a settings file key.
    r = cli("--db", _with(admin, query=f"schema={SCHEMA}"), "status", "--check", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["head"] == HEAD
    r = cli("--db", admin, "status", "--check", env={"AURA_DB_SCHEMA": SCHEMA})
    assert r.exit_code == 0, r
    (workdir / "aura-db.toml").write_text(f'schema = "{SCHEMA}"\n', encoding="utf-8")
    r = cli("--db", admin, "-v", "verify", "--json")
    assert r.exit_code == 0, r
    assert f"schema = {SCHEMA}  (file " in r.stderr
    doc = json.loads(r.stdout)
    assert doc["status"] == "pass", [c for c in doc["checks"] if c["status"] != "pass"]
    r = cli("--db", admin, "inspect", "--json")
    assert r.exit_code == 0, r
    assert len(json.loads(r.stdout)["tables"]) >= 37
    # The admin's seed lands in the schema too.
    r = cli("--db", admin, "seed", "--json")
    assert r.exit_code == 0, r
    assert query_one(admin, f'SELECT count(*) FROM {SCHEMA}."ProjectStates"') == 6
    assert _tables_in(admin, "public") == 0


def test_the_schema_is_a_startup_option_checked_after_connect(cli, workdir, schema_db):
    from aura_db.engines.registry import engine_for

    admin, _ = schema_db
    engine = engine_for(_with(admin, query=f"schema={SCHEMA}"))
    params = engine._connect_params()
    assert "schema" not in params  # never handed to libpq
    assert params["options"] == f'-csearch_path="{SCHEMA}"'
    db = engine.open()
    try:
        assert db.execute_sql("SELECT current_schema()").fetchone()[0] == SCHEMA
        # a startup option, not a session SET: it is the session's default, not a changed value
        assert db.execute_sql("SELECT source FROM pg_settings WHERE name = 'search_path'").fetchone()[0] == "client"
    finally:
        db.close()

    r = cli("--db", _with(admin, query="schema=no_such_schema"), "status")
    assert r.exit_code == 4, r
    lines = r.stderr.strip().splitlines()
    assert lines[0] == f"error: schema 'no_such_schema' does not exist in {_with(admin, query='schema=no_such_schema')}"
    assert 'CREATE SCHEMA "no_such_schema"' in lines[1] and len(lines) == 2


def test_a_schema_name_that_needs_quoting(cli, workdir, server_url):
    admin = server_url("postgresql")
    name = "Aura App"
    conn = connect_url(admin)
    with conn.cursor() as cur:
        cur.execute('CREATE SCHEMA "Aura App"')
    conn.close()
    url = _with(admin, query="schema=" + quote(name))
    r = cli("--db", url, "migrate")
    assert r.exit_code == 0, r
    assert _tables_in(admin, name) >= 37 and _tables_in(admin, "public") == 0
    r = cli("--db", url, "verify", "--json")
    assert r.exit_code == 0, r


def test_schema_is_refused_where_the_engine_has_none(cli, workdir, server_url):
    mysql = server_url("mysql")
    r = cli("--db", mysql, "status", env={"AURA_DB_SCHEMA": "aura_app"})
    assert r.exit_code == 2, r
    assert "mysql has no schemas inside a database" in r.stderr
    r = cli("--db", mysql + "?schema=aura_app", "status")
    assert r.exit_code == 2, r
    assert "unknown parameter 'schema'" in r.stderr
    r = cli("--db", "sqlite:///aura.db", "status", env={"AURA_DB_SCHEMA": "aura_app"})
    assert r.exit_code == 2, r


def test_backup_of_the_schema_verifies_fully_and_restores(cli, workdir, schema_db):
    admin, owner = schema_db
    url = _with(owner, query=f"schema={SCHEMA}")
    assert cli("--db", url, "migrate").exit_code == 0
    assert cli("--db", url, "seed").exit_code == 0
    conn = connect_url(admin)
    with conn.cursor() as cur:  # something of someone else's in public: not part of aura-db's backup
        cur.execute("CREATE TABLE public.not_aura (x int)")
    conn.close()

    r = cli("--db", url, "backup", "--json")
    assert r.exit_code == 0, r
    made = json.loads(r.stdout)
    listing = subprocess.run(["pg_restore", "--list", made["path"]], capture_output=True, text=True, check=True).stdout
    assert f"TABLE DATA {SCHEMA} ProjectStates" in listing
    assert "not_aura" not in listing  # pg_dump --schema

    # --full as the server's admin (it may create the scratch database)
    r = cli("--db", _with(admin, query=f"schema={SCHEMA}"), "backup", "verify", "--full", made["file"], "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["ok"] is True

    # restore as the owner: the schema's tables come back, public.not_aura is left alone
    conn = connect_url(admin)
    with conn.cursor() as cur:
        cur.execute(f'DELETE FROM {SCHEMA}."ProjectStates"')
    conn.close()
    r = cli("--db", url, "restore", made["file"], "--yes")
    assert r.exit_code == 0, r
    assert query_one(admin, f'SELECT count(*) FROM {SCHEMA}."ProjectStates"') == 6
    assert query_one(admin, "SELECT count(*) FROM pg_tables WHERE tablename = 'not_aura'") == 1
    r = cli("--db", url, "verify", "--json")
    assert r.exit_code == 0, r


def test_through_pgbouncer_the_schema_comes_from_the_role(cli, workdir, pgbouncer_url):
    from conftest import direct_behind_pgbouncer

    bouncer = pgbouncer_url()
    connect_url(bouncer).close()  # PgBouncer lists a database once a client has asked for it
    direct = direct_behind_pgbouncer(bouncer)
    dbname = urlsplit(direct).path.lstrip("/")
    user = urlsplit(direct).username or "postgres"
    conn = connect_url(direct)
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {SCHEMA}")
    conn.close()
    # PgBouncer refuses startup options: without a role setting the schema cannot take effect.
    url = _with(bouncer, query=f"schema={SCHEMA}")
    r = cli("--db", url, "status")
    assert r.exit_code == 4, r
    assert "refuses the startup option" in r.stderr
    assert f'ALTER ROLE "{user}" IN DATABASE "{dbname}" SET search_path = "{SCHEMA}"' in r.stderr

    # Following the hint (then new server connections: PgBouncer may keep the old ones).
    conn = connect_url(direct)
    with conn.cursor() as cur:
        cur.execute(f'ALTER ROLE "{user}" IN DATABASE "{dbname}" SET search_path = {SCHEMA}')
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                    "AND pid <> pg_backend_pid()", (dbname,))
    conn.close()
    r = cli("--db", url, "migrate")
    assert r.exit_code == 0, r
    assert _tables_in(direct, SCHEMA) >= 37 and _tables_in(direct, "public") == 0
