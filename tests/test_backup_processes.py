"""Real processes: a writer during a backup, SIGKILL during a backup and during a restore."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for k in ("AURA_DB_URL", "DATABASE_URL", "AURA_DB_BACKUP_DIR"):
        env.pop(k, None)
    return env


def aura(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aura_db", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def spawn(cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "aura_db", *args], cwd=cwd, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def make_db(path: Path, megabytes: int, marker: str) -> None:
    """A database of about ``megabytes`` MB whose Marker table says which one it is."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE Marker (Name TEXT)")
    con.execute("INSERT INTO Marker VALUES (?)", (marker,))
    con.execute("CREATE TABLE Blobs (Id INTEGER PRIMARY KEY, Body BLOB)")
    con.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        "INSERT INTO Blobs (Body) SELECT randomblob(1000) FROM n", (megabytes * 1000,))
    con.commit()
    con.close()


def marker(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return con.execute("SELECT Name FROM Marker").fetchone()[0]
    finally:
        con.close()


WRITER = textwrap.dedent('''
    import sqlite3, sys, time
    con = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
    con.execute("PRAGMA synchronous=OFF")  # commit every 2 ms, not at the pace of fsync
    n = 0
    deadline = time.time() + float(sys.argv[2])
    print("writing", flush=True)
    while time.time() < deadline:
        con.execute("INSERT INTO Blobs (Body) VALUES (randomblob(200))")
        n += 1
        time.sleep(0.002)
    print(n, flush=True)
''')


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
def test_backups_taken_while_another_process_writes_are_consistent(tmp_path, wal):
    db = tmp_path / "aura.db"
    make_db(db, 5, "live")
    if wal:
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode=WAL")
        con.close()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), "1.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
        made = []
        for compression in ("none", "zstd", "none"):
            r = aura(tmp_path, "--db", str(db), "backup", "--compress", compression, "--keep", "50", "--json")
            assert r.returncode == 0, r.stderr
            made.append(json.loads(r.stdout))
    finally:
        inserted = int(writer.communicate(timeout=30)[0].strip() or 0)
    assert writer.returncode == 0
    assert inserted > 50  # the writer really ran alongside
    counts = []
    for doc in made:
        r = aura(tmp_path, "--db", str(db), "backup", "verify", doc["path"], "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        counts.append(doc["manifest"]["row_counts"]["Blobs"])
    assert counts == sorted(counts) and counts[0] >= 5000
    # The last backup restores to a database that passes integrity_check.
    r = aura(tmp_path, "--db", str(tmp_path / "copy.db"), "restore", made[-1]["path"], "--yes")
    assert r.returncode == 0, r.stderr
    assert marker(tmp_path / "copy.db") == "live"


def test_sigkill_during_backup_leaves_nothing_listed_or_restorable(tmp_path):
    db = tmp_path / "aura.db"
    make_db(db, 40, "live")
    folder = tmp_path / "backups"
    killed = 0
    for delay in (0.25, 0.4, 0.55, 0.7, 0.9):
        p = spawn(tmp_path, "--db", str(db), "backup", "--compress", "gzip", "--keep", "50")
        time.sleep(delay)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait()
    assert killed >= 3  # most runs were killed mid-way
    assert folder.is_dir() and any(p.name.startswith(".") for p in folder.iterdir())  # torn leftovers exist
    r = aura(tmp_path, "--db", str(db), "backup", "list", "--json")
    listed = json.loads(r.stdout)
    for entry in listed:  # whatever is listed is whole
        assert aura(tmp_path, "--db", str(db), "backup", "verify", entry["file"]).returncode == 0
    for p in folder.iterdir():  # nothing hidden can be named to restore
        if p.name.startswith("."):
            r = aura(tmp_path, "--db", str(tmp_path / "other.db"), "restore", str(p), "--yes")
            assert r.returncode == 3, r.stderr
            assert "refusing" in r.stderr
    # The next run tidies the leftovers of the killed ones.
    r = aura(tmp_path, "--db", str(db), "backup", "--keep", "50")
    assert r.returncode == 0, r.stderr
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_sigkill_during_restore_leaves_the_old_or_the_new_database(tmp_path):
    db = tmp_path / "aura.db"
    make_db(db, 30, "new")
    r = aura(tmp_path, "--db", str(db), "backup", "--compress", "zstd", "--json")
    assert r.returncode == 0, r.stderr
    backup = json.loads(r.stdout)["path"]
    template = tmp_path / "old.template"
    make_db(template, 30, "old")
    seen = set()
    for delay in (0.1, 0.25, 0.35, 0.5, 0.8):
        shutil.copyfile(template, db)
        p = spawn(tmp_path, "--db", str(db), "restore", backup, "--yes", "--no-safety-backup")
        time.sleep(delay)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait()
        for side in ("-journal", "-wal"):
            assert not Path(f"{db}{side}").exists()
        seen.add(marker(db))  # integrity_check ok, and one or the other
    assert seen <= {"old", "new"}
    assert "old" in seen  # at least one kill landed before the swap
    # Staged copies of killed runs are tidied by the next restore.
    r = aura(tmp_path, "--db", str(db), "restore", backup, "--yes", "--no-safety-backup")
    assert r.returncode == 0, r.stderr
    assert marker(db) == "new"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aura_stage")] == []


def test_stepwise_backup_of_a_busy_wal_database_falls_back_to_one_step_and_finishes(tmp_path, monkeypatch):
    # A writer committing every 2 ms restarts a stepwise backup on every step;
    # without the fallback this backup would never end.
    from aura_db import backup as core
    from aura_db.engines.sqlite import backup as backup_engines
    from aura_db.db import engine_for, parse_url

    db = tmp_path / "aura.db"
    make_db(db, 8, "live")
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    monkeypatch.setattr(backup_engines, "BACKUP_STEP_PAGES", 1)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), "60"], stdout=subprocess.PIPE, text=True)
    seen: list[int] = []
    try:
        assert writer.stdout.readline().strip() == "writing"
        time.sleep(0.2)
        result = core.create_backup(engine_for(parse_url(str(db))), tmp_path / "backups", keep=None,
                                    on_progress=lambda phase, done, total: phase == "backup" and seen.append(done))
        # It finished while the writer was still writing: the fallback ended it, not the writer.
        assert writer.poll() is None
    finally:
        writer.kill()
        writer.wait()
    restarts = sum(1 for a, b in zip(seen, seen[1:]) if b < a)
    # The writer really did restart the stepwise copy, and after the allowed
    # number of restarts the single step took over.
    assert 1 <= restarts <= backup_engines.MAX_RESTARTS
    assert core.verify_backup(result.path).ok


def test_backups_started_together_each_keep_their_own_file(tmp_path):
    make_db(tmp_path / "aura.db", 1, "together")
    made: list[str] = []
    for _ in range(3):
        procs = [subprocess.Popen([sys.executable, "-m", "aura_db", "backup", "--keep", "100", "--json"],
                                  cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, text=True) for _ in range(4)]
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            made.append(json.loads(out)["file"])
    files = sorted(p.name for p in (tmp_path / "backups").iterdir() if not p.name.endswith(".json"))
    assert len(set(made)) == len(made) == 12
    assert files == sorted(made)
    assert aura(tmp_path, "backup", "verify", "--all").returncode == 0


def test_a_wal_backup_that_cannot_write_its_snapshot_fails_in_one_line_and_leaves_nothing(tmp_path):
    make_db(tmp_path / "aura.db", 3, "wal")
    con = sqlite3.connect(tmp_path / "aura.db")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    # A file size limit makes the snapshot's writes fail, as a full disk does.
    code = ("import resource, signal, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, resource.RLIM_INFINITY))\n"
            "sys.argv = ['aura-db', 'backup']\n"
            "from aura_db.cli.app import main\n"
            "main()\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: cannot write the backup in {tmp_path / 'backups'}: "), lines
    assert lines[1].startswith("hint: check free space")
    assert list((tmp_path / "backups").iterdir()) == []
