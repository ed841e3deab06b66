"""A database known by what it is: a backup's manifest records its identity, and "same database" follows it.

Galera (AURA_DB_TEST_GALERA_URLS): a backup taken through node 2 is `latest`
for node 1, and counts in node 1's retention.  The PostgreSQL standby side
is in tests/test_standby.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import connect_url, query_one


def _json(r) -> dict:
    return json.loads(r.stdout)


def _cluster_uuid(url: str) -> str:
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW STATUS LIKE 'wsrep_cluster_state_uuid'")
            return cur.fetchone()[1]
    finally:
        conn.close()


def _wait_for_rows(url: str, table: str, n: int) -> None:
    import time

    deadline = time.monotonic() + 30
    while query_one(url, f"SELECT COUNT(*) FROM {table}") != n:
        if time.monotonic() > deadline:
            pytest.fail(f"{table} never reached {n} row(s) on {url}")
        time.sleep(0.05)


def test_a_backup_taken_on_galera_node_2_is_latest_for_node_1(galera_urls, cli, tmp_path):
    node1, node2, *_ = galera_urls()
    folder = tmp_path / "backups"
    assert cli("--db", node1, "migrate").exit_code == 0
    conn = connect_url(node1)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE marker (id INT PRIMARY KEY, v VARCHAR(40))")
            cur.execute("INSERT INTO marker VALUES (1, 'taken on node 2')")
    finally:
        conn.close()
    _wait_for_rows(node2, "marker", 1)
    r = cli("--db", node2, "--backup-dir", folder, "backup", "--label", "onnode2", "--json")
    assert r.exit_code == 0, r
    made = _json(r)
    name = urlsplit(node1).path.lstrip("/")
    assert made["manifest"]["identity"] == f"galera-cluster={_cluster_uuid(node1)} database={name}"
    assert f":{urlsplit(node2).port}/" in made["manifest"]["source"]
    conn = connect_url(node1)
    try:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM marker")
    finally:
        conn.close()
    r = cli("--db", node1, "--backup-dir", folder, "restore", "latest", "--yes", "--json")
    assert r.exit_code == 0, r
    doc = _json(r)
    assert Path(doc["backup"]).name == made["file"]
    assert not [c for c in doc["caveats"] if "not of" in c], doc
    assert query_one(node1, "SELECT v FROM marker") == "taken on node 2"
    # `backup list` names what each backup is of.
    listed = _json(cli("--backup-dir", folder, "backup", "list", "--json"))
    entries = listed["backups"] if isinstance(listed, dict) and "backups" in listed else listed
    assert made["manifest"]["identity"] in [e.get("identity") for e in entries]


def test_galera_node_1_retention_counts_node_2s_backups(galera_urls, cli, tmp_path):
    node1, node2, *_ = galera_urls()
    folder = tmp_path / "backups"
    assert cli("--db", node1, "migrate").exit_code == 0
    assert cli("--db", node2, "--backup-dir", folder, "backup", "--label", "onnode2").exit_code == 0
    r = cli("--db", node1, "--backup-dir", folder, "backup", "--label", "onnode1", "--keep", "1", "--json")
    assert r.exit_code == 0, r
    pruned = _json(r)["pruned"]
    assert len(pruned) == 1 and "_onnode2" in pruned[0], pruned
    left = sorted(p.name for p in folder.iterdir() if not p.name.endswith(".json"))
    assert len(left) == 1 and "_onnode1" in left[0], left


def test_another_database_of_the_same_galera_cluster_is_another_database(galera_urls, cli, tmp_path):
    (node1, _, *_), (other1, other2, *_) = galera_urls(), galera_urls()
    folder = tmp_path / "backups"
    assert cli("--db", other1, "migrate").exit_code == 0
    assert cli("--db", other2, "--backup-dir", folder, "backup").exit_code == 0
    assert cli("--db", node1, "migrate").exit_code == 0
    r = cli("--db", node1, "--backup-dir", folder, "restore", "latest", "--yes")
    assert r.exit_code == 2, r
    assert "no backups of" in r.stderr


def test_a_sqlite_backup_is_known_by_its_path(cli, tmp_path):
    a, b, folder = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "backups"
    for db in (a, b):
        assert cli("--db", db, "migrate").exit_code == 0
    made = _json(cli("--db", a, "--backup-dir", folder, "backup", "--json"))
    assert made["manifest"]["identity"] is None and made["manifest"]["source"] == str(a)
    r = cli("--db", b, "--backup-dir", folder, "restore", "latest", "--yes")
    assert r.exit_code == 2 and "no backups of" in r.stderr
    assert cli("--db", a, "--backup-dir", folder, "restore", "latest", "--yes").exit_code == 0


def test_database_keys_match_by_identity_else_by_address(tmp_path):
    """The one predicate, on manifests as aura-db writes them (and as older versions did)."""
    from aura_db.backup.catalogue import DatabaseKeys, DatabaseRef, list_backups
    from aura_db.backup.manifest import Manifest

    folder = tmp_path / "b"
    folder.mkdir()

    def write(name: str, source: str, identity: str | None, when: str) -> None:
        (folder / name).write_bytes(b"x")
        m = Manifest(engine="postgresql", source=source, created_at=when, schema_head=None, row_counts={},
                     size=1, sha256="0" * 64, compression="none", label=None, file=name, identity=identity)
        d = m.to_dict()
        if identity is None:
            d.pop("identity")  # as an older aura-db wrote it
        (folder / f"{name}.json").write_text(json.dumps(d))

    write("aura_backup_20260101_000000.dump", "postgresql://u@primary:5432/aura", None, "2026-01-01T00:00:00Z")
    write("aura_backup_20260102_000000.dump", "postgresql://u@standby:5433/aura", "sys=1 database=aura",
          "2026-01-02T00:00:00Z")
    write("aura_backup_20260103_000000.dump", "postgresql://u@primary:5432/other", "sys=1 database=other",
          "2026-01-03T00:00:00Z")
    write("aura_backup_20260104_000000.dump", "postgresql://u@elsewhere:5432/aura", "sys=2 database=aura",
          "2026-01-04T00:00:00Z")
    entries = list_backups(folder)
    here = DatabaseRef("postgresql", "postgresql://admin@PRIMARY:5432/aura", "sys=1 database=aura")
    keys = DatabaseKeys(entries, here=here)
    mine = sorted(e.name for e in entries if keys.of(e.manifest) == keys.here(here))
    assert mine == ["aura_backup_20260101_000000.dump", "aura_backup_20260102_000000.dump"]
    # Without an identity for here (a role that may not read pg_control_system), the address decides.
    blind = DatabaseRef("postgresql", "postgresql://admin@primary:5432/aura", None)
    keys = DatabaseKeys(entries, here=blind)
    assert sorted(e.name for e in entries if keys.of(e.manifest) == keys.here(blind)) == [
        "aura_backup_20260101_000000.dump"]
