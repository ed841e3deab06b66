"""``backup verify --full --scratch URL``: a full check in an existing, empty database.

The recommended owner role may not create databases (no CREATEDB on
PostgreSQL, no global CREATE on MySQL), so a full check cannot make its own
scratch database.  The operator names an empty one; aura-db refuses it when
it is not empty or is the database itself, and leaves it empty afterwards.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from conftest import connect_url, query_one, with_database

PASSWORD = "s3cret:/@ #%"


def _as(url: str, user: str, password: str, dbname: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{quote(user, safe='')}:{quote(password, safe='')}@{host}", f"/{dbname}", "", ""))


# --------------------------------------------------------------------------
# PostgreSQL


@pytest.fixture
def pg_owner(server_url):
    """(admin URL, owner URL, scratch URL): a database and an empty scratch one, both owned by a role without CREATEDB."""
    admin = server_url("postgresql")
    dbname = urlsplit(admin).path.lstrip("/")
    scratch = f"aura_scratch_{uuid.uuid4().hex[:8]}"
    owner = f"aura_owner_{uuid.uuid4().hex[:8]}"
    conn = connect_url(admin)
    with conn.cursor() as cur:
        cur.execute(f"CREATE ROLE {owner} LOGIN NOCREATEDB NOSUPERUSER PASSWORD %s", (PASSWORD,))
        cur.execute(f"ALTER DATABASE {dbname} OWNER TO {owner}")
        cur.execute(f"CREATE DATABASE {scratch} OWNER {owner}")
    conn.close()
    try:
        yield admin, _as(admin, owner, PASSWORD, dbname), _as(admin, owner, PASSWORD, scratch)
    finally:
        conn = connect_url(admin, "postgres")
        with conn.cursor() as cur:
            for name in (dbname, scratch):
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                cur.execute(f"DROP DATABASE IF EXISTS {name}")
            cur.execute(f"DROP ROLE IF EXISTS {owner}")
        conn.close()


def _pg_objects(admin: str, scratch_url: str) -> int:
    return query_one(admin, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                            "AND left(n.nspname, 3) <> 'pg_'", dbname=urlsplit(scratch_url).path.lstrip("/"))


def test_pg_owner_without_createdb_verifies_fully_in_a_named_scratch(cli, workdir, pg_owner):
    admin, owner, scratch = pg_owner
    assert query_one(admin, "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = %s",
                     (urlsplit(owner).username,)) is False
    assert cli("--db", owner, "migrate").exit_code == 0
    assert cli("--db", owner, "seed").exit_code == 0
    r = cli("--db", owner, "backup", "--json")
    assert r.exit_code == 0, r
    file = json.loads(r.stdout)["file"]

    # Without a scratch database the owner cannot run --full: one line says what to do.
    r = cli("--db", owner, "backup", "verify", "--full", file)
    assert r.exit_code == 1, r
    assert "may not create one" in r.stderr and "--scratch URL" in r.stderr
    assert PASSWORD not in r.stderr and quote(PASSWORD, safe="") not in r.stderr

    r = cli("--db", owner, "backup", "verify", "--full", "--scratch", scratch, file, "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["checks"]["content"] == "ok"
    assert _pg_objects(admin, scratch) == 0  # left empty
    # a second run in the same scratch database: it was left usable
    r = cli("--db", owner, "backup", "verify", "--full", file, env={"AURA_DB_SCRATCH_URL": scratch})
    assert r.exit_code == 0, r
    assert _pg_objects(admin, scratch) == 0


def test_pg_a_full_check_that_finds_damage_still_empties_the_scratch(cli, workdir, pg_owner):
    admin, owner, scratch = pg_owner
    assert cli("--db", owner, "migrate").exit_code == 0
    assert cli("--db", owner, "seed").exit_code == 0
    r = cli("--db", owner, "backup", "--json")
    made = json.loads(r.stdout)
    # The scratch database is empty but its owner may no longer create anything in it:
    # the restore fails part-way, the check reports it, and nothing stays behind.
    conn = connect_url(admin, urlsplit(scratch).path.lstrip("/"))
    with conn.cursor() as cur:
        cur.execute(f"ALTER DATABASE {urlsplit(scratch).path.lstrip('/')} OWNER TO postgres")
        cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        cur.execute(f"REVOKE CREATE ON SCHEMA public FROM {urlsplit(owner).username}")
        cur.execute(f"REVOKE CREATE ON DATABASE {urlsplit(scratch).path.lstrip('/')} FROM PUBLIC")
    conn.close()
    r = cli("--db", owner, "backup", "verify", "--full", "--scratch", scratch, made["file"], "--json")
    assert r.exit_code == 3, r
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and "scratch database failed" in doc["checks"]["content"]
    assert _pg_objects(admin, scratch) == 0


def test_pg_scratch_refusals(cli, workdir, pg_owner):
    admin, owner, scratch = pg_owner
    assert cli("--db", owner, "migrate").exit_code == 0
    r = cli("--db", owner, "backup", "--json")
    file = json.loads(r.stdout)["file"]

    r = cli("--db", owner, "backup", "verify", "--scratch", scratch, file)
    assert r.exit_code == 2 and "add --full" in r.stderr, r

    # the database itself (also when spelled with localhost)
    same = owner.replace("127.0.0.1", "localhost")
    r = cli("--db", owner, "backup", "verify", "--full", "--scratch", same, file)
    assert r.exit_code == 2, r
    assert "--scratch names the database itself" in r.stderr
    assert cli("--db", owner, "status", "--check").exit_code == 0  # untouched

    # not empty: refused before anything is loaded; what it holds stays
    conn = connect_url(admin, urlsplit(scratch).path.lstrip("/"))
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE keep_me (x int)")
        cur.execute("INSERT INTO keep_me VALUES (1)")
    conn.close()
    r = cli("--db", owner, "backup", "verify", "--full", "--scratch", scratch, file, "--json")
    assert r.exit_code == 2, r
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and "is not empty: it holds table public.keep_me" in doc["error"]
    assert query_one(admin, "SELECT count(*) FROM keep_me", dbname=urlsplit(scratch).path.lstrip("/")) == 1

    # a scratch database of another engine
    r = cli("--db", owner, "backup", "verify", "--full", "--scratch", "sqlite:///scratch.db", file)
    assert r.exit_code == 2, r
    assert len(r.stderr.strip().splitlines()) == 2  # error + hint


# --------------------------------------------------------------------------
# MySQL / MariaDB


@pytest.fixture
def mysql_owner(server_url):
    """(admin URL, owner URL, scratch URL): a user with every right on its database and on an empty scratch one only."""
    admin = server_url("mysql")
    dbname = urlsplit(admin).path.lstrip("/")
    scratch = f"aura_scratch_{uuid.uuid4().hex[:8]}"
    user = f"aura_o_{uuid.uuid4().hex[:8]}"
    conn = connect_url(admin)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {scratch} CHARACTER SET utf8mb4")
        cur.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (PASSWORD,))
        cur.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY %s", (PASSWORD,))
        for host in ("%", "localhost"):
            cur.execute(f"GRANT ALL ON {dbname}.* TO '{user}'@'{host}'")
            cur.execute(f"GRANT ALL ON {scratch}.* TO '{user}'@'{host}'")
    conn.close()
    try:
        yield admin, _as(admin, user, PASSWORD, dbname), _as(admin, user, PASSWORD, scratch)
    finally:
        conn = connect_url(admin)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {scratch}")
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cur.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")
        conn.close()


def test_mysql_user_without_create_verifies_fully_in_a_named_scratch(cli, workdir, mysql_owner):
    admin, owner, scratch = mysql_owner
    assert cli("--db", owner, "migrate").exit_code == 0
    assert cli("--db", owner, "seed").exit_code == 0
    r = cli("--db", owner, "backup", "--json")
    assert r.exit_code == 0, r
    file = json.loads(r.stdout)["file"]

    r = cli("--db", owner, "backup", "verify", "--full", file)
    assert r.exit_code == 1, r
    assert "may not create one" in r.stderr and "--scratch" in r.stderr

    r = cli("--db", owner, "backup", "verify", "--full", "--scratch", scratch, file, "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["ok"] is True
    name = urlsplit(scratch).path.lstrip("/")
    assert query_one(admin, "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (name,)) == 0

    conn = connect_url(with_database(admin, name))
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE keep_me (x int)")
    conn.close()
    r = cli("--db", owner, "backup", "verify", "--full", "--scratch", scratch, file)
    assert r.exit_code == 2, r
    assert "is not empty: it holds table keep_me" in r.stderr
    assert query_one(admin, "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (name,)) == 1
