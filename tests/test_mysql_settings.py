"""MySQL/MariaDB server settings: lower_case_table_names, character sets, sql_mode.

* On a MariaDB with ``lower_case_table_names=1`` (the default on Windows and
  macOS; AURA_DB_TEST_MYSQL_LCTN_URL) the whole cycle passes: migrate,
  status --check, seed (dev and synthetic), verify, inspect, backup,
  backup verify --full, rollback, restore.  ``lower_case_table_names=2``
  takes names in lower case for comparison as 1 does; MariaDB on Linux
  refuses it (it sets 0: the file system is case sensitive), so 1 is what the
  tests can run, and aura-db treats 2 by the same code path.
* aura-db's own sessions are strict and utf8mb4 whatever the server's global
  sql_mode: an over-long value is refused, never cut short.
* ``verify`` warns (it does not fail) about a database, tables or text
  columns in a character set that cannot hold emoji, and about a non-strict
  global sql_mode.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit

import pytest

from conftest import HEAD, SHIPPED, connect_url, query_one


def _verify(cli, url: str) -> tuple[int, dict]:
    r = cli("--db", url, "verify", "--json")
    return r.exit_code, json.loads(r.stdout)


def _check(doc: dict, name: str) -> dict:
    return next(c for c in doc["checks"] if c["check"] == name)


def _failures(doc: dict) -> list:
    return [(c["check"], c["problems"]) for c in doc["checks"] if c["status"] == "fail"]


# --------------------------------------------------------------------------
# lower_case_table_names=1


def test_whole_cycle_on_lower_case_table_names_1(cli, workdir, lctn_server_url):
    url = lctn_server_url()
    assert query_one(url, "SELECT @@lower_case_table_names") == 1
    r = cli("--db", url, "migrate")
    assert r.exit_code == 0, r
    r = cli("--db", url, "status", "--check", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["head"] == HEAD

    r = cli("--db", url, "seed", "--json")
    assert r.exit_code == 0, r  # the issue: "lacks table(s) ProjectStates ... run aura-db migrate"
    assert json.loads(r.stdout)["created"]["ProjectStates"] == 6
    r = cli("--db", url, "seed", "synthetic", "--projects", "15", "--yes", "--json")
    assert r.exit_code == 0, r
    synthetic = json.loads(r.stdout)
    assert synthetic["rows_created"] > 15

    code, doc = _verify(cli, url)
    assert code == 0, _failures(doc)
    assert doc["status"] == "pass", [c for c in doc["checks"] if c["status"] != "pass"]

    r = cli("--db", url, "inspect", "--json")
    assert r.exit_code == 0, r
    tables = {t["name"] for t in json.loads(r.stdout)["tables"]}
    assert "projectstates" in tables  # the server keeps the names in lower case
    r = cli("--db", url, "inspect", "table", "ProjectStates", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["rows"] >= 21

    r = cli("--db", url, "backup", "--json")
    assert r.exit_code == 0, r
    backup = json.loads(r.stdout)
    r = cli("--db", url, "backup", "verify", "--full", "latest", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["ok"] is True

    r = cli("--db", url, "rollback", "--yes")
    assert r.exit_code == 0, r
    r = cli("--db", url, "status", "--json")
    assert json.loads(r.stdout)["head"] == SHIPPED[-2]

    r = cli("--db", url, "restore", backup["file"], "--yes")
    assert r.exit_code == 0, r
    r = cli("--db", url, "status", "--check", "--json")
    assert r.exit_code == 0, r
    code, doc = _verify(cli, url)
    assert code == 0, _failures(doc)
    r = cli("--db", url, "inspect", "table", "ProjectStates", "--json")
    assert json.loads(r.stdout)["rows"] >= 21
    r = cli("--db", url, "migrate")
    assert r.exit_code == 0, r


# --------------------------------------------------------------------------
# Character sets


@pytest.fixture
def latin1_url(server_url):
    """A database created CHARACTER SET latin1 on the MySQL server of AURA_DB_TEST_MYSQL_URL."""
    url = server_url("mysql")
    name = urlsplit(url).path.lstrip("/")
    conn = connect_url(url)
    with conn.cursor() as cur:
        cur.execute(f"ALTER DATABASE {name} CHARACTER SET latin1 COLLATE latin1_swedish_ci")
    conn.close()
    return url


def test_verify_warns_about_a_latin1_database_and_its_tables(cli, workdir, latin1_url):
    r = cli("--db", latin1_url, "migrate")
    assert r.exit_code == 0, r
    code, doc = _verify(cli, latin1_url)
    assert code == 0, _failures(doc)  # a warning, not a failure
    check = _check(doc, "server settings")
    assert check["status"] == "warn"
    assert "database default latin1" in check["detail"]
    text = "\n".join(check["problems"])
    name = urlsplit(latin1_url).path.lstrip("/")
    assert f"database {name} defaults to character set latin1" in text
    # every table the migrations made took the database's default; each is named
    for table in ("ProjectStates", "export_history", "user_setup"):
        assert f"table {table} defaults to latin1" in text, text
    assert "Title (latin1)" in text
    assert "CONVERT TO CHARACTER SET utf8mb4" in text


def test_verify_names_a_single_utf8mb3_column(cli, workdir, server_url):
    url = server_url("mysql")
    assert cli("--db", url, "migrate").exit_code == 0
    code, doc = _verify(cli, url)
    assert _check(doc, "server settings")["status"] == "pass", _check(doc, "server settings")
    conn = connect_url(url)
    with conn.cursor() as cur:  # utf8 (utf8mb3) has no room for emoji
        cur.execute("ALTER TABLE `templates` MODIFY `name` VARCHAR(200) CHARACTER SET utf8mb3 NOT NULL")
    conn.close()
    code, doc = _verify(cli, url)
    check = _check(doc, "server settings")
    assert check["status"] == "warn"
    assert check["problems"] and all("templates" in p for p in check["problems"]), check
    assert "name (utf8mb3)" in check["problems"][0]


# --------------------------------------------------------------------------
# sql_mode


@pytest.fixture
def nonstrict_global_sql_mode(lctn_server_url):
    """A database on the lower_case_table_names=1 server while its GLOBAL sql_mode is '' (restored after)."""
    url = lctn_server_url()
    admin = connect_url(url)
    with admin.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.sql_mode")
        before = cur.fetchone()[0]
        cur.execute("SET GLOBAL sql_mode = ''")
    try:
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute("SET GLOBAL sql_mode = %s", (before,))
        admin.close()


def test_nonstrict_global_sql_mode_warns_and_aura_db_stays_strict(cli, workdir, nonstrict_global_sql_mode):
    from aura_db.engines.registry import engine_for

    url = nonstrict_global_sql_mode
    r = cli("--db", url, "migrate")
    assert r.exit_code == 0, r
    code, doc = _verify(cli, url)
    assert code == 0, _failures(doc)
    check = _check(doc, "server settings")
    assert check["status"] == "warn"
    assert "global sql_mode not strict (empty)" in check["detail"]
    assert any("SET GLOBAL sql_mode" in p for p in check["problems"])

    long_status = "x" * 300  # export_history.status holds 50
    # The server's default session (what the app gets) truncates without a word...
    plain = connect_url(url)
    with plain.cursor() as cur:
        cur.execute("SELECT @@SESSION.sql_mode")
        assert cur.fetchone()[0] == ""
        cur.execute("INSERT INTO export_history (id, input_file, output_file, preset_name, status, progress, "
                    "created_at) VALUES (%s, 'a', 'b', 'p', %s, 0, NOW())", (str(uuid.uuid4()), long_status))
        cur.execute("SELECT MAX(LENGTH(status)) FROM export_history")
        assert cur.fetchone()[0] < 300
    plain.close()
    # ... aura-db's own session refuses the same value.
    import peewee as pw

    db = engine_for(url).open()
    try:
        mode = db.execute_sql("SELECT @@SESSION.sql_mode").fetchone()[0]
        assert "STRICT_ALL_TABLES" in mode
        assert db.execute_sql("SELECT @@SESSION.character_set_client").fetchone()[0] == "utf8mb4"
        with pytest.raises(pw.DataError, match="too long"):
            db.execute_sql("INSERT INTO export_history (id, input_file, output_file, preset_name, status, progress, "
                           "created_at) VALUES (%s, 'a', 'b', 'p', %s, 0, NOW())", (str(uuid.uuid4()), long_status))
    finally:
        db.close()


def test_emoji_survives_aura_db_sessions(cli, workdir, lctn_server_url):
    from aura_db.engines.registry import engine_for

    url = lctn_server_url()
    assert cli("--db", url, "migrate").exit_code == 0
    text = "Launch 🚀 ビデオ"
    db = engine_for(url).open()
    try:
        db.execute_sql("INSERT INTO templates (id, name, description, category, sub_category, preview_image, "
                       "preview_video, tags, template_data, created_at, updated_at, author, is_system_template, "
                       "is_community_template, usage_count, rating, rating_count) VALUES "
                       "(%s, %s, '', '', '', '', '', '', '{}', NOW(), NOW(), '', 0, 0, 0, 0, 0)",
                       ("t-emoji", text))
        assert db.execute_sql("SELECT name FROM templates WHERE id = 't-emoji'").fetchone()[0] == text
    finally:
        db.close()


@pytest.mark.parametrize("query, word", [("sql_mode=ANSI", "not strict"), ("charset=latin1", "utf8mb4 only")])
def test_a_url_asking_for_a_loose_session_is_refused(cli, workdir, server_url, query, word):
    url = server_url("mysql") + "?" + query
    r = cli("--db", url, "status")
    assert r.exit_code == 2, r
    assert word in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2


def test_lower_case_table_names_2_is_compared_as_1():
    """2 keeps names as written and compares them in lower case: the catalog folds as for 1."""
    from aura_db.engines.mysql.catalog import MysqlCatalog

    for value, folds in ((0, False), (1, True), (2, True)):
        cat = MysqlCatalog.__new__(MysqlCatalog)
        cat._lctn = value
        assert cat.case_insensitive_names is folds
        assert (cat.fold("ProjectStates") == cat.fold("projectstates")) is folds
