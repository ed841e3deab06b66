"""Table and column names compared as the engine compares them (issue 12, item 4).

SQLite compares names case-insensitively, and so does MySQL/MariaDB with
``lower_case_table_names`` 1 or 2; PostgreSQL does not.  verify, seed and
inspect must agree with the engine: a database whose tables are spelt
``projectstates`` or ``TEMPLATES`` is the Aura schema on SQLite.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from conftest import _connect_admin

LCTN_VAR = "AURA_DB_TEST_MYSQL_LCTN_URL"


def _respell(path) -> None:
    """Rename tables and columns of a migrated SQLite database to other cases, as a user's might be.

    (Through a second name: SQLite refuses ``ProjectStates`` -> ``projectstates``, the same name to it.)
    """
    con = sqlite3.connect(path)
    con.executescript("""
        ALTER TABLE "ProjectStates" RENAME TO "respelled_1";
        ALTER TABLE "respelled_1" RENAME TO "projectstates";
        ALTER TABLE "templates" RENAME TO "respelled_2";
        ALTER TABLE "respelled_2" RENAME TO "TEMPLATES";
        ALTER TABLE "Configurations" RENAME TO "respelled_3";
        ALTER TABLE "respelled_3" RENAME TO "CONFIGURATIONS";
        ALTER TABLE "projectstates" RENAME COLUMN "Title" TO "TITLE";
        ALTER TABLE "SceneStates" RENAME COLUMN "SceneIndex" TO "sceneindex";
    """)
    con.close()
    names = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"projectstates", "TEMPLATES", "CONFIGURATIONS"} <= names and "ProjectStates" not in names


@pytest.fixture
def respelled(cli, tmp_path):
    path = tmp_path / "aura.db"
    assert cli("--db", path, "migrate").exit_code == 0
    _respell(path)
    return path


def test_verify_takes_other_spellings_for_the_same_tables_on_sqlite(cli, respelled):
    r = cli("--db", respelled, "verify", "--json")
    doc = json.loads(r.stdout)
    problems = [d for c in doc["checks"] for d in c.get("problems", [])]
    assert r.exit_code == 0, problems
    checks = {c["check"]: c for c in doc["checks"]}
    assert checks["schema: tables"]["status"] == "pass"
    assert checks["schema: columns"]["status"] == "pass"
    assert checks["schema: indexes"]["status"] == "pass"
    assert checks["schema: foreign keys"]["status"] == "pass"


def test_seed_then_verify_on_respelled_tables(cli, respelled):
    r = cli("--db", respelled, "seed", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["created"]["ProjectStates"] == 6
    assert cli("--db", respelled, "verify").exit_code == 0
    rows = sqlite3.connect(respelled).execute('SELECT COUNT(*) FROM "projectstates"').fetchone()[0]
    assert rows == 6


def test_inspect_table_finds_a_table_by_any_case_on_sqlite(cli, respelled):
    for name in ("ProjectStates", "PROJECTSTATES", "projectstates"):
        r = cli("--db", respelled, "inspect", "table", name, "--json")
        assert r.exit_code == 0, r
        doc = json.loads(r.stdout)
        assert doc["name"] == "projectstates"  # as the database spells it
        assert "TITLE" in {c["name"] for c in doc["columns"]}
    incoming = json.loads(cli("--db", respelled, "inspect", "table", "projectstates", "--json").stdout)
    assert {fk["table"] for fk in incoming["foreign_keys_in"]} >= {"SceneStates", "ProjectVersions"}
    assert cli("--db", respelled, "inspect", "config", "--json").exit_code == 0


def test_postgresql_compares_names_exactly(cli, server_url):
    url = server_url("postgresql")
    assert cli("--db", url, "migrate").exit_code == 0
    assert cli("--db", url, "inspect", "table", "ProjectStates").exit_code == 0
    r = cli("--db", url, "inspect", "table", "projectstates")
    assert r.exit_code == 2
    assert "no table named 'projectstates'" in r.stderr and "did you mean ProjectStates?" in r.stderr


# --------------------------------------------------------------------------
# MariaDB with lower_case_table_names=1 (the CI service sets the variable)


@pytest.fixture
def lctn_url():
    """A fresh database on the MariaDB named by AURA_DB_TEST_MYSQL_LCTN_URL, dropped afterwards."""
    admin = os.environ.get(LCTN_VAR)
    if not admin:
        pytest.skip(f"{LCTN_VAR} is not set: no MariaDB with lower_case_table_names=1 to test against")
    try:
        conn = _connect_admin("mysql", admin)
    except Exception as exc:  # set but unreachable: fail, never skip
        pytest.fail(f"{LCTN_VAR} is set but the server cannot be reached: {exc}")
    name = f"aura_test_{uuid.uuid4().hex[:12]}"
    with conn.cursor() as cur:
        cur.execute("SELECT @@lower_case_table_names")
        lctn = int(cur.fetchone()[0])
        if lctn not in (1, 2):
            conn.close()
            pytest.fail(f"{LCTN_VAR} names a server with lower_case_table_names={lctn}; this test needs 1 or 2")
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    parts = urlsplit(admin)
    yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    try:
        conn = _connect_admin("mysql", admin)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()
    except Exception:  # noqa: BLE001 - cleanup must not hide the test's own result
        pass


def test_migrate_seed_verify_on_mariadb_with_lower_case_table_names(cli, lctn_url):
    r = cli("--db", lctn_url, "migrate")
    assert r.exit_code == 0, r
    r = cli("--db", lctn_url, "seed", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["created"]["ProjectStates"] == 6
    r = cli("--db", lctn_url, "verify", "--json")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0, [d for c in doc["checks"] for d in c.get("problems", [])]
    # The server keeps the names in lower case; inspect finds them by the app's spelling.
    r = cli("--db", lctn_url, "inspect", "table", "ProjectStates", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["name"] == "projectstates"
