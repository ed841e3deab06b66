"""aura-db optimize: the engine's upkeep gives back the space of a large delete, and refuses a SQLite file in use."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from aura_db.fields import utcnow
from test_purge import guid, make, open_db


def fill_expired_logs(url: str, n: int = 3000, size: int = 2000) -> None:
    """``n`` expired ActionLogs with ``size`` characters of payload each: a large delete for purge.

    The payload is random hex, so that no engine compresses it away.
    """
    from aura_db.models import ActionLog

    db = open_db(url)
    past = utcnow() - dt.timedelta(days=1)
    try:
        with db.atomic():
            for i in range(n):
                make(ActionLog, id=guid(), expires_at=past, payload_json='{"pad":"%s"}' % os.urandom(size // 2).hex())
    finally:
        db.close()


def sqlite_bytes(path) -> int:
    return sum(os.path.getsize(str(path) + s) for s in ("", "-wal") if os.path.exists(str(path) + s))


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_optimize_gives_back_the_space_of_a_large_delete_on_sqlite(cli, workdir, journal):
    path = workdir / "aura.db"
    url = f"sqlite:///{path}"
    assert cli("--db", url, "migrate").exit_code == 0
    if journal == "wal":
        con = sqlite3.connect(path)
        con.execute("PRAGMA journal_mode=WAL")
        con.close()
    fill_expired_logs(url)
    r = cli("--db", url, "purge", "--yes", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["deleted_rows"] == 3000, r
    held = sqlite_bytes(path)
    assert held > 6_000_000  # the delete alone gave nothing back

    r = cli("--db", url, "optimize", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["engine"] == "sqlite"
    assert "VACUUM" in doc["steps"] and "ANALYZE" in doc["steps"] and "PRAGMA optimize" in doc["steps"]
    assert ("PRAGMA wal_checkpoint(TRUNCATE)" in doc["steps"]) == (journal == "wal")
    now = sqlite_bytes(path)
    assert doc["bytes_before"] == held and doc["bytes_after"] == now
    assert doc["bytes_reclaimed"] == held - now > 5_000_000
    # The deleted rows' pages were on the freelist, which the report lists beside the tables.
    free = {t["table"]: t for t in doc["tables"]}["(free pages)"]
    assert free["bytes_before"] > 5_000_000 and free["bytes_after"] == 0 and doc["tables"][0] == free
    r = cli("--db", url, "verify")
    assert r.exit_code == 0, r

    r = cli("--db", url, "optimize", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r
    assert "gave back" in r.stdout and all(len(line) <= 80 for line in r.stdout.splitlines())


def test_optimize_uses_incremental_vacuum_where_the_file_is_set_so(cli, workdir):
    path = workdir / "aura.db"
    url = f"sqlite:///{path}"
    assert cli("--db", url, "migrate").exit_code == 0
    con = sqlite3.connect(path)
    con.execute("PRAGMA auto_vacuum=INCREMENTAL")
    con.execute("VACUUM")  # the mode takes effect on an existing file only after one
    con.close()
    fill_expired_logs(url, n=1500)
    assert cli("--db", url, "purge", "--yes").exit_code == 0
    held = sqlite_bytes(path)
    doc = json.loads(cli("--db", url, "optimize", "--json").stdout)
    assert "PRAGMA incremental_vacuum" in doc["steps"] and "VACUUM" not in doc["steps"]
    assert doc["bytes_reclaimed"] == held - sqlite_bytes(path) > 2_000_000


HOLDER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1])
con.execute("SELECT count(*) FROM sqlite_master").fetchone()
print("open", flush=True)
time.sleep(60)
"""


def test_optimize_refuses_while_another_process_holds_the_sqlite_database(cli, workdir):
    path = workdir / "aura.db"
    url = f"sqlite:///{path}"
    assert cli("--db", url, "migrate").exit_code == 0
    fill_expired_logs(url, n=300)
    assert cli("--db", url, "purge", "--yes").exit_code == 0
    size = path.stat().st_size
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        r = cli("--db", url, "optimize", "--json")
        assert r.exit_code == 1, r
        doc = json.loads(r.stdout)
        assert doc["ok"] is False and f"in use by process {holder.pid}" in doc["error"]
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) <= 2
        assert path.stat().st_size == size  # nothing ran
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    r = cli("--db", url, "optimize")
    assert r.exit_code == 0, r
    assert path.stat().st_size < size


def test_optimize_on_every_engine(cli, any_engine_url, workdir):
    url = any_engine_url
    assert cli("--db", url, "migrate").exit_code == 0
    assert cli("--db", url, "seed", "dev").exit_code == 0
    fill_expired_logs(url, n=1500)
    assert cli("--db", url, "purge", "--yes").exit_code == 0
    r = cli("--db", url, "optimize", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["steps"] and doc["measured"]
    tables = {t["table"].lower(): t for t in doc["tables"]}
    assert "actionlogs" in tables and "projectstates" in tables
    assert doc["bytes_reclaimed"] == doc["bytes_before"] - doc["bytes_after"]
    # The emptied table gives its pages back on every engine (PostgreSQL's VACUUM truncates a table's
    # empty end; InnoDB's OPTIMIZE rebuilds it; SQLite's VACUUM rewrites the file).
    gained = tables["(free pages)" if "(free pages)" in tables else "actionlogs"]["bytes_reclaimed"]
    assert gained > 1_000_000, doc["tables"][:3]
    r = cli("--db", url, "verify")
    assert r.exit_code == 0, r


def test_optimize_refuses_a_database_aura_db_does_not_manage(cli, workdir):
    path = workdir / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    r = cli("--db", str(path), "optimize", "--json")
    assert r.exit_code == 3, r
    assert "aura-db adopt" in json.loads(r.stdout)["error"]
