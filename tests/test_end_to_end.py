"""One operator's day, on every engine: migrate, seed, verify, backup, damage,
restore, rollback.  The same scenario runs on SQLite, PostgreSQL and MariaDB
(the server ones against the real servers; see conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from aura_db.db import engine_for, parse_url


def _count(url: str, table: str) -> int:
    db = engine_for(parse_url(url)).open()
    try:
        q = f"SELECT count(*) FROM `{table}`" if url.startswith("mysql") else f'SELECT count(*) FROM "{table}"'
        return db.execute_sql(q).fetchone()[0]
    finally:
        db.close()


def _execute(url: str, sql: str) -> None:
    db = engine_for(parse_url(url)).open()
    try:
        if url.startswith("mysql"):
            sql = sql.replace('"', "`")
        db.execute_sql(sql)  # peewee runs it in autocommit mode: committed on return
    finally:
        db.close()


def test_operator_day(cli, any_engine_url, workdir):
    url = any_engine_url
    backups = workdir / "backups"
    base = ["--db", url, "--backup-dir", str(backups)]

    # migrate an empty database to the current schema
    r = cli(*base, "migrate")
    assert r.exit_code == 0, r
    assert cli(*base, "status", "--check").exit_code == 0

    # seed the development data, twice: the second run changes nothing
    r = cli(*base, "seed", "--json")
    assert r.exit_code == 0, r
    projects = _count(url, "ProjectStates")
    assert projects == 6  # the app's three sample projects and three at other stages
    assert cli(*base, "seed").exit_code == 0
    assert _count(url, "ProjectStates") == projects

    # verify after the deploy
    r = cli(*base, "verify", "--json")
    assert r.exit_code == 0, r
    checks = json.loads(r.stdout)
    rows = checks["checks"] if isinstance(checks, dict) else checks
    assert rows and all(c["status"] in ("pass", "warn") for c in rows)

    # back up
    r = cli(*base, "backup", "--label", "before-incident", "--json")
    assert r.exit_code == 0, r
    made = json.loads(r.stdout)
    assert "password" not in r.stdout.lower()
    r = cli(*base, "backup", "list", "--json")
    assert r.exit_code == 0, r
    assert len(json.loads(r.stdout)) >= 1

    # the incident: someone deletes the projects (and, by cascade, their scenes)
    scenes = _count(url, "SceneStates")
    _execute(url, 'DELETE FROM "ProjectStates"')
    assert _count(url, "ProjectStates") == 0

    # a damaged copy of the backup is refused and changes nothing
    backup_file = Path(made.get("path") or made.get("file"))
    if not backup_file.is_absolute():
        backup_file = backups / backup_file
    damaged = backups / backup_file.name.replace("aura_backup_", "aura_backup_29990101_000000_damaged_", 1)
    raw = bytearray(backup_file.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    Path(str(damaged) + ".json").write_text(Path(str(backup_file) + ".json").read_text())
    r = cli(*base, "restore", str(damaged), "--yes")
    assert r.exit_code == 3, r  # damaged: a failed check, refused before any change
    assert "refus" in r.stderr.lower() or "damaged" in r.stderr.lower() or "checksum" in r.stderr.lower()
    assert _count(url, "ProjectStates") == 0  # untouched
    damaged.unlink()
    Path(str(damaged) + ".json").unlink()

    # restore the good backup: everything is back
    r = cli(*base, "restore", str(backup_file), "--yes")
    assert r.exit_code == 0, r
    assert _count(url, "ProjectStates") == projects
    assert _count(url, "SceneStates") == scenes
    r = cli(*base, "verify")
    assert r.exit_code == 0, r

    # and roll the schema all the way back
    r = cli(*base, "rollback", "--all", "--yes")
    assert r.exit_code == 0, r
    assert cli(*base, "status", "--check").exit_code == 3
