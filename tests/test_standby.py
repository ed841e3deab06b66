"""A database that cannot take writes: a PostgreSQL hot standby, read-only sessions, a read-only SQLite file.

`status` says which (JSON `read_only`, `role`, `primary`); every command that
writes refuses before doing anything (exit 2, one line naming the primary,
no file in the backup folder); a backup from the standby works, and a
recovery conflict says how to avoid it.  Real servers: the streaming standby
pair (AURA_DB_TEST_PG_STANDBY_URL / _PRIMARY_URL), PostgreSQL and MySQL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from conftest import NOOP_STEPS, NEXT, connect_url, migrations_with, query_one, wait_for_replay


def _json(r) -> dict:
    return json.loads(r.stdout)


def _files(folder: Path) -> list[str]:
    """Everything in the backup folder, hidden temporary files too."""
    return sorted(os.listdir(folder)) if folder.exists() else []


def _primary_address(primary_url: str) -> str:
    parts = urlsplit(primary_url)
    return f"{parts.hostname}:{parts.port}"


@pytest.fixture
def migrated_pair(pg_standby_pair, cli, tmp_path):
    """(primary, standby, backup folder): the app's schema migrated on the primary, one backup of it, replayed."""
    primary, standby = pg_standby_pair()
    folder = tmp_path / "backups"
    assert cli("--db", primary, "migrate").exit_code == 0
    assert cli("--db", primary, "--backup-dir", folder, "backup", "--label", "onprimary").exit_code == 0
    wait_for_replay(primary, standby)
    return primary, standby, folder


# --------------------------------------------------------------------------
# status


def test_status_says_standby_and_read_only_on_the_standby_primary_on_the_primary(migrated_pair, cli):
    primary, standby, _ = migrated_pair
    on_standby = _json(cli("--db", standby, "status", "--json"))
    assert on_standby["read_only"] is True
    assert on_standby["role"] == "standby"
    assert on_standby["primary"] == _primary_address(primary)
    assert on_standby["up_to_date"] is True  # it replayed the migrations: still read-only
    on_primary = _json(cli("--db", primary, "status", "--json"))
    assert on_primary["read_only"] is False
    assert on_primary["role"] == "primary"
    assert on_primary["primary"] is None
    human = cli("--db", standby, "status")
    assert human.exit_code == 0
    assert f"standby (read-only): in recovery, primary at {_primary_address(primary)}" in human.stdout


# --------------------------------------------------------------------------
# every write command refuses before doing anything

WRITES = [
    ("migrate",),
    ("migrate", "--fake"),
    ("rollback", "--yes"),
    ("rollback", "--all", "--yes"),
    ("seed",),
    ("seed", "--reset", "--yes"),
    ("seed", "synthetic", "--projects", "1", "--yes"),
    ("restore", "latest", "--yes"),
    ("adopt", "--yes"),
]


@pytest.mark.parametrize("command", WRITES, ids=[" ".join(c) for c in WRITES])
def test_write_commands_refuse_on_the_standby_naming_the_primary(migrated_pair, cli, tmp_path, command):
    primary, standby, folder = migrated_pair
    migrations = migrations_with(tmp_path / "migrations", **{f"{NEXT:03d}_pending": NOOP_STEPS})
    before = _files(folder)
    r = cli("--db", standby, "--backup-dir", folder, "--migrations", migrations, *command)
    assert r.exit_code == 2, r
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: refusing to ")
    assert f"primary at {_primary_address(primary)}" in lines[0]
    assert "nothing was done" in lines[0]
    assert _files(folder) == before  # no safety backup, no temporary file
    # The primary was not touched either: the pending migration is still pending there.
    assert f"{NEXT:03d}_pending" in _json(cli("--db", primary, "--migrations", migrations,
                                              "status", "--json"))["pending"]


def test_a_refusal_with_json_is_one_document_with_exit_code_2(migrated_pair, cli, tmp_path):
    primary, standby, folder = migrated_pair
    migrations = migrations_with(tmp_path / "migrations", **{f"{NEXT:03d}_pending": NOOP_STEPS})
    r = cli("--db", standby, "--backup-dir", folder, "--migrations", migrations, "migrate", "--json")
    assert r.exit_code == 2
    doc = _json(r)
    assert doc["ok"] is False and doc["exit_code"] == 2
    assert doc["read_only"] is True and doc["role"] == "standby"
    assert doc["primary"] == _primary_address(primary)
    assert "password" not in r.stdout + r.stderr


def test_read_commands_still_work_on_the_standby(migrated_pair, cli):
    _, standby, folder = migrated_pair
    assert cli("--db", standby, "migrate", "--dry-run").exit_code == 0
    assert cli("--db", standby, "verify").exit_code == 0
    assert cli("--db", standby, "inspect").exit_code == 0


def test_default_transaction_read_only_database_is_read_only(server_url, cli, tmp_path):
    url = server_url("postgresql")
    assert cli("--db", url, "migrate").exit_code == 0
    name = urlsplit(url).path.lstrip("/")
    conn = connect_url(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    finally:
        conn.close()
    doc = _json(cli("--db", url, "status", "--json"))
    assert (doc["read_only"], doc["role"]) == (True, "read-only")
    assert "default_transaction_read_only" in doc["role_reason"]
    folder = tmp_path / "backups"
    r = cli("--db", url, "--backup-dir", folder, "seed")
    assert r.exit_code == 2, r
    assert "read-only (sessions are read-only (default_transaction_read_only))" in r.stderr
    assert _files(folder) == []


def test_mysql_read_only_session_is_read_only(server_url, cli, tmp_path):
    url = server_url("mysql")
    assert cli("--db", url, "migrate").exit_code == 0
    assert _json(cli("--db", url, "status", "--json"))["read_only"] is False
    ro = url + "?init_command=" + quote("SET SESSION TRANSACTION READ ONLY")
    doc = _json(cli("--db", ro, "status", "--json"))
    assert (doc["read_only"], doc["role"]) == (True, "read-only")
    folder = tmp_path / "backups"
    r = cli("--db", ro, "--backup-dir", folder, "rollback", "--yes")
    assert r.exit_code == 2, r
    assert "refusing to rollback" in r.stderr
    assert _files(folder) == []


# --------------------------------------------------------------------------
# A read-only SQLite file


def _make_read_only(path: Path) -> None:
    """The file read-only for whoever runs the tests: chmod for a user, the immutable flag for root."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root, and this file system takes no immutable flag (chattr +i)")


def _make_writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    else:
        path.chmod(0o644)


def test_read_only_sqlite_file_says_read_only_and_migrate_refuses_before_any_backup(cli, tmp_path):
    db = tmp_path / "aura.db"
    folder = tmp_path / "backups"
    migrations = migrations_with(tmp_path / "migrations", **{f"{NEXT:03d}_pending": NOOP_STEPS})
    assert cli("--db", db, "--migrations", migrations, "migrate", "--to", "001").exit_code == 0
    assert _json(cli("--db", db, "--migrations", migrations, "status", "--json"))["read_only"] is False
    _make_read_only(db)
    try:
        doc = _json(cli("--db", db, "--migrations", migrations, "status", "--json"))
        assert (doc["read_only"], doc["role"]) == (True, "read-only")
        assert "read-only" in doc["role_reason"]
        r = cli("--db", db, "--migrations", migrations, "--backup-dir", folder, "migrate")
        assert r.exit_code == 2, r
        assert f"refusing to migrate: {db} is read-only" in r.stderr
        assert _files(folder) == []  # a safety backup would have been taken before the change
        r = cli("--db", db, "--backup-dir", folder, "restore", "latest", "--yes")
        assert r.exit_code == 2 and "refusing to restore" in r.stderr
    finally:
        _make_writable(db)
    r = cli("--db", db, "--migrations", migrations, "--backup-dir", folder, "migrate")
    assert r.exit_code == 0, r
    assert any(name.endswith("_pre-migrate.db") for name in _files(folder))


# --------------------------------------------------------------------------
# Backups on the standby


def test_a_backup_taken_on_the_standby_is_the_primarys_latest(migrated_pair, cli):
    primary, standby, folder = migrated_pair
    conn = connect_url(primary)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE marker (v text)")
            cur.execute("INSERT INTO marker VALUES ('taken on the standby')")
    finally:
        conn.close()
    wait_for_replay(primary, standby)
    r = cli("--db", standby, "--backup-dir", folder, "backup", "--label", "onstandby", "--json")
    assert r.exit_code == 0, r
    made = _json(r)
    system = query_one(primary, "SELECT system_identifier::text FROM pg_control_system()")
    name = urlsplit(primary).path.lstrip("/")
    assert made["manifest"]["identity"] == f"postgresql-system={system} database={name}"
    assert made["manifest"]["source"].endswith(f":{urlsplit(standby).port}/{name}")
    # Retention on the standby counted the primary's backup as this database's.
    assert "onprimary" in " ".join(d["file"] for d in made["retention"])
    conn = connect_url(primary)
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE marker")
    finally:
        conn.close()
    r = cli("--db", primary, "--backup-dir", folder, "restore", "latest", "--yes", "--json")
    assert r.exit_code == 0, r
    doc = _json(r)
    assert Path(doc["backup"]).name == made["file"], doc
    assert doc["backup_source"] == made["manifest"]["source"]
    assert not [c for c in doc["caveats"] if "not of" in c], doc
    assert query_one(primary, "SELECT v FROM marker") == "taken on the standby"


def test_retention_on_the_primary_counts_the_standbys_backups(migrated_pair, cli):
    primary, standby, folder = migrated_pair
    assert cli("--db", standby, "--backup-dir", folder, "backup", "--label", "onstandby").exit_code == 0
    r = cli("--db", primary, "--backup-dir", folder, "backup", "--label", "newest", "--keep", "1", "--json")
    assert r.exit_code == 0, r
    left = [n for n in _files(folder) if not n.endswith(".json")]
    assert len(left) == 1 and left[0].endswith("_newest.dump"), left


def test_a_backup_of_another_database_on_the_same_cluster_is_not_latest(pg_standby_pair, cli, tmp_path):
    (primary, standby), (other, _) = pg_standby_pair(), pg_standby_pair()
    folder = tmp_path / "backups"
    assert cli("--db", other, "migrate").exit_code == 0
    assert cli("--db", other, "--backup-dir", folder, "backup").exit_code == 0
    assert cli("--db", primary, "migrate").exit_code == 0
    r = cli("--db", primary, "--backup-dir", folder, "restore", "latest", "--yes")
    assert r.exit_code == 2, r
    assert "no backups of" in r.stderr and "of other databases" in r.stderr


def test_an_old_manifest_without_identity_is_matched_by_its_address(migrated_pair, cli):
    primary, _, folder = migrated_pair
    (manifest,) = folder.glob("*.json")
    data = json.loads(manifest.read_text())
    assert data.pop("identity")
    manifest.write_text(json.dumps(data))  # as an aura-db without identities wrote it
    r = cli("--db", primary, "--backup-dir", folder, "restore", "latest", "--yes", "--json")
    assert r.exit_code == 0, r


# --------------------------------------------------------------------------
# A recovery conflict, provoked for real


def _standby_setting(standby: str, name: str) -> tuple[str, str | None]:
    conn = connect_url(standby)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT setting || coalesce(unit, ''), sourcefile FROM pg_settings WHERE name = %s", (name,))
            return cur.fetchone()
    finally:
        conn.close()


def _set_standby(standby: str, sql: str) -> None:
    conn = connect_url(standby)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            cur.execute("SELECT pg_reload_conf()")
    finally:
        conn.close()


def test_a_recovery_conflict_during_a_standby_backup_names_the_settings(pg_standby_pair, tmp_path):
    from aura_db.backup import create_backup
    from aura_db.db import engine_for
    from aura_db.errors import AuraError

    primary, standby = pg_standby_pair()
    conn = connect_url(primary)
    try:
        with conn.cursor() as cur:
            # Enough rows that pg_dump's output outgrows the pipe while the backup is held up.
            cur.execute("CREATE TABLE filler AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS t "
                        "FROM generate_series(1, 300000) g")
            cur.execute("CREATE TABLE victim AS SELECT g AS id FROM generate_series(1, 10000) g")
    finally:
        conn.close()
    wait_for_replay(primary, standby)
    original, sourcefile = _standby_setting(standby, "max_standby_streaming_delay")
    feedback, _ = _standby_setting(standby, "hot_standby_feedback")
    assert feedback == "off", "the standby keeps hot_standby_feedback off, as by default"
    _set_standby(standby, "ALTER SYSTEM SET max_standby_streaming_delay = '10ms'")
    try:
        fired = threading.Event()

        def on_progress(phase, done, total):
            # pg_dump is in the middle of its snapshot: on the primary, remove
            # rows that snapshot still sees, and vacuum them away.
            if fired.is_set():
                return
            fired.set()
            c = connect_url(primary)
            try:
                with c.cursor() as cur:
                    cur.execute("DELETE FROM victim")
                    cur.execute("VACUUM victim")
            finally:
                c.close()
            time.sleep(3)  # replay meets the vacuum, waits 10 ms, cancels the backup's queries

        with pytest.raises(AuraError) as caught:
            create_backup(engine_for(standby), tmp_path / "backups", on_progress=on_progress)
        assert fired.is_set()
        assert "conflict with recovery" in caught.value.message
        assert "hot_standby_feedback" in caught.value.hint
        assert "max_standby_streaming_delay" in caught.value.hint
        assert not [n for n in _files(tmp_path / "backups") if not n.startswith(".")]
    finally:
        if sourcefile and sourcefile.endswith("postgresql.auto.conf"):
            _set_standby(standby, f"ALTER SYSTEM SET max_standby_streaming_delay = '{original}'")
        else:
            _set_standby(standby, "ALTER SYSTEM RESET max_standby_streaming_delay")
    assert _standby_setting(standby, "max_standby_streaming_delay")[0] == original


def test_the_recovery_conflict_hint_is_for_that_failure_only():
    from aura_db.engines.postgresql.backup import recovery_conflict_hint

    # As pg_dump reported it in the test above (the standby cancelled its COPY).
    real = ("pg_dump failed: pg_dump: detail: Error message from server: ERROR:  canceling statement due to "
            "conflict with recovery; DETAIL:  User query might have needed to see row versions that must be "
            "removed.; pg_dump: detail: Command was: COPY public.filler (id, t) TO stdout;")
    hint = recovery_conflict_hint(real)
    assert hint and "hot_standby_feedback" in hint and "max_standby_streaming_delay" in hint
    assert recovery_conflict_hint("pg_dump failed: connection refused") is None
