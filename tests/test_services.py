"""The production set-ups `.ci/services start` brings up are what they claim to be.

These check the set-ups themselves, not aura-db: a test of aura-db against a
standby or a Galera cluster proves nothing if the "standby" is a plain server
or the "cluster" has one node.  Each test skips when its variable is unset and
fails when it is set but the set-up is missing or wrong (tests/conftest.py).
"""

from __future__ import annotations

import sqlite3
import subprocess
import uuid
from urllib.parse import urlsplit

import pytest

from conftest import (
    SERVICE_VARS,
    connect_url,
    direct_behind_pgbouncer,
    galera_node_urls,
    query_one,
    service_url,
    wait_for_replay,
    with_database,
)


def rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params or None)
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def execute(url: str, *statements: str) -> None:
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


# --------------------------------------------------------------------------
# MariaDB with lower_case_table_names=1


def test_lctn_server_folds_table_names_to_lower_case(lctn_server_url):
    url = lctn_server_url()
    assert query_one(url, "SELECT @@lower_case_table_names") == 1
    execute(url, "CREATE TABLE ProjectStates (Id INT PRIMARY KEY, Title VARCHAR(20))",
            "INSERT INTO PROJECTSTATES VALUES (1, 'first')")
    # The server stored the name folded, and any spelling finds it.
    assert rows(url, "SHOW TABLES") == [("projectstates",)]
    assert rows(url, "SELECT Title FROM projectSTATES") == [("first",)]
    assert query_one(url, "SELECT @@character_set_database") == "utf8mb4"


# --------------------------------------------------------------------------
# PostgreSQL primary + streaming hot standby


def test_standby_is_in_recovery_streaming_from_the_primary(pg_standby_pair):
    primary, standby = pg_standby_pair()
    assert query_one(primary, "SELECT pg_is_in_recovery()") is False
    assert query_one(standby, "SELECT pg_is_in_recovery()") is True
    assert query_one(standby, "SELECT status FROM pg_stat_wal_receiver") == "streaming"
    assert query_one(standby, "SHOW hot_standby") == "on"
    assert query_one(primary, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") >= 1
    # Two clusters, not one server on two ports: the standby was cloned from
    # the primary, so both carry the same system identifier.
    ident = "SELECT system_identifier::text FROM pg_control_system()"
    assert query_one(primary, ident) == query_one(standby, ident)
    assert query_one(primary, "SELECT inet_server_port()") != query_one(standby, "SELECT inet_server_port()")


def test_standby_sees_a_table_written_on_the_primary_after_replay(pg_standby_pair):
    import psycopg2

    primary, standby = pg_standby_pair()
    marker = uuid.uuid4().hex
    execute(primary, "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)",
            f"INSERT INTO notes (body) VALUES ('{marker}')")
    wait_for_replay(primary, standby)
    assert rows(standby, "SELECT body FROM notes") == [(marker,)]
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        execute(standby, "INSERT INTO notes (body) VALUES ('refused')")


# --------------------------------------------------------------------------
# PgBouncer in transaction pooling mode


def test_pgbouncer_pools_in_transaction_mode(pgbouncer_url):
    url = pgbouncer_url()
    admin = with_database(service_url(SERVICE_VARS["pgbouncer"]), "pgbouncer")
    config = {row[0]: row[1] for row in rows(admin, "SHOW CONFIG")}
    assert config["pool_mode"] == "transaction"
    execute(url, "CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'through the pool')")
    assert rows(url, "SELECT v FROM t") == [("through the pool",)]
    # The query really reached a pooled PostgreSQL server, not PgBouncer itself,
    # and that server holds what went through the pool.
    direct = direct_behind_pgbouncer(url)
    assert urlsplit(direct).port != urlsplit(url).port
    assert query_one(url, "SELECT inet_server_port()") == urlsplit(direct).port
    assert rows(direct, "SELECT v FROM t") == [("through the pool",)]
    pools = {row[0] for row in rows(admin, "SHOW POOLS")}
    assert urlsplit(url).path.lstrip("/") in pools


# --------------------------------------------------------------------------
# Three-node Galera cluster


def test_every_galera_node_is_synced_in_one_cluster_of_three():
    nodes = galera_node_urls()
    assert len(nodes) == 3
    uuids = set()
    for node in nodes:
        try:
            status = dict(rows(node, "SHOW GLOBAL STATUS LIKE 'wsrep_%'"))
        except Exception as exc:  # set but unreachable: fail
            pytest.fail(f"{SERVICE_VARS['galera']} names {node}, which cannot be reached: {exc}")
        assert status["wsrep_cluster_size"] == "3", node
        assert status["wsrep_local_state_comment"] == "Synced", node
        assert status["wsrep_ready"] == "ON", node
        uuids.add(status["wsrep_cluster_state_uuid"])
    assert len(uuids) == 1


def test_a_row_written_on_one_galera_node_is_read_on_the_others(galera_urls):
    first, second, third = galera_urls()
    execute(first, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB",
            "INSERT INTO t VALUES (1, 'from node 1')")
    execute(third, "INSERT INTO t VALUES (3, 'from node 3')")
    for url in (first, second, third):
        conn = connect_url(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION wsrep_sync_wait = 1")  # causal read: wait for the cluster
                cur.execute("SELECT id, v FROM t ORDER BY id")
                assert [tuple(r) for r in cur.fetchall()] == [(1, "from node 1"), (3, "from node 3")], url
        finally:
            conn.close()


# --------------------------------------------------------------------------
# Tools


def test_age_round_trips_a_file(require_tool, tmp_path):
    age, keygen = require_tool("age"), require_tool("age-keygen")
    key = tmp_path / "key.txt"
    subprocess.run([keygen, "-o", str(key)], check=True, capture_output=True, timeout=30)
    recipient = subprocess.run([keygen, "-y", str(key)], check=True, capture_output=True, text=True,
                               timeout=30).stdout.strip()
    assert recipient.startswith("age1")
    plain = tmp_path / "backup.dump"
    plain.write_bytes(b"aura-db backup \x00\x01\x02 " * 1000)
    sealed = tmp_path / "backup.dump.age"
    subprocess.run([age, "-r", recipient, "-o", str(sealed), str(plain)], check=True, capture_output=True, timeout=30)
    assert sealed.read_bytes().startswith(b"age-encryption.org/v1")
    assert b"aura-db backup" not in sealed.read_bytes()
    opened = tmp_path / "opened.dump"
    subprocess.run([age, "-d", "-i", str(key), "-o", str(opened), str(sealed)], check=True, capture_output=True,
                   timeout=30)
    assert opened.read_bytes() == plain.read_bytes()


def test_pgloader_loads_a_sqlite_file_into_postgresql(require_tool, server_url, tmp_path):
    pgloader = require_tool("pgloader")
    source = tmp_path / "app.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE Projects (Id TEXT PRIMARY KEY, Title TEXT NOT NULL)")
        conn.execute("INSERT INTO Projects VALUES ('p1', 'Ünïcode ✓ 标题')")
    conn.close()
    target = server_url("postgresql")
    run = subprocess.run([pgloader, "--quiet", str(source), target], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert rows(target, "SELECT id, title FROM projects") == [("p1", "Ünïcode ✓ 标题")]
