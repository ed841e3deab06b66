"""Side files are sacred: no command removes or rewrites the -wal/-journal beside a SQLite file it cannot read.

SQLite deletes the -wal beside a file it cannot read when a read-write
connection to it closes; the commits that live only there go with it.  Each
command here runs in a real process against a database whose newest commits
are only in its -wal (or whose unfinished write is only in its -journal) and
whose header is damaged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_subprocess


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_damaged(folder: Path, kind: str, name: str = "aura.db") -> tuple[Path, Path]:
    """``name`` in ``folder`` with its newest data only in a side file, and a damaged header.

    The files are copied while the writer still holds them, as a backup
    tool or a crash would leave them.
    """
    src = folder / ".writer.db"
    con = sqlite3.connect(src, isolation_level=None)
    try:
        if kind == "wal":
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA wal_autocheckpoint=0")
            con.execute("CREATE TABLE Notes (Id INTEGER PRIMARY KEY, Body TEXT)")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            for i in range(20):  # 20 commits, only in the -wal
                con.execute("INSERT INTO Notes (Body) VALUES (?)", (f"commit {i}",))
            shutil.copy(src, folder / name)
            shutil.copy(f"{src}-wal", folder / f"{name}-wal")
            side = folder / f"{name}-wal"
        else:
            con.execute("CREATE TABLE Notes (Id INTEGER PRIMARY KEY, Body TEXT)")
            con.execute("PRAGMA cache_size=1")
            con.execute("BEGIN")
            for i in range(2000):  # spills to the file: a hot journal
                con.execute("INSERT INTO Notes (Body) VALUES (?)", (os.urandom(64).hex(),))
            shutil.copy(src, folder / name)
            shutil.copy(f"{src}-journal", folder / f"{name}-journal")
            side = folder / f"{name}-journal"
            con.execute("ROLLBACK")
    finally:
        con.close()
    for p in folder.glob(".writer.db*"):
        p.unlink()
    db = folder / name
    with open(db, "r+b") as f:
        f.write(b"\0" * 16)
    assert side.stat().st_size > 0
    return db, side


COMMANDS = {
    "status": ["status"],
    "status --json": ["status", "--json"],
    "verify": ["verify"],
    "inspect": ["inspect"],
    "backup": ["backup"],
    "migrate": ["migrate"],
    "seed": ["seed"],
    "rollback": ["rollback", "--yes"],
}


@pytest.mark.parametrize("kind", ["wal", "journal"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_command_leaves_the_side_file_of_a_damaged_database_alone(tmp_path, kind, command):
    db, side = make_damaged(tmp_path, kind)
    before = {p.name: _digest(p) for p in (db, side)}
    r = run_subprocess("--db", str(db), *COMMANDS[command], cwd=tmp_path)
    assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
    assert {p.name: _digest(p) for p in (db, side) if p.exists()} == before
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    # The error says which file holds what, and that nothing changed.
    assert side.name in r.stderr and "nothing was changed" in r.stderr
    # No SQLite connection at all: not even a -shm appeared.
    assert not Path(f"{db}-shm").exists()


@pytest.mark.parametrize("kind", ["wal", "journal"])
def test_restore_over_a_damaged_database_with_side_data_refuses_and_leaves_both_files(tmp_path, kind):
    r = run_subprocess("migrate", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_subprocess("backup", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    made = Path(json.loads(r.stdout)["path"])
    (tmp_path / "aura.db").unlink()
    db, side = make_damaged(tmp_path, kind)
    before = {p.name: _digest(p) for p in (db, side)}
    r = run_subprocess("restore", made.name, "--yes", cwd=tmp_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "nothing changed" in r.stderr and side.name in r.stderr
    assert {p.name: _digest(p) for p in (db, side) if p.exists()} == before
    assert not Path(f"{db}-shm").exists()
    # No safety backup was taken of a restore that did not happen.
    assert sorted(p.name for p in (tmp_path / "backups").iterdir() if not p.name.endswith(".json")) == [made.name]
