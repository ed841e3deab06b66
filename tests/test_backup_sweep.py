"""A bad-input sweep over the backup folder, as a tired operator meets it (issue 13).

Each case leaves one backup in a bad state: tampered, truncated, a forged
manifest vouching for damage, a FIFO / a device / a huge file where the
manifest should be, the wrong engine, another database's backup.  Every
command that reads the folder runs in a real process with a time limit (a
hang fails), and must answer with the documented exit code, at most one
``error:`` line, and the live database byte for byte as it was.
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
from tests.test_backup import add_notes, damage_page_of, flip_byte


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(workdir: Path, *args: str):
    return run_subprocess(*args, cwd=workdir, timeout=60)  # a hang is a failure, not a wait


@pytest.fixture
def folder(workdir: Path) -> dict:
    """A migrated live database with rows, and one good backup of it."""
    assert _run(workdir, "migrate").returncode == 0
    add_notes(workdir / "aura.db", 30, "live")
    r = _run(workdir, "backup", "--json")
    assert r.returncode == 0, r.stderr
    good = Path(json.loads(r.stdout)["path"])
    add_notes(workdir / "aura.db", 5, "newer")  # the live database moved on since
    return {"good": good, "backups": good.parent}


def _rewrite_manifest(path: Path, **changes) -> None:
    mpath = Path(f"{path}.json")
    m = json.loads(mpath.read_text())
    m.update(changes)
    mpath.write_text(json.dumps(m))


def _tampered(f: dict) -> Path:
    flip_byte(f["good"])
    return f["good"]


def _truncated(f: dict) -> Path:
    with open(f["good"], "r+b") as fh:
        fh.truncate(f["good"].stat().st_size // 2)
    return f["good"]


def _forged(f: dict) -> Path:
    """Damage inside the database, and a manifest recomputed to vouch for it."""
    damage_page_of(f["good"], "IX_ActionLogs_UserId" if _has_index(f["good"], "IX_ActionLogs_UserId")
                   else _any_index(f["good"]))
    _rewrite_manifest(f["good"], sha256=_digest(f["good"]), size=f["good"].stat().st_size)
    return f["good"]


def _has_index(db: Path, name: str) -> bool:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT 1 FROM sqlite_master WHERE type='index' AND name=?", (name,)).fetchone() is not None
    finally:
        con.close()


def _any_index(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
                           "ORDER BY name LIMIT 1").fetchone()[0]
    finally:
        con.close()


def _manifest_replaced(kind: str):
    def make(f: dict) -> Path:
        bad = f["backups"] / "aura_backup_20200101_000000.db"
        shutil.copy(f["good"], bad)
        m = bad.with_name(bad.name + ".json")
        if kind == "fifo":
            os.mkfifo(m)
        elif kind == "symlink":  # to a device that never ends
            m.symlink_to("/dev/zero")
        else:  # a 400 MB sparse file
            with open(m, "wb") as fh:
                fh.truncate(400 * 1024 * 1024)
        return bad
    return make


def _wrong_engine(f: dict) -> Path:
    _rewrite_manifest(f["good"], engine="postgresql")
    return f["good"]


CASES = {
    "tampered": _tampered,
    "truncated": _truncated,
    "forged-manifest": _forged,
    "fifo-manifest": _manifest_replaced("fifo"),
    "symlink-manifest": _manifest_replaced("symlink"),
    "huge-manifest": _manifest_replaced("huge"),
    "wrong-engine": _wrong_engine,
}


def _one_error(stderr: str) -> None:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr, stderr


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_backup_is_refused_in_one_line_and_nothing_changes(workdir, folder, case):
    bad = CASES[case](folder)
    live = workdir / "aura.db"
    before, listed_before = _digest(live), sorted(os.listdir(folder["backups"]))

    r = _run(workdir, "restore", str(bad), "--yes")
    assert r.returncode == 3, (case, r.stderr)
    _one_error(r.stderr)
    assert _digest(live) == before  # nothing lost
    assert sorted(os.listdir(folder["backups"])) == listed_before  # no safety backup for a refusal

    r = _run(workdir, "backup", "verify", str(bad))
    assert r.returncode == 3, (case, r.stderr)
    _one_error(r.stderr)

    # The listing commands answer (no hang), name the bad one, and change nothing.
    r = _run(workdir, "backup", "list")
    assert r.returncode == 0, (case, r.stderr)
    assert bad.name in r.stdout
    r = _run(workdir, "backup", "verify", "--all")
    assert r.returncode == 3, (case, r.stderr)
    _one_error(r.stderr)
    r = _run(workdir, "backup", "prune", "--keep", "1", "--yes")
    assert r.returncode == 0, (case, r.stderr)
    assert _digest(live) == before


@pytest.mark.parametrize("case", list(CASES))
def test_restore_latest_passes_over_a_bad_backup(workdir, folder, case):
    """`latest` is the newest backup of this database that passes its checks: never the bad one."""
    # One good, older backup first: the fixture's backup is the one the case damages.
    older = folder["backups"] / "aura_backup_20000101_000000.db"
    shutil.copy(folder["good"], older)
    shutil.copy(Path(f"{folder['good']}.json"), Path(f"{older}.json"))
    m = json.loads(Path(f"{older}.json").read_text())
    m["created_at"] = "2000-01-01T00:00:00+00:00"
    Path(f"{older}.json").write_text(json.dumps(m))
    bad = CASES[case](folder)
    # The bad one is either the fixture's newest backup (damaged in place) or a new file beside it.
    expected = older if bad == folder["good"] else folder["good"]

    r = _run(workdir, "restore", "latest", "--yes", "--json")
    assert r.returncode == 0, (case, r.stderr)
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and Path(doc["backup"]).name == expected.name, (case, doc["backup"])


def test_another_databases_backup_is_named_before_the_question(workdir, folder):
    other = workdir / "other.db"
    assert _run(workdir, "--db", str(other), "migrate").returncode == 0
    r = _run(workdir, "--db", str(other), "backup", "--json")
    assert r.returncode == 0, r.stderr
    theirs = json.loads(r.stdout)["path"]
    live = workdir / "aura.db"
    before = _digest(live)

    r = _run(workdir, "restore", theirs)  # no terminal, no --yes: refused after the plan
    assert r.returncode == 6, r.stderr
    assert "not of" in r.stderr and "other.db" in r.stderr
    _one_error(r.stderr)
    assert _digest(live) == before
